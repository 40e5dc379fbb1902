"""Twilio webhooks: signature check, status callbacks and inbound SMS, status ordering.

Twilio signs each webhook with the account auth token: HMAC-SHA1 over the URL it called
(query string included) followed by every POST field, name then value, sorted by name; the
base64 digest travels in `X-Twilio-Signature`. The URL must be the one Twilio called, not the
one our app sees behind a proxy: `public_url` rebuilds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twilio.request_validator import RequestValidator

from integrations.twilio.schemas import (
    STATUSES,
    InboundSms,
    PayloadError,
    StatusUpdate,
    empty_to_none,
    flat,
    inbound_sms_schema,
    load,
    status_callback_schema,
)

SIGNATURE_HEADER = "X-Twilio-Signature"

# Rank of each status in a message's life. A status of a higher rank is newer; a final status
# is never replaced, except `delivered` by `read` (a read receipt comes after delivery).
STATUS_ORDER: Mapping[str, int] = {
    "accepted": 0,
    "scheduled": 1,
    "queued": 2,
    "sending": 3,
    "sent": 4,
    "receiving": 4,
    "canceled": 5,
    "failed": 5,
    "undelivered": 5,
    "delivered": 5,
    "partially_delivered": 5,
    "received": 5,
    "read": 6,
}
FINAL_STATUSES = frozenset({"canceled", "failed", "undelivered", "delivered", "partially_delivered",
                            "received", "read"})

__all__ = [
    "FINAL_STATUSES",
    "STATUS_ORDER",
    "InboundSms",
    "PayloadError",
    "StatusUpdate",
    "is_newer",
    "parse_inbound",
    "parse_status",
    "public_url",
    "verify_signature",
]


def verify_signature(
    url: str, params: Mapping[str, Any], signature: str | None, auth_token: str
) -> bool:
    """True when `signature` is Twilio's signature of `url` and `params` with `auth_token`.

    `url` is the full URL Twilio called (see `public_url`); `params` the POST form (a Flask
    MultiDict keeps repeated fields). A missing or empty signature is never valid.
    """
    if not signature or not auth_token:
        return False
    return RequestValidator(auth_token).validate(url, params, signature)


def _first(value: str | None) -> str | None:
    """The client-side entry of a forwarded header (`a, b` when several proxies added one)."""
    if not value:
        return None
    return value.split(",")[0].strip() or None


def public_url(
    request_url: str, headers: Mapping[str, str], configured_public_url: str | None = None
) -> str:
    """The URL Twilio called, rebuilt from the URL our app saw.

    With `configured_public_url` (e.g. `https://sms.example.com` or `https://example.com/parlons`)
    its scheme and host replace the request's, and its path is put in front of the request path
    unless the request path already starts with it. Without it, `X-Forwarded-Proto`,
    `X-Forwarded-Host` and `X-Forwarded-Port` set by a reverse proxy are applied. Path and query
    string always come from the request.
    """
    seen = urlsplit(request_url)
    if configured_public_url:
        base = urlsplit(configured_public_url)
        prefix = base.path.rstrip("/")
        path = seen.path
        if prefix and not (path == prefix or path.startswith(prefix + "/")):
            path = prefix + path
        return urlunsplit((base.scheme, base.netloc, path, seen.query, ""))
    lowered = {key.lower(): value for key, value in headers.items()}
    scheme = _first(lowered.get("x-forwarded-proto")) or seen.scheme
    netloc = _first(lowered.get("x-forwarded-host")) or seen.netloc
    port = _first(lowered.get("x-forwarded-port"))
    if port and ":" not in netloc.rsplit("]", 1)[-1]:
        default = {"http": "80", "https": "443"}.get(scheme)
        if port != default:
            netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc, seen.path, seen.query, ""))


def parse_status(form: Mapping[str, Any]) -> StatusUpdate:
    """Read a message status callback. PayloadError when MessageSid/From/To or status is bad."""
    data = load(status_callback_schema, empty_to_none(form, "ErrorCode", "ErrorMessage"))
    status = data["message_status"] or data["sms_status"]
    if status not in STATUSES:
        raise PayloadError(f"unknown message status {status!r}")
    return StatusUpdate(
        message_sid=data["message_sid"],
        status=status,
        error_code=data["error_code"],
        error_message=data["error_message"],
        to=data["to"],
        from_=data["from_"],
        raw=flat(form),
    )


def parse_inbound(form: Mapping[str, Any]) -> InboundSms:
    """Read an incoming SMS/MMS. PayloadError when MessageSid/From/To is missing or a
    `MediaUrlN` announced by `NumMedia` is absent."""
    data = load(inbound_sms_schema, form)
    media_urls = []
    for index in range(data["num_media"]):
        url = form.get(f"MediaUrl{index}")
        if not url:
            raise PayloadError(f"NumMedia={data['num_media']} but MediaUrl{index} is missing")
        media_urls.append(url)
    return InboundSms(
        message_sid=data["message_sid"],
        account_sid=data["account_sid"],
        from_=data["from_"],
        to=data["to"],
        body=data["body"],
        num_media=data["num_media"],
        media_urls=tuple(media_urls),
        raw=flat(form),
    )


def is_newer(current: str | None, incoming: str) -> bool:
    """Whether a callback carrying `incoming` should replace the recorded `current` status.

    Callbacks arrive out of order: a late `sent` never undoes `delivered`, and nothing
    replaces `failed`, `undelivered` or `canceled`. Unknown incoming statuses are ignored.
    """
    if incoming not in STATUS_ORDER:
        return False
    if current is None or current not in STATUS_ORDER:
        return True
    if current in FINAL_STATUSES:
        return current == "delivered" and incoming == "read"
    return STATUS_ORDER[incoming] > STATUS_ORDER[current]
