"""A shop's API keys: made, listed and revoked here, for the REST API, the admin and the CLI.

A key reads `plk_` + 8 characters (its prefix, kept in clear to find and name it) + `_` + 32
random characters. Only its SHA-256 is stored (a random 190-bit secret needs no slow hash): the
whole key is shown once, when it is made, and never again.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations.models import ApiKey, Shop, utcnow

KEY_PREFIX = "plk_"
SCOPES = ("read", "read_write")
_ALPHABET = string.ascii_lowercase + string.digits


class ApiKeyError(ValueError):
    """A key that cannot be made or found: HTTP-like status and messages per field."""

    def __init__(self, status: int, messages: dict[str, list[str]]) -> None:
        super().__init__(f"{status}: {messages}")
        self.status, self.messages = status, messages


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str  # the whole key, shown once


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str | None:
    """The part of a key kept in clear (`plk_` and 8 characters); None when it is not a key."""
    if not key.startswith(KEY_PREFIX) or len(key) < len(KEY_PREFIX) + 10:
        return None
    return key[: len(KEY_PREFIX) + 8]


def create_key(session: Session, shop: Shop, name: str, scope: str, created_by: str) -> NewKey:
    errors: dict[str, list[str]] = {}
    if not name or not name.strip() or len(name) > 255:
        errors["name"] = ["a name of 1 to 255 characters says who uses the key"]
    if scope not in SCOPES:
        errors["scope"] = [f"must be one of: {', '.join(SCOPES)}"]
    if errors:
        raise ApiKeyError(400, errors)
    prefix = KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(8))
    secret = f"{prefix}_{secrets.token_urlsafe(24)}"
    key = ApiKey(shop_id=shop.id, name=name.strip(), prefix=prefix, key_hash=key_hash(secret),
                 scope=scope, created_by=created_by, created_at=utcnow())
    session.add(key)
    session.flush()
    return NewKey(key, secret)


def list_keys(session: Session, shop: Shop, *, include_revoked: bool = True) -> list[ApiKey]:
    query = sa.select(ApiKey).where(ApiKey.shop_id == shop.id).order_by(ApiKey.id.desc())
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(query))


def revoke_key(session: Session, shop: Shop, key_id: int) -> ApiKey:
    """Revoke a key of this shop (at once: the next request with it is refused); again is a no-op."""
    key = session.get(ApiKey, key_id)
    if key is None or key.shop_id != shop.id:
        raise ApiKeyError(404, {"key": [f"no API key {key_id} in this shop"]})
    key.revoked_at = key.revoked_at or utcnow()
    session.flush()
    return key


def key_json(key: ApiKey) -> dict[str, Any]:
    return {"id": key.id, "name": key.name, "prefix": key.prefix, "scope": key.scope,
            "created_by": key.created_by, "created_at": key.created_at,
            "last_used_at": key.last_used_at, "revoked_at": key.revoked_at}
