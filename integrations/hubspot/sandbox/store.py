"""The sandbox's records: portals, CRM objects and their properties, errors in HubSpot's shape,
and paging."""

from __future__ import annotations

import functools
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import jsonify, request

ACCESS_TOKEN_SECONDS = 1800
STANDARD_PROPERTIES = {
    "email": "string", "firstname": "string", "lastname": "string", "phone": "string",
    "mobilephone": "string", "lifecyclestage": "enumeration", "createdate": "datetime",
    "lastmodifieddate": "datetime", "hs_object_id": "number",
}
COMMUNICATION_PROPERTIES = {
    "hs_communication_channel_type", "hs_communication_logged_from", "hs_communication_body",
    "hs_timestamp",
}
CONTACT_DEFAULTS = ["firstname", "lastname", "email", "lastmodifieddate", "hs_object_id", "createdate"]
COMMUNICATION_TO_CONTACT = 81
CONTACT_TO_COMMUNICATION = 82


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def now_ms() -> int:
    return int(time.time() * 1000)


@functools.lru_cache(maxsize=65536)
def as_ms(value) -> float | None:
    """A datetime filter value or property as epoch ms (HubSpot accepts both forms)."""
    if value is None:
        return None
    text = str(value)
    if text.lstrip("-").isdigit():
        return float(text)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000
    except ValueError:
        return None


def tokens(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text.casefold()).split()


class SandboxError(Exception):
    def __init__(self, status: int, message: str, category: str = "VALIDATION_ERROR", **extra) -> None:
        super().__init__(message)
        self.status, self.category, self.extra = status, category, extra

    def response(self):
        body = {"status": "error", "message": str(self), "correlationId": secrets.token_hex(8),
                "category": self.category, **self.extra}
        return jsonify(body), self.status


@dataclass
class Record:
    id: str
    properties: dict[str, str | None]
    created_ms: int
    updated_ms: int

    def to_json(self, wanted: list[str] | None, extra: dict | None = None) -> dict:
        props = self.properties if wanted is None else {k: self.properties.get(k) for k in wanted}
        body = {"id": self.id, "properties": dict(props), "createdAt": iso(self.created_ms),
                "updatedAt": iso(self.updated_ms), "archived": False}
        return {**body, **(extra or {})}


@dataclass
class Portal:
    id: int
    contacts: dict[str, Record] = field(default_factory=dict)
    communications: dict[str, Record] = field(default_factory=dict)
    associations: set[tuple[str, str]] = field(default_factory=set)  # (communication, contact)
    properties: dict[str, dict] = field(default_factory=dict)
    groups: dict[str, dict] = field(default_factory=dict)
    unique_index: dict[tuple[str, str], str] = field(default_factory=dict)
    calls: deque = field(default_factory=deque)
    requests: int = 0
    throttled: int = 0


def wanted_properties(default: list[str] | None) -> list[str] | None:
    names = [n for item in request.args.getlist("properties") for n in item.split(",") if n]
    return names or default


def page(records: list[Record], after: str | None, limit: int) -> tuple[list[Record], str | None]:
    start = int(after or 0)
    chunk = records[start:start + limit]
    return chunk, (str(start + limit) if start + limit < len(records) else None)


def paging(next_after: str | None, path: str) -> dict:
    if next_after is None:
        return {}
    return {"paging": {"next": {"after": next_after, "link": f"{path}?after={next_after}"}}}
