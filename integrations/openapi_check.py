"""Checking an HTTP request against a service's published OpenAPI document.

A sandbox calls `OpenAPICheck.problems_in(flask.request)` from its `before_request` (see
`refuse_unless_documented`) and answers the problems in its service's own error shape; a test calls
`problems(method, path, ...)` directly. openapi-core (a maintained implementation of OpenAPI 3.0,
3.1 and 3.2) does the checking: the path and method must be documented, the path, query and
header parameters must be present when required and of their type, and a JSON or form body must
match its schema (required properties, types, enums, formats, and `additionalProperties: false`
where the document says so: never stricter than the document).

The request's host is ignored: it is checked against the document's first server, so a sandbox on
127.0.0.1 is judged as the real host would judge it. Credentials are left to the sandboxes: each
service answers a bad one in its own way before looking at the request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import request as current_request
from jsonschema_path import SchemaPath
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.validation.request import validators
from werkzeug.datastructures import Headers, ImmutableMultiDict

PUBLISHED = Path(__file__).with_name("openapi_specs")

_VALIDATORS = {
    "3.0": (validators.V30RequestParametersValidator, validators.V30RequestBodyValidator),
    "3.1": (validators.V31RequestParametersValidator, validators.V31RequestBodyValidator),
}


def published_spec_path(name: str) -> Path:
    """A kept document by its name under `openapi_specs/` (`"twilio/twilio_api_v2010.json"`)."""
    path = PUBLISHED / name
    if not path.is_file():
        raise FileNotFoundError(f"no published OpenAPI document {name!r} under {PUBLISHED.name}/")
    return path


@dataclass(frozen=True)
class Problem:
    """One thing the document refuses: where (`path`, `query`, `header`, `body`, `operation`),
    which field when it names one (`To`, `inputs.0.id`), and why."""

    where: str
    message: str
    field: str = ""

    def __str__(self) -> str:
        return f"{self.where}{' ' + self.field if self.field else ''}: {self.message}"


@dataclass
class _Request:
    """What openapi-core reads of a request (its `Request` protocol)."""

    host_url: str
    path: str
    method: str
    parameters: RequestParameters
    content_type: str
    body: bytes | None

    @property
    def full_url_pattern(self) -> str:
        return self.host_url + self.path


def _problems_of(error: Exception) -> list[Problem]:
    if isinstance(error, PathError):
        return [Problem("operation", str(error))]
    name = type(error).__name__
    where = "body" if "Body" in name else str(getattr(error, "location", "") or "parameter")
    field = str(getattr(error, "name", "") or "")
    cause = error.__cause__
    schema_errors = getattr(cause, "schema_errors", None) or ()
    if schema_errors:
        found = []
        for item in schema_errors:
            inner = ".".join(str(step) for step in item.absolute_path)
            found.append(Problem(where, item.message, ".".join(part for part in (field, inner) if part)))
        return found
    return [Problem(where, str(cause) if cause is not None else str(error), field)]


class OpenAPICheck:
    """Requests checked against one or more OpenAPI documents of one service."""

    def __init__(self, documents: Iterable[Mapping[str, Any]]) -> None:
        self._checks = []
        self._operations: list[tuple[re.Pattern, int, Mapping[str, Any]]] = []
        for document in documents:
            version = ".".join(str(document.get("openapi", "")).split(".")[:2])
            if version not in _VALIDATORS:
                raise ValueError(f"openapi {document.get('openapi')!r} is not OpenAPI 3.0 or 3.1")
            spec = SchemaPath.from_dict(dict(document))
            servers = document.get("servers") or [{"url": "http://localhost"}]
            base = urlsplit(servers[0]["url"])
            host = f"{base.scheme}://{base.netloc}"
            parameters_cls, body_cls = _VALIDATORS[version]
            self._checks.append((host, base.path.rstrip("/"), parameters_cls(spec), body_cls(spec)))
            for template, item in (document.get("paths") or {}).items():
                pattern = re.escape(base.path.rstrip("/") + template)
                pattern, templated = re.subn(r"\\{[^}/]+\\}", "[^/]+", pattern)
                self._operations.append((re.compile(pattern), templated, item))

    @classmethod
    def from_files(cls, *paths: str | Path) -> OpenAPICheck:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")) for path in paths)

    def problems(self, method: str, path: str, *, query: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
                 headers: Mapping[str, str] | None = None, body: bytes | str | None = None,
                 json_body: Any = None, form: Mapping[str, Any] | None = None) -> list[Problem]:
        """What the service's documents refuse in this request; empty when it is as documented.

        `path` is relative to the document's server (`/2010-04-01/Accounts/AC.../Messages.json`);
        give the body as raw bytes (with its `Content-Type` header), or as `json_body` or `form`.
        """
        head = Headers(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            head.setdefault("Content-Type", "application/json")
        elif form is not None:
            body = urlencode(form, doseq=True).encode()
            head.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if isinstance(body, str):
            body = body.encode()
        pairs = list(query.items()) if isinstance(query, Mapping) else list(query)
        found: list[Problem] = []
        for host, prefix, parameters_check, body_check in self._checks:
            request = _Request(
                host_url=host, path=prefix + path, method=method.lower(),
                parameters=RequestParameters(query=ImmutableMultiDict(pairs), header=head,
                                             cookie=ImmutableMultiDict()),
                content_type=(head.get("Content-Type") or "").lower(), body=body or None)
            errors = list(parameters_check.iter_errors(request))
            if errors and all(isinstance(error, PathError) for error in errors):
                found = found or [problem for error in errors for problem in _problems_of(error)]
                continue  # documented, if at all, by another document
            errors += [error for error in body_check.iter_errors(request) if not isinstance(error, PathError)]
            return [problem for error in errors for problem in _problems_of(error)]
        return found

    def documents(self, method: str, path: str) -> bool:
        """Whether one of the documents has this operation (sandbox-only routes have none)."""
        problems = self.problems(method, path)
        return not any(problem.where == "operation" for problem in problems)

    def security(self, method: str, path: str) -> list[set[str]] | None:
        """The operation's OAuth security requirements, alternatives any one of which suffices
        (`[{"crm.objects.contacts.read"}]`); None when no document has the operation. Among
        templates matching the path, the most literal one wins (`/groups` before `/{name}`)."""
        found = [(templated, item) for pattern, templated, item in self._operations if pattern.fullmatch(path)]
        for _templated, item in sorted(found, key=lambda pair: pair[0]):
            operation = item.get(method.lower())
            if operation is not None:
                return [{scope for scopes in requirement.values() for scope in scopes}
                        for requirement in operation.get("security") or []]
        return None

    def problems_in(self, request: Any, *, prefix: str = "") -> list[Problem]:
        """The problems of a Flask/Werkzeug request; `prefix` is stripped from its path first."""
        path = request.path[len(prefix):] if prefix and request.path.startswith(prefix) else request.path
        return self.problems(request.method, path, query=list(request.args.items(multi=True)),
                             headers=dict(request.headers), body=request.get_data(cache=True))


def refuse_unless_documented(check: OpenAPICheck, refuse: Callable[[list[Problem]], Any], *,
                             skip: Callable[[str], bool] = lambda path: False,
                             prefix: str = "") -> Callable[[], Any]:
    """A Flask `before_request` hook: requests the documents refuse are answered by `refuse`
    (in the service's error shape); paths for which `skip` is true (a sandbox's own control
    routes) are not checked."""
    def before_request() -> Any:
        if skip(current_request.path):
            return None
        problems = check.problems_in(current_request, prefix=prefix)
        return refuse(problems) if problems else None

    return before_request
