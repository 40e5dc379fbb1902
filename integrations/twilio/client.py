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
- Idempotency: `messages.create()` takes no headers argument, so our http client adds per-call
  headers from a thread-local while `send` runs; the `I-Twilio-Idempotency-Token` header
  carries the key on every attempt of the same send. Without a key from the caller, one is
  made per `send` call, so our own retries are covered. The sandbox honours the header; that
  the live Messages API de-duplicates on it is stated neither by the library nor by the
  reference pages we checked, so callers still keep their own record of what was sent and
  never re-send a message whose outcome they did not record.
- Errors: `TwilioRestException` (status, Twilio error code) and requests' transport errors
  become `integrations.errors` exceptions (see `_translate`).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from integrations.errors import ApiError, RateLimited, Unauthorized
from integrations.retry import DEFAULT_POLICY, RetryPolicy, call_with_retries

T = TypeVar("T")

IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
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
    """TwilioHttpClient with per-call extra headers and the last response kept per thread."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._local = threading.local()

    @contextmanager
    def extra_headers(self, headers: dict[str, str]) -> Iterator[None]:
        self._local.headers = headers
        try:
            yield
        finally:
            self._local.headers = {}

    def last_response(self) -> Response | None:
        return getattr(self._local, "response", None)

    def request(self, method, url, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False) -> Response:
        extra = getattr(self._local, "headers", None)
        if extra:
            headers = {**(headers or {}), **extra}
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


def _translate(error: Exception, response: Response | None) -> ApiError:
    """Build our error from what the library raised and the response it saw."""
    if isinstance(error, requests.Timeout | requests.ConnectionError):
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
    ) -> None:
        self.account_sid = account_sid
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.retry_policy = retry_policy
        self._sleep = sleep
        self._http = _HttpClient(timeout=timeout)
        self.rest = Client(account_sid, auth_token, account_sid=account_sid, http_client=self._http)
        if base_url:
            self.rest.edge = None
            self.rest.region = None
            self.rest.api.base_url = base_url.rstrip("/")

    def __repr__(self) -> str:
        return f"<TwilioClient {self.account_sid}>"

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` (a call on `self.rest`) with our retries and our errors."""

        def attempt() -> T:
            try:
                return fn()
            except (TwilioException, requests.RequestException) as error:
                raise _translate(error, self._http.last_response()) from error

        return call_with_retries(attempt, self.retry_policy, self._sleep)

    def send(
        self,
        to: str,
        body: str,
        *,
        status_callback: str | None = None,
        idempotency_key: str | None = None,
    ) -> SendResult:
        """Create one outbound message. Retried attempts carry the same idempotency token."""
        if not (self.from_number or self.messaging_service_sid):
            raise ValueError("a sender is needed: from_number or messaging_service_sid")
        token = idempotency_key or uuid.uuid4().hex
        arguments: dict[str, Any] = {"to": to, "body": body}
        if self.from_number:
            arguments["from_"] = self.from_number
        if self.messaging_service_sid:
            arguments["messaging_service_sid"] = self.messaging_service_sid
        if status_callback:
            arguments["status_callback"] = status_callback

        def create():
            with self._http.extra_headers({IDEMPOTENCY_HEADER: token}):
                return self.rest.messages.create(**arguments)

        message = self.call(create)
        return SendResult(
            sid=message.sid,
            status=message.status,
            segments=_int(message.num_segments),
            price=_price(message.price),
            error_code=message.error_code,
        )

    def fetch(self, sid: str) -> dict[str, Any]:
        """The Message resource `sid` as a dict of the library's attributes (`from_` for From)."""
        message = self.call(lambda: self.rest.messages(sid).fetch())
        return {key: value for key, value in vars(message).items() if not key.startswith("_")}
