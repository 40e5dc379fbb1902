"""Brevo webhooks: authentication and transactional SMS events.

Brevo signs nothing: it offers IP allow-listing, HTTP Basic credentials written into the
webhook URL (`https://user:password@host/...`, sent as `Authorization: Basic`), a bearer token
set in the webhook's `auth` (`Authorization: Bearer <token>`), or custom headers. We accept
a request when its `Authorization` header carries the configured bearer token or Basic
credentials (compared in constant time); a webhook with neither configured is never trusted.
"""

from __future__ import annotations

import base64
import hmac
import json

from integrations.brevo.schemas import BrevoSmsEvent, PayloadError, load_event

__all__ = ["PayloadError", "basic_authorization", "parse_event", "verify_authorization"]


def basic_authorization(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def verify_authorization(authorization: str | None, *, token: str | None = None,
                         basic: tuple[str, str] | None = None) -> bool:
    if not authorization or not (token or basic):
        return False
    expected = []
    if token:
        expected.append(f"Bearer {token}")
    if basic:
        expected.append(basic_authorization(*basic))
    given = authorization.strip().encode()
    return any(hmac.compare_digest(given, value.encode()) for value in expected)


def parse_event(body: bytes) -> BrevoSmsEvent:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise PayloadError(f"a Brevo webhook body is JSON: {error}") from error
    return load_event(data)
