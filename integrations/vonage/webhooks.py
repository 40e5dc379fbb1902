"""Vonage Messages API webhooks: signature check, status webhooks and inbound messages.

With signed webhooks, Vonage sends `Authorization: Bearer <JWT>` on every webhook: a JWT signed
with HS256 and the account's signature secret, whose claims include `iat`, `jti`,
`iss: "Vonage"` and `payload_hash`, the SHA-256 (hex) of the body. The SDK's
`vonage_jwt.verify_signature` checks the signature only; we also check that `payload_hash`
matches the body we got, so a valid token cannot be replayed with another body, and refuse
tokens issued too long ago.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import jwt

from integrations.vonage.schemas import (
    MEDIA_TYPES,
    PayloadError,
    VonageInbound,
    VonageStatus,
    inbound_schema,
    load,
    status_schema,
)

MAX_TOKEN_AGE = 300  # seconds between the JWT's `iat` and now that we accept (clock skew, retries)

__all__ = ["PayloadError", "error_code", "parse_inbound", "parse_status", "verify_signature"]


def verify_signature(body: bytes, authorization: str | None, signature_secret: str,
                     now: float | None = None) -> bool:
    """True when `authorization` is `Bearer <JWT>` signed HS256 with `signature_secret` whose
    `payload_hash` is the SHA-256 of `body`, issued within MAX_TOKEN_AGE seconds."""
    if not authorization or not signature_secret:
        return False
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    try:
        claims = jwt.decode(token.strip(), signature_secret, algorithms=["HS256"],
                            options={"require": ["iat", "payload_hash"]})
    except jwt.PyJWTError:
        return False
    expected = hashlib.sha256(body).hexdigest()
    if not hmac.compare_digest(str(claims["payload_hash"]).lower(), expected):
        return False
    issued = claims["iat"]
    return isinstance(issued, int | float) and abs((now or time.time()) - issued) <= MAX_TOKEN_AGE


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise PayloadError(f"a Vonage webhook body is JSON: {error}") from error


def error_code(error: dict[str, Any] | None) -> str | None:
    """The numeric code of a status webhook's `error` (`title`, or the `#NNNN` of `type`)."""
    if not error:
        return None
    title = error.get("title")
    if title is not None and str(title).isdigit():
        return str(title)
    kind = error.get("type") or ""
    fragment = kind.rsplit("#", 1)[-1] if "#" in kind else ""
    return fragment or None


def parse_status(body: bytes) -> VonageStatus:
    raw = _json(body)
    data = load(status_schema, raw)
    error = data["error"]
    return VonageStatus(
        message_uuid=data["message_uuid"], status=data["status"], to=data["to"],
        from_=data["from_"], timestamp=data["timestamp"], client_ref=data["client_ref"],
        error_code=error_code(error), error_detail=(error or {}).get("detail"), raw=raw,
    )


def parse_inbound(body: bytes) -> VonageInbound:
    raw = _json(body)
    data = load(inbound_schema, raw)
    media = tuple(data[kind]["url"] for kind in MEDIA_TYPES if data.get(kind))
    if data["message_type"] in MEDIA_TYPES and not media:
        raise PayloadError(f"message_type {data['message_type']} without its {data['message_type']} object")
    return VonageInbound(
        message_uuid=data["message_uuid"], channel=data["channel"], to=data["to"],
        from_=data["from_"], text=data["text"] or "", media_urls=media,
        timestamp=data["timestamp"], raw=raw,
    )
