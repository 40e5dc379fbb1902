"""Send SMS through Twilio's Messages API with the official `twilio` library.

How the official client is configured (checked against twilio 9.13):

- Base URL: every API domain of `twilio.rest.Client` is a `twilio.base.domain.Domain` whose
  `base_url` attribute (`https://api.twilio.com` for `client.api`) is joined with each
  resource path at request time. We set `client.api.base_url` to point the Messages,
  Accounts and IncomingPhoneNumbers resources at a sandbox, and clear `client.edge` and
  `client.region` (read from `TWILIO_EDGE`/`TWILIO_REGION` otherwise) because they rewrite
  the host name.
- Timeout: the library sets none by default; we pass our own `TwilioHttpClient(timeout=...)`
  subclass as `http_client`. It is a requests session without urllib3 retries: retries are
  ours (`integrations.retry`: 5xx, 429 and timeouts only).
- Sends are never retried once they may have reached Twilio. Twilio documents no
  de-duplication for the Messages API, so a second request after a timeout or a 5xx can be a
  second SMS on the customer's phone. A send is retried only when it clearly did not arrive
  (connection refused, name not resolved, connect timeout) or was refused with a 429; a read
  timeout, a connection dropped after sending or a 5xx raises `OutcomeUnknown`, and the caller
  reconciles with `find_sent` (the Messages list filtered by To and From) instead.
- Errors: `TwilioRestException` (status, Twilio error code) and requests' transport errors
  become `integrations.errors` exceptions (see `_translate`, and `integrations.outcome` for
  what a transport error means for a send).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from integrations.errors import ApiError, RateLimited, Unauthorized
from integrations.outcome import OutcomeUnknown, transport_error
from integrations.retry import DEFAULT_POLICY, RetryPolicy, call_with_retries

T = TypeVar("T")

OPTED_OUT_CODES = frozenset({21610})
INVALID_NUMBER_CODES = frozenset({21211, 21614})
RATE_LIMIT_CODES = frozenset({20429})
AUTH_CODES = frozenset({20003})


class OptedOut(ApiError):
    """The recipient replied STOP to this sender (Twilio error 21610): never retry."""


class InvalidNumber(ApiError):
    """The `To` number is not a valid (mobile) phone number (Twilio errors 21211, 21614)."""


@dataclass(frozen=True)
class SendResult:
    sid: str
    status: str
    segments: int | None
    price: Decimal | None
    error_code: int | None


class _HttpClient(TwilioHttpClient):
    """TwilioHttpClient keeping the last response per thread (for Retry-After and bodies)."""

    def __init__(self, timeout: float, pool_size: int) -> None:
        super().__init__(timeout=timeout)
        self._local = threading.local()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)  # one per thread in flight
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def last_response(self) -> Response | None:
        return getattr(self._local, "response", None)

    def request(self, method, url, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False) -> Response:
        self._local.response = None
        response = super().request(method, url, params=params, data=data, headers=headers,
                                   auth=auth, timeout=timeout, allow_redirects=allow_redirects)
        self._local.response = response
        return response


def _retry_after(response: Response | None) -> float | None:
    if response is None or not response.headers:
        return None
    value = {k.lower(): v for k, v in response.headers.items()}.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _translate(error: Exception, response: Response | None, sending: bool = False) -> ApiError:
    """Build our error from what the library raised and the response it saw. For a send
    (`sending`), a transport failure after the request left and a 5xx are `OutcomeUnknown`."""
    if isinstance(error, requests.RequestException):
        if sending:
            return transport_error("Twilio", error)
        return ApiError(f"Twilio unreachable: {type(error).__name__}", status=None)
    if isinstance(error, TwilioRestException | TwilioServiceException):
        status, code = error.status, error.code
        message = getattr(error, "msg", None) or getattr(error, "detail", None) or str(status)
    else:
        status = response.status_code if response is not None else None
        code, message = None, str(error)
    code_int = code if isinstance(code, int) else None
    body = response.text if response is not None else None
    kwargs = {"status": status, "code": None if code is None else str(code), "body": body}
    text = f"Twilio error {code} (HTTP {status}): {message}"
    if code_int in OPTED_OUT_CODES:
        return OptedOut(text, **kwargs)
    if code_int in INVALID_NUMBER_CODES:
        return InvalidNumber(text, **kwargs)
    if code_int in RATE_LIMIT_CODES or status == 429:
        return RateLimited(text, retry_after=_retry_after(response), **kwargs)
    if code_int in AUTH_CODES or status in (401, 403):
        return Unauthorized(text, **kwargs)
    if sending and status is not None and status >= 500:
        return OutcomeUnknown(f"{text}; the message may have been created", **kwargs)
    return ApiError(text, **kwargs)


def _price(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class TwilioClient:
    """The only place that talks HTTP to Twilio. Raises `integrations.errors` exceptions."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        base_url: str | None = None,
        timeout: float = 10.0,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        pool_size: int = 10,
    ) -> None:
        self.account_sid = account_sid
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.retry_policy = retry_policy
        self._sleep = sleep
        self._http = _HttpClient(timeout=timeout, pool_size=pool_size)
        self.rest = Client(account_sid, auth_token, account_sid=account_sid, http_client=self._http)
        if base_url:
            self.rest.edge = None
            self.rest.region = None
            self.rest.api.base_url = base_url.rstrip("/")

    def __repr__(self) -> str:
        return f"<TwilioClient {self.account_sid}>"

    def call(self, fn: Callable[[], T], sending: bool = False) -> T:
        """Run `fn` (a call on `self.rest`) with our retries and our errors. With `sending`,
        only failures that clearly did not reach Twilio are retried (see the module doc)."""

        def attempt() -> T:
            try:
                return fn()
            except (TwilioException, requests.RequestException) as error:
                raise _translate(error, self._http.last_response(), sending) from error

        return call_with_retries(attempt, self.retry_policy, self._sleep)

    def send(
        self,
        to: str,
        body: str,
        *,
        status_callback: str | None = None,
        idempotency_key: str | None = None,
        media_urls: tuple[str, ...] | list[str] = (),
    ) -> SendResult:
        """Create one outbound message. Raises `OutcomeUnknown` when Twilio may have created it
        without our hearing so: reconcile with `find_sent`, never call `send` again for it.

        `idempotency_key` is accepted for callers that still pass it; Twilio's Messages API has
        no field that carries it (nothing in the request de-duplicates a send).
        """
        del idempotency_key
        if not (self.from_number or self.messaging_service_sid):
            raise ValueError("a sender is needed: from_number or messaging_service_sid")
        arguments: dict[str, Any] = {"to": to, "body": body}
        if self.from_number:
            arguments["from_"] = self.from_number
        if self.messaging_service_sid:
            arguments["messaging_service_sid"] = self.messaging_service_sid
        if status_callback:
            arguments["status_callback"] = status_callback
        if media_urls:
            arguments["media_url"] = list(media_urls)

        message = self.call(lambda: self.rest.messages.create(**arguments), sending=True)
        return SendResult(
            sid=message.sid,
            status=message.status,
            segments=_int(message.num_segments),
            price=_price(message.price),
            error_code=message.error_code,
        )

    def find_sent(self, to: str, body: str, created_after: datetime, *,
                  from_number: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Outbound messages to `to` from our sender with exactly this `body`, created at or
        after `created_after`, read from the Messages list filtered by To and From (newest
        first, at most `limit` read). DateSent is not a filter: a queued message has none yet.
        With a messaging service and no From, the service sid must match instead."""
        sender = from_number or self.from_number
        filters: dict[str, Any] = {"to": to, "limit": limit}
        if sender:
            filters["from_"] = sender
        created_after = created_after.replace(microsecond=0)  # Twilio dates are to the second
        too_old = created_after - timedelta(days=1)

        def matching() -> list[dict[str, Any]]:
            found = []
            for message in self.rest.messages.stream(**filters):
                created = message.date_created
                if created is not None and created < too_old:
                    break
                if (message.direction == "inbound" or message.body != body
                        or (created is not None and created < created_after)):
                    continue
                if not sender and message.messaging_service_sid != self.messaging_service_sid:
                    continue
                found.append({key: value for key, value in vars(message).items()
                              if not key.startswith("_")})
            return found

        return self.call(matching)

    def fetch(self, sid: str) -> dict[str, Any]:
        """The Message resource `sid` as a dict of the library's attributes (`from_` for From)."""
        message = self.call(lambda: self.rest.messages(sid).fetch())
        return {key: value for key, value in vars(message).items() if not key.startswith("_")}
