"""Send transactional SMS through Brevo with the official `brevo-python` SDK (v5).

How the official client is configured (checked against brevo-python 5.1):

- Base URL and timeout: `Brevo(api_key=..., base_url=..., timeout=...)`, documented
  constructor arguments (default `https://api.brevo.com/v3`, 60 s).
- No resend: the SDK retries 5xx, 408, 409 and 429 answers and connection errors by itself
  (`max_retries`, default 2), which for a send can mean a second SMS; we set `max_retries=0`
  and decide ourselves: a 429 or a request that never left may be retried later; a timeout
  after the request left or a 5xx is `OutcomeUnknown`.
- Errors: the SDK raises `brevo.core.api_error.ApiError` (and subclasses for 400, 402, 429)
  with the status, headers and Brevo's body `{"code", "message"}`; httpx raises transport
  errors. All become `integrations.errors` exceptions.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx
from brevo import Brevo
from brevo.core.api_error import ApiError as BrevoApiError

from integrations.errors import ApiError, RateLimited, Unauthorized
from integrations.outcome import OutcomeUnknown, transport_error


class InvalidNumber(ApiError):
    """Brevo refused the recipient (`invalid_parameter` on `recipient`)."""


class RejectedContent(ApiError):
    """Brevo refused the sender or the content (another `invalid_parameter`)."""


def _reset(headers: dict[str, str] | None) -> float | None:
    value = {k.lower(): v for k, v in (headers or {}).items()}.get("x-sib-ratelimit-reset")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _translate(error: BrevoApiError, sending: bool) -> ApiError:
    status = error.status_code or 0
    body = error.body if isinstance(error.body, dict) else {}
    code, message = body.get("code"), body.get("message") or str(error.body)
    text = f"Brevo {code or status} (HTTP {status}): {message}"
    kwargs = {"status": status, "code": code, "body": str(error.body)}
    if status in (401, 403):
        return Unauthorized(text, **kwargs)
    if status == 429:
        return RateLimited(text, retry_after=_reset(error.headers), **kwargs)
    if status == 400 and code == "invalid_parameter":
        if "recipient" in message.lower():
            return InvalidNumber(text, **kwargs)
        return RejectedContent(text, **kwargs)
    if sending and status >= 500:
        return OutcomeUnknown(f"{text}; the SMS may have been accepted", **kwargs)
    return ApiError(text, **kwargs)


class BrevoClient:
    """The only place that talks HTTP to Brevo. Raises `integrations.errors` exceptions."""

    def __init__(self, api_key: str, *, base_url: str | None = None, timeout: float = 10.0) -> None:
        options: dict[str, Any] = {"api_key": api_key, "timeout": timeout, "max_retries": 0}
        if base_url:
            options["base_url"] = base_url.rstrip("/")
        self.sdk = Brevo(**options)

    def _call(self, fn, sending: bool = False):
        try:
            return fn()
        except BrevoApiError as error:
            raise _translate(error, sending) from error
        except httpx.HTTPError as error:
            if sending:
                raise transport_error("Brevo", error) from error
            raise ApiError(f"Brevo unreachable: {type(error).__name__}", status=None) from error

    def send(self, to: str, content: str, sender: str, *, tag: str | None = None,
             web_url: str | None = None) -> dict[str, Any]:
        """Send one transactional SMS; returns Brevo's `messageId`, `reference`, `smsCount`,
        `usedCredits`. Raises `OutcomeUnknown` when Brevo may have taken it unheard."""
        arguments: dict[str, Any] = {"recipient": to.removeprefix("+"), "sender": sender,
                                     "content": content}
        if tag:
            arguments["tag"] = tag
        if web_url:
            arguments["web_url"] = web_url
        result = self._call(lambda: self.sdk.transactional_sms.send_transac_sms(**arguments),
                            sending=True)
        return {"message_id": str(result.message_id), "reference": result.reference,
                "sms_count": result.sms_count, "used_credits": result.used_credits}

    def events(self, phone_number: str, start_date: date, end_date: date, *,
               tags: list[str] | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Transactional SMS events for `phone_number` between two days (inclusive), every page."""
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self._call(lambda o=offset: self.sdk.transactional_sms.get_sms_events(
                phone_number=phone_number.removeprefix("+"), start_date=start_date.isoformat(),
                end_date=end_date.isoformat(), limit=limit, offset=o,
                tags=None if tags is None else _serialized(tags)))
            events = [e.model_dump(by_alias=True) for e in (page.events or [])]
            found.extend(events)
            if len(events) < limit:
                return found
            offset += limit

    def account(self) -> dict[str, Any]:
        result = self._call(self.sdk.account.get_account)
        return result.model_dump(by_alias=True, exclude_none=True)

    def create_sms_webhook(self, url: str, token: str, events: list[str]) -> str:
        result = self._call(lambda: self.sdk.webhooks.create_webhook(
            url=url, type="transactional", channel="sms", events=events,
            auth={"type": "bearer", "token": token},
            description="Parlons: SMS delivery events and replies"))
        return str(result.id)


def _serialized(tags: list[str]) -> str:
    """Brevo's `tags` filter: 'a serialized urlencoded array' (a JSON array; httpx encodes it)."""
    return json.dumps(tags)
