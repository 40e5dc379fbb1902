"""What the sandbox refuses before doing anything, as HubSpot does: a call whose OAuth scope the
token was not granted (403 `MISSING_SCOPES`), and a request its OpenAPI document refuses (400
`VALIDATION_ERROR`, or 404 for an operation HubSpot does not have)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from flask import Request

from integrations.hubspot.sandbox.store import SandboxError
from integrations.openapi_check import OpenAPICheck, Problem, published_spec_path

DOCUMENTS = ("contacts", "communications", "properties", "associations")
SCOPES_URL = "https://developers.hubspot.com/scopes"
_MISSING = re.compile(r"^'([^']+)' is a required property$")


@functools.cache
def hubspot_check() -> OpenAPICheck:
    """The operations Parlons calls, as `integrations/openapi_specs/hubspot/` documents them."""
    return OpenAPICheck.from_files(*(published_spec_path(f"hubspot/{name}.json") for name in DOCUMENTS))


def missing_scopes(method: str, path: str, granted: Iterable[str]) -> SandboxError | None:
    """HubSpot's 403 when none of the operation's scope alternatives is fully granted."""
    requirements = hubspot_check().security(method, path)
    have = set(granted)
    if not requirements or any(needed <= have for needed in requirements):
        return None
    wanted = sorted({scope for needed in requirements for scope in needed})
    return SandboxError(
        403, "This app hasn't been granted all required scopes to make this call. "
             f"Read more about required scopes here: {SCOPES_URL}.", "MISSING_SCOPES",
        errors=[{"message": "One or more of the following scopes are required.",
                 "context": {"requiredGranularScopes": wanted}}],
        links={"scopes": SCOPES_URL})


def scopes_used(method: str, path: str, granted: Iterable[str]) -> set[str]:
    """The granted scopes that allowed this call (what an app actually needs)."""
    have = set(granted)
    requirements = hubspot_check().security(method, path) or []
    return next((needed for needed in requirements if needed <= have), set())


def invalid_request(request: Request) -> SandboxError | None:
    """HubSpot's answer to a request its published document refuses, naming each field."""
    problems = hubspot_check().problems_in(request)
    if not problems:
        return None
    if any(problem.where == "operation" for problem in problems):
        return SandboxError(404, f"No operation {request.method} {request.path}", "OBJECT_NOT_FOUND")
    details = "; ".join(str(problem) for problem in problems)
    return SandboxError(400, f"Invalid input JSON: {details}", "VALIDATION_ERROR",
                        errors=[{"message": problem.message, "in": _field(problem)} for problem in problems])


def _field(problem: Problem) -> str:
    """The field a problem is about: a missing property names itself (`inputs.0.id`)."""
    missing = _MISSING.match(problem.message)
    parts = [problem.field, missing.group(1) if missing else ""]
    return ".".join(part for part in parts if part) or problem.where
