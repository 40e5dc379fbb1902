"""HubSpot's OpenAPI documents for the operations Parlons calls, as the official client library
(hubspot-api-client, Apache-2.0) encodes them.

HubSpot's own documents are not licensed for use outside HubSpot, so the repository keeps these
instead: the library is generated from HubSpot's published documents, and its model classes keep
each schema's properties, types, required properties and enumerations. Where HubSpot's current
documents have moved on since the library's release (`PUBLISHED_REQUIRED`,
`PUBLISHED_ENUM_VALUES`), the documents follow HubSpot; where HubSpot's documents are known to
be wrong about what the service accepts (`SERVICE_ACCEPTS`), they follow the service. `build_documents()` turns
them back into OpenAPI 3.0 documents, one per library package, holding only the operations listed
in `OPERATIONS` with the OAuth scopes HubSpot's documents give them. The result is kept under
`integrations/openapi_specs/hubspot/` (regenerate with `python -m integrations.hubspot.api_document`
after upgrading the library); the sandbox checks every request against it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

SDK = "hubspot-api-client"
HUBSPOT_SERVER = "https://api.hubapi.com"
_READ, _WRITE = "crm.objects.contacts.read", "crm.objects.contacts.write"
_SCHEMAS_READ, _SCHEMAS_WRITE = "crm.schemas.contacts.read", "crm.schemas.contacts.write"


@dataclass(frozen=True)
class Operation:
    """One operation: its path (as HubSpot templates it), method, request body model (a class name
    in the package's `models`, `list[...]` of one, or None) and the scopes any one of which
    allows it (HubSpot's `security` for that object type)."""

    method: str
    path: str
    body: str | None
    scopes: tuple[str, ...]


# package (module under `hubspot.`) -> (document name, operations)
OPERATIONS: dict[str, tuple[str, tuple[Operation, ...]]] = {
    "crm.contacts": ("contacts", (
        Operation("get", "/crm/v3/objects/contacts", None, (_READ,)),
        Operation("post", "/crm/v3/objects/contacts", "SimplePublicObjectInputForCreate", (_WRITE,)),
        Operation("get", "/crm/v3/objects/contacts/{contactId}", None, (_READ,)),
        Operation("patch", "/crm/v3/objects/contacts/{contactId}", "SimplePublicObjectInput", (_WRITE,)),
        Operation("post", "/crm/v3/objects/contacts/search", "PublicObjectSearchRequest", (_READ,)),
        Operation("post", "/crm/v3/objects/contacts/batch/read", "BatchReadInputSimplePublicObjectId", (_READ,)),
        Operation("post", "/crm/v3/objects/contacts/batch/upsert", "BatchInputSimplePublicObjectBatchInputUpsert",
                  (_WRITE,)),
    )),
    "crm.objects.communications": ("communications", (
        Operation("get", "/crm/v3/objects/communications", None, (_READ,)),
        Operation("post", "/crm/v3/objects/communications", "SimplePublicObjectInputForCreate", (_WRITE,)),
        Operation("get", "/crm/v3/objects/communications/{communicationId}", None, (_READ,)),
        Operation("patch", "/crm/v3/objects/communications/{communicationId}", "SimplePublicObjectInput",
                  (_WRITE,)),
        Operation("post", "/crm/v3/objects/communications/search", "PublicObjectSearchRequest", (_READ,)),
    )),
    "crm.properties": ("properties", (
        Operation("get", "/crm/v3/properties/contacts", None, (_READ, _SCHEMAS_READ)),
        Operation("post", "/crm/v3/properties/contacts", "PropertyCreate", (_SCHEMAS_WRITE,)),
        Operation("get", "/crm/v3/properties/contacts/{propertyName}", None, (_READ, _SCHEMAS_READ)),
        Operation("get", "/crm/v3/properties/contacts/groups", None, (_READ, _SCHEMAS_READ)),
        Operation("post", "/crm/v3/properties/contacts/groups", "PropertyGroupCreate", (_SCHEMAS_WRITE,)),
    )),
    "crm.associations.v4": ("associations", (
        Operation("put", "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}/{toObjectId}",
                  "list[AssociationSpec]", (_WRITE,)),
        Operation("get", "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}", None, (_READ,)),
    )),
}

# Where HubSpot's published documents (GitHub HubSpot/HubSpot-public-api-spec-collection, the v3/v4
# CRM documents at commit 99893791383254f52aa07662baeb98aad65cc710, 2026-08-21) differ from the
# library for these schemas: properties they now require, and enumeration values they added.
PUBLISHED_REQUIRED = {
    "PublicObjectSearchRequest": ["after", "filterGroups", "limit", "properties", "sorts"],
    "SimplePublicObjectInputForCreate": ["associations", "properties"],
}
PUBLISHED_ENUM_VALUES = {
    ("AssociationSpec", "associationCategory"): ["WORK"],
    ("PropertyCreate", "fieldType"): ["html", "phonenumber"],
    ("PropertyCreate", "type"): ["phone_number"],
}
# Where the documents themselves are wrong about what HubSpot accepts. Search `sorts`: typed as an
# array of strings, while HubSpot's search guide sorts with {"propertyName", "direction"} objects
# and the service honours them (issue HubSpot/hubspot-api-python#236, acknowledged by HubSpot).
SERVICE_ACCEPTS = {
    ("PublicObjectSearchRequest", "sorts"): {"type": "array", "items": {"anyOf": [
        {"type": "string"},
        {"type": "object", "required": ["propertyName"], "properties": {
            "propertyName": {"type": "string"}, "direction": {"type": "string", "enum": ["ASCENDING", "DESCENDING"]}}},
    ]}},
}

_SCALARS = {"str": {"type": "string"}, "int": {"type": "integer"}, "float": {"type": "number"},
            "bool": {"type": "boolean"}, "datetime": {"type": "string", "format": "date-time"},
            "date": {"type": "string", "format": "date"}, "object": {}}
_REQUIRED = re.compile(r"must not be `None`")


def _allowed_values(setter_source: str) -> list[Any] | None:
    for node in ast.walk(ast.parse(inspect.cleandoc("\n" + setter_source))):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "allowed_values" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return None


class _Builder:
    def __init__(self, package: str) -> None:
        self.models = importlib.import_module(f"hubspot.{package}.models")
        self.schemas: dict[str, dict] = {}

    def schema(self, type_name: str) -> dict:
        """The JSON schema of an SDK type string (`str`, `list[X]`, `dict[str, X]`, a model)."""
        if type_name in _SCALARS:
            return dict(_SCALARS[type_name])
        if type_name.startswith("list[") and type_name.endswith("]"):
            return {"type": "array", "items": self.schema(type_name[5:-1])}
        if type_name.startswith("dict[") and type_name.endswith("]"):
            _key, _, value = type_name[5:-1].partition(", ")
            return {"type": "object", "additionalProperties": self.schema(value)}
        self.model(type_name)
        return {"$ref": f"#/components/schemas/{type_name}"}

    def model(self, name: str) -> None:
        if name in self.schemas:
            return
        cls = getattr(self.models, name)
        self.schemas[name] = schema = {"type": "object", "properties": {}}
        required = []
        for attr, type_name in cls.openapi_types.items():
            key = cls.attribute_map[attr]
            source = inspect.getsource(getattr(cls, attr).fset)
            prop = self.schema(type_name)
            allowed = _allowed_values(source)
            if allowed is not None:
                allowed += [v for v in PUBLISHED_ENUM_VALUES.get((name, key), []) if v not in allowed]
                prop = {**prop, "enum": allowed} if type_name in _SCALARS else \
                    {**prop, "items": {**prop.get("items", {}), "enum": allowed}}
            schema["properties"][key] = SERVICE_ACCEPTS.get((name, key), prop)
            if _REQUIRED.search(source):
                required.append(key)
        required = sorted(set(required) | set(PUBLISHED_REQUIRED.get(name, [])))
        if required:
            schema["required"] = required


def _operation(builder: _Builder, op: Operation) -> dict:
    body: dict[str, Any] = {"security": [{"oauth2": [scope]} for scope in op.scopes], "responses": {
        "default": {"description": "HubSpot's answer"}}}
    params = re.findall(r"{(\w+)}", op.path)
    if params:
        body["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                              for p in params]
    if op.body is not None:
        body["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": builder.schema(op.body)}}}
    return body


def build_documents() -> dict[str, dict]:
    """{document name: OpenAPI 3.0 document} from the installed library."""
    sdk_version = version(SDK)
    documents = {}
    for package, (name, operations) in OPERATIONS.items():
        builder = _Builder(package)
        paths: dict[str, dict] = {}
        for op in operations:
            paths.setdefault(op.path, {})[op.method] = _operation(builder, op)
        documents[name] = {
            "openapi": "3.0.3",
            "info": {"title": f"HubSpot {name} (operations used by Parlons)", "version": f"{SDK} {sdk_version}"},
            "servers": [{"url": HUBSPOT_SERVER}],
            "paths": paths,
            "components": {"schemas": dict(sorted(builder.schemas.items())), "securitySchemes": {"oauth2": {
                "type": "oauth2", "flows": {"authorizationCode": {
                    "authorizationUrl": "https://app.hubspot.com/oauth/authorize",
                    "tokenUrl": f"{HUBSPOT_SERVER}/oauth/v1/token",
                    "scopes": {s: s for op in operations for s in op.scopes}}}}}},
        }
    return documents


def dump(document: dict) -> str:
    return json.dumps(document, indent=1, sort_keys=False) + "\n"


def main(target: str) -> None:
    """Write each document as `<target>/<name>.json`."""
    for name, document in build_documents().items():
        (Path(target) / f"{name}.json").write_text(dump(document), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).parents[1] / "openapi_specs" / "hubspot"))
