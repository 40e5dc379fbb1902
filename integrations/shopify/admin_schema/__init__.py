"""Shopify's published Admin GraphQL schema: validate a document, know the access it needs, and
answer it the way Shopify would.

The schemas are Shopify's own introspection results with the access scope of each type and field
(`requiredAccess`), as its npm package `@shopify/dev-mcp` publishes them; `published/README.md`
says which versions are kept and how they were taken. `AdminSchema.check` validates a document
and its variables (errors worded as Shopify words them), lists the access each selection needs and
the deprecated fields, arguments and values it uses. `AdminSchema.answer` executes a valid document
over plain data (a dict per object, keyed by field name, `__typename` on abstract types) for a token
holding some scopes: a field the token may not read is null with Shopify's `ACCESS_DENIED` error,
and the null travels up through non-null fields as GraphQL says (`data: null` at worst).
"""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    OperationDefinitionNode,
    build_client_schema,
    execute,
    get_named_type,
    get_operation_ast,
    is_abstract_type,
    parse,
)

from integrations.shopify.admin_schema.access import (
    DOCUMENTATION,
    AccessIndex,
    Requirement,
    parse_scope_list,
    widen,
)
from integrations.shopify.admin_schema.usage import Deprecation, FieldAccess, document_usage
from integrations.shopify.admin_schema.validation import validation_errors, variable_errors

PUBLISHED = Path(__file__).with_name("published")

__all__ = ["AdminSchema", "Check", "Deprecation", "FieldAccess", "Requirement", "load_admin_schema",
           "published_schema_path", "published_versions"]


def published_versions() -> list[str]:
    return sorted(p.name[len("admin_"):-len(".json.gz")] for p in PUBLISHED.glob("admin_*.json.gz"))


def published_schema_path(version: str) -> Path:
    """The file of Shopify's published schema for an API version (`2026-01`)."""
    path = PUBLISHED / f"admin_{version}.json.gz"
    if not path.is_file():
        raise FileNotFoundError(f"no published Admin API schema for {version!r}; kept: {published_versions()}")
    return path


@functools.lru_cache(maxsize=8)
def load_admin_schema(path: str | Path) -> AdminSchema:
    """Read an introspection result (`.json`, or `.json.gz`) as Shopify publishes it."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    body = json.loads(raw)
    return AdminSchema(body.get("data", body), source=str(path))


@dataclass
class Check:
    """What Shopify would say of a document before running it, and what the document uses."""

    document: DocumentNode | None
    operation: OperationDefinitionNode | None
    errors: list[dict] = field(default_factory=list)
    accesses: list[FieldAccess] = field(default_factory=list)
    deprecations: list[Deprecation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def denied(self, granted: Iterable[str] | str) -> list[FieldAccess]:
        """The selections a token holding `granted` may not read."""
        have = widen(parse_scope_list(granted))
        return [access for access in self.accesses if not access.requirement.satisfied_by(have)]

    def scope_clauses(self) -> set[frozenset[str]]:
        """Each set holds the scopes of which one is needed (all sets must be met)."""
        return {clause for access in self.accesses for clause in access.requirement.clauses}

    def conditions(self) -> set[str]:
        """What Shopify requires beyond scopes (staff permissions, plans, kinds of token)."""
        return {text for access in self.accesses for text in access.requirement.conditions}


class AdminSchema:
    def __init__(self, introspection: dict, *, source: str = "") -> None:
        self.source = source
        self.schema: GraphQLSchema = build_client_schema(introspection, assume_valid=True)
        self.access = AccessIndex(introspection)
        self._mutation_root = self.schema.mutation_type.name if self.schema.mutation_type else None

    @classmethod
    def published(cls, version: str) -> AdminSchema:
        return load_admin_schema(published_schema_path(version))

    def __repr__(self) -> str:
        return f"AdminSchema({self.source!r})"

    def check(self, query: str, variables: dict | None = None, operation_name: str | None = None) -> Check:
        try:
            document = parse(query)
        except GraphQLError as error:
            return Check(None, None, errors=[error.formatted])
        errors = validation_errors(self.schema, document)
        if errors:
            return Check(document, None, errors=errors)
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            message = (f'No operation named "{operation_name}"' if operation_name
                       else "An operation name is required")
            return Check(document, None, errors=[{"message": message}])
        accesses, deprecations = document_usage(self.schema, document, self.access)
        return Check(document, operation, variable_errors(self.schema, operation, variables),
                     accesses, deprecations)

    def answer(self, query: str, variables: dict | None, root: dict[str, Any],
               granted: Iterable[str] | str, operation_name: str | None = None) -> dict:
        """The body Shopify would answer: `root` holds the data of each root field the document
        selects (whole objects; the selection, aliases and access are applied here)."""
        check = self.check(query, variables, operation_name)
        if not check.ok:
            return {"errors": check.errors}
        guard = _AccessGuard(self.access, widen(parse_scope_list(granted)))
        result = execute(self.schema, check.document, root_value=root, variable_values=variables or {},
                         operation_name=operation_name, middleware=[guard])
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [error.formatted for error in result.errors]
        body["data"] = result.data
        return body


def access_denied(field_name: str, requirement: Requirement) -> GraphQLError:
    return GraphQLError(
        f"Access denied for {field_name} field. Required access: {requirement.text}",
        extensions={"code": "ACCESS_DENIED", "documentation": DOCUMENTATION,
                    "requiredAccess": requirement.text},
    )


class _AccessGuard:
    """graphql-core middleware: refuses each field whose access the token does not hold."""

    def __init__(self, index: AccessIndex, granted: frozenset[str]) -> None:
        self.index, self.granted = index, granted

    def resolve(self, next_: Any, root: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        returns = get_named_type(info.return_type)
        for requirement in self.index.for_field(info.parent_type.name, info.field_name, returns.name):
            if not requirement.satisfied_by(self.granted):
                raise access_denied(info.field_name, requirement)
        value = next_(root, info, **args)
        if is_abstract_type(returns):
            for item in value if isinstance(value, list) else [value]:
                concrete = item.get("__typename") if isinstance(item, dict) else None
                requirement = self.index.type(concrete) if concrete else None
                if requirement is not None and not requirement.satisfied_by(self.granted):
                    raise access_denied(info.field_name, requirement)
        return value
