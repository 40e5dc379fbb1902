"""Send SMS and MMS through the Vonage Messages API with the official `vonage` SDK (v4).

How the official client is configured (checked against vonage 4.9 / vonage-http-client 1.5):

- Hosts: `HttpClientOptions(api_host=..., rest_host=...)` are the documented way to move the
  SDK; it always speaks `https://{host}`, so a sandbox is served over TLS on `127.0.0.1:port`
  and trusted through requests' `REQUESTS_CA_BUNDLE` (see `integrations.local_tls`).
- Timeout: `HttpClientOptions(timeout=...)`, whole seconds (the SDK's type is int).
- No resend after the request may have arrived: the SDK's own loop re-sends a request whose
  connection dropped (`RemoteDisconnected`) up to `pool_maxsize` times; with `pool_maxsize=1`
  it re-sends none, so a dropped answer reaches us as an unknown outcome. urllib3's adapter
  retries (`max_retries`) only replay connection failures for a POST, which are safe.
- Auth: the Messages API with an application (application id + private key) signs each
  request with a JWT; status and inbound webhooks need an application. The Reports API
  (`records`, used to reconcile) takes the API key and secret.
- Errors: Vonage answers RFC 7807 problems (`type`, `title`, `detail`, `instance`,
  `invalid_parameters`); the SDK raises `HttpRequestError` subclasses carrying the response;
  pydantic refuses a `to` that is not 7-15 digits before any request. All become
  `integrations.errors` exceptions (`_translate`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pydantic
import requests
from vonage import Auth, HttpClientOptions, Vonage
from vonage_http_client.errors import HttpRequestError
from vonage_messages.models import MmsImage, MmsResource, Sms
from vonage_utils.errors import VonageError

from integrations.errors import ApiError, RateLimited, Unauthorized
from integrations.outcome import OutcomeUnknown, transport_error

API_HOST = "api.nexmo.com"
REST_HOST = "rest.nexmo.com"


class InvalidNumber(ApiError):
    """The `to` number is not an E.164 number Vonage accepts."""


class RejectedContent(ApiError):
    """Vonage refused the text, the sender or the media (422 other than the number)."""


def digits(e164: str) -> str:
    """Vonage's form of a number: E.164 without `+` or `00`."""
    return e164.removeprefix("+")


def _problem(response: requests.Response | None) -> dict[str, Any]:
    if response is None:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _code(problem: dict[str, Any]) -> str | None:
    kind = str(problem.get("type") or "")
    return kind.rsplit("#", 1)[-1] if "#" in kind else None


def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def _translate(error: HttpRequestError, sending: bool) -> ApiError:
    response = error.response
    status = response.status_code
    problem = _problem(response)
    code = _code(problem)
    text = f"Vonage {problem.get('title') or status} (HTTP {status}): {problem.get('detail') or ''}".strip()
    kwargs = {"status": status, "code": code, "body": response.text}
    if status in (401, 403):
        return Unauthorized(text, **kwargs)
    if status == 429:
        return RateLimited(text, retry_after=_retry_after(response), **kwargs)
    if status == 422:
        names = {p.get("name") for p in problem.get("invalid_parameters") or [] if isinstance(p, dict)}
        if "to" in names:
            return InvalidNumber(text, **kwargs)
        return RejectedContent(text, **kwargs)
    if sending and status >= 500:
        return OutcomeUnknown(f"{text}; the message may have been accepted", **kwargs)
    return ApiError(text, **kwargs)


class VonageClient:
    """The only place that talks HTTP to Vonage. Raises `integrations.errors` exceptions."""

    def __init__(self, *, api_key: str, api_secret: str, application_id: str | None = None,
                 private_key: str | None = None, api_host: str | None = None,
                 rest_host: str | None = None, timeout: int = 10, pool_size: int = 1) -> None:
        self.api_key = api_key
        auth = Auth(api_key=api_key, api_secret=api_secret, application_id=application_id,
                    private_key=private_key)
        options = HttpClientOptions(api_host=api_host or API_HOST, rest_host=rest_host or api_host or REST_HOST,
                                    timeout=timeout, pool_connections=1, pool_maxsize=pool_size)
        self.sdk = Vonage(auth, options)

    def __repr__(self) -> str:
        return f"<VonageClient {self.api_key}>"

    def _call(self, fn, sending: bool = False):
        try:
            return fn()
        except HttpRequestError as error:
            raise _translate(error, sending) from error
        except requests.RequestException as error:
            if sending:
                raise transport_error("Vonage", error) from error
            raise ApiError(f"Vonage unreachable: {type(error).__name__}", status=None) from error

    def send(self, to: str, text: str, sender: str, *, client_ref: str | None = None,
             webhook_url: str | None = None, media_urls: tuple[str, ...] = ()) -> str:
        """Send one SMS (or an MMS with the first media URL as its image); returns its
        `message_uuid`. Raises `OutcomeUnknown` when Vonage may have taken it unheard."""
        common = {"to": digits(to), "from_": digits(sender) if sender.startswith("+") else sender,
                  "client_ref": client_ref, "webhook_url": webhook_url}
        try:
            if media_urls:
                message = MmsImage(image=MmsResource(url=media_urls[0], caption=text or None), **common)
            else:
                message = Sms(text=text, **common)
        except pydantic.ValidationError as error:
            fields = {str(part) for problem in error.errors() for part in problem["loc"]}
            refused = InvalidNumber if "to" in fields else RejectedContent
            raise refused(f"Vonage would refuse this message: {error.errors()[0]['msg']}",
                          status=422, code="invalid-params") from error
        response = self._call(lambda: self.sdk.messages.send(message), sending=True)
        return response.message_uuid

    def records(self, date_start: datetime, date_end: datetime, *,
                include_message: bool = True) -> Iterator[dict[str, Any]]:
        """Outbound Messages API records received by Vonage in [date_start, date_end) (at most
        24 hours apart), from the Reports API's synchronous endpoint, following its pages."""
        params: dict[str, Any] = {
            "account_id": self.api_key, "product": "MESSAGES", "direction": "outbound",
            "date_start": date_start.isoformat(timespec="seconds"),
            "date_end": date_end.isoformat(timespec="seconds"),
            "include_message": json.dumps(include_message),
        }
        http = self.sdk.http_client
        while True:
            page = self._call(lambda p=dict(params): http.get(http.api_host, "/v2/reports/records",
                                                               p, auth_type="basic"))
            yield from page.get("records") or []
            following = ((page.get("_links") or {}).get("next") or {}).get("href")
            if page.get("request_status") != "TRUNCATED" or not following:
                return
            query = parse_qs(urlsplit(following).query)
            params.update({key: query[key][0] for key in ("cursor", "iv") if key in query})

    def balance(self) -> dict[str, Any]:
        result = self._call(self.sdk.account.get_balance)
        return {"value": result.value, "auto_reload": result.auto_reload}

    def application(self, application_id: str) -> dict[str, Any]:
        try:
            app = self._call(lambda: self.sdk.application.get_application(application_id))
        except VonageError as error:
            raise ApiError(f"Vonage application {application_id}: {error}") from error
        return app.model_dump(exclude_none=True)
