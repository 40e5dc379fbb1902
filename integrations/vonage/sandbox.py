"""A local stand-in for the Vonage Messages API, served over HTTPS (`integrations.local_tls`).

It speaks what the official SDK sends: `POST /v1/messages` authenticated by the application's
RS256 JWT (or HTTP Basic key:secret, which Vonage also takes but without webhooks), answers
`202 {"message_uuid"}` or Vonage's RFC 7807 problems (401, 422 with `invalid_parameters`,
429, 500), and plays Vonage's side of the webhooks: status webhooks (`submitted`, then
`delivered`, `rejected` with error 1240 for a number that sent STOP, or `undeliverable`) and
inbound messages, each signed as Vonage signs them (`Authorization: Bearer` JWT, HS256 with
the signature secret, `payload_hash` of the body). The Reports API, account balance and
application read live in `sandbox_reports.py`. Nothing is de-duplicated: Vonage documents no
de-duplication of message submissions. Faults: `faults` (see `integrations.sandbox_faults`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
import requests
from flask import Flask, jsonify, request

from integrations.sandbox_faults import FaultMode, Faults, SendLedger
from integrations.vonage.sandbox_reports import add_account_routes

NUMBER = re.compile(r"^[1-9]\d{6,14}$")
ALPHANUMERIC = re.compile(r"^[A-Za-z0-9 ]{1,11}$")
ERRORS = "https://developer.vonage.com/api-errors"
MAX_TEXT = 1000
DELIVERY_ERRORS = {1240: "Illegal Number", 1170: "Invalid or Missing Msisdn Param",
                   1190: "Absent Subscriber Permanent"}


def problem(status: int, title: str, detail: str, kind: str, **extra):
    body = {"type": f"{ERRORS}{kind}", "title": title, "detail": detail,
            "instance": uuid.uuid4().hex, **extra}
    response = jsonify(body)
    response.status_code = status
    response.content_type = "application/problem+json"
    return response


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class SandboxMessage:
    message_uuid: str
    to: str
    from_: str
    text: str
    channel: str
    client_ref: str | None
    webhook_url: str | None
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: str = "accepted"
    error_code: int | None = None
    media_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class PostedWebhook:
    message_uuid: str | None
    status: str
    url: str
    http_status: int | None


class VonageSandbox:
    def __init__(self, *, api_key: str, api_secret: str, application_id: str, public_key: str,
                 signature_secret: str, status_url: str | None = None,
                 inbound_url: str | None = None, seed: int | None = 0) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.application_id = application_id
        self.public_key = public_key
        self.signature_secret = signature_secret
        self.status_url = status_url
        self.inbound_url = inbound_url
        self.faults = Faults(seed)
        self.ledger = SendLedger()
        self._lock = threading.Lock()
        self._messages: dict[str, SandboxMessage] = {}
        self._pending: deque[tuple[str, str]] = deque()
        self._opted_out: set[str] = set()
        self._undeliverable: dict[str, int] = {}
        self._throttle = 0
        self.records_page_size = 1000  # Reports API records per answer
        self.app = self.create_app()

    # -- switches -------------------------------------------------------------------------
    def opt_out(self, number: str) -> None:
        """Messages to `number` are rejected with 1240 (the recipient sent STOP)."""
        self._opted_out.add(number.removeprefix("+"))

    def unreachable(self, number: str, code: int = 1170) -> None:
        """Messages to `number` end `undeliverable` with `code` (1170 invalid, 1190 inactive)."""
        self._undeliverable[number.removeprefix("+")] = code

    def throttle_next(self, n: int) -> None:
        """The next `n` submissions answer 429 (the account's request rate was exceeded)."""
        self._throttle = n

    def close(self) -> None:
        self.faults.release()

    # -- what tests look at ----------------------------------------------------------------
    def messages(self) -> list[SandboxMessage]:
        with self._lock:
            return list(self._messages.values())

    def inbox(self, number: str) -> list[SandboxMessage]:
        wanted = number.removeprefix("+")
        return [m for m in self.messages() if m.to == wanted]

    # -- signing and posting webhooks -------------------------------------------------------
    def signed_headers(self, body: bytes) -> dict[str, str]:
        claims = {"iat": int(time.time()), "jti": str(uuid.uuid4()), "iss": "Vonage",
                  "payload_hash": hashlib.sha256(body).hexdigest(), "api_key": self.api_key,
                  "application_id": self.application_id}
        token = jwt.encode(claims, self.signature_secret, algorithm="HS256")
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                "User-Agent": "Vonage-Messages"}

    def post_signed(self, url: str, payload: dict[str, Any]) -> requests.Response:
        body = json.dumps(payload).encode()
        return requests.post(url, data=body, headers=self.signed_headers(body), timeout=10)

    def deliver_pending(self) -> list[PostedWebhook]:
        """Post every pending status webhook now, in order."""
        with self._lock:
            steps, self._pending = list(self._pending), deque()
        return [self._advance(uuid_, status) for uuid_, status in steps]

    def _advance(self, message_uuid: str, status: str) -> PostedWebhook:
        with self._lock:
            message = self._messages[message_uuid]
            message.status = status
            url = message.webhook_url or self.status_url
            payload: dict[str, Any] = {
                "message_uuid": message_uuid, "to": message.to, "from": message.from_,
                "timestamp": _now(), "status": status, "channel": message.channel,
            }
            if message.client_ref:
                payload["client_ref"] = message.client_ref
            if status in ("submitted", "delivered"):
                payload["usage"] = {"currency": "EUR", "price": "0.0333"}
            if message.error_code is not None:
                payload["error"] = {"type": f"{ERRORS}/messages#{message.error_code}",
                                    "title": str(message.error_code),
                                    "detail": DELIVERY_ERRORS.get(message.error_code, "Unknown"),
                                    "instance": uuid.uuid4().hex}
        if not url:
            return PostedWebhook(message_uuid, status, "", None)
        try:
            http_status: int | None = self.post_signed(url, payload).status_code
        except requests.RequestException:
            http_status = None
        return PostedWebhook(message_uuid, status, url, http_status)

    def send_inbound(self, from_: str, to: str, text: str, url: str | None = None,
                     media_url: str | None = None) -> requests.Response:
        """The phone `from_` texts our number `to`: post the signed inbound webhook."""
        target = url or self.inbound_url
        if not target:
            raise ValueError("no inbound URL: pass one or set the sandbox's inbound_url")
        payload: dict[str, Any] = {
            "channel": "mms" if media_url else "sms", "message_uuid": str(uuid.uuid4()),
            "to": to.removeprefix("+"), "from": from_.removeprefix("+"), "timestamp": _now(),
            "message_type": "image" if media_url else "text",
        }
        if media_url:
            payload["image"] = {"url": media_url, "caption": text}
        else:
            words = text.split()
            payload["text"] = text
            payload["sms"] = {"num_messages": "1", **({"keyword": words[0].upper()} if words else {})}
        return self.post_signed(target, payload)

    # -- the HTTP API ---------------------------------------------------------------------
    def authenticated(self, basic_only: bool = False) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme == "Basic":
            try:
                key, _, secret = base64.b64decode(credentials).decode().partition(":")
            except ValueError:
                return False
            return hmac.compare_digest(key, self.api_key) and hmac.compare_digest(secret, self.api_secret)
        if scheme == "Bearer" and not basic_only:
            try:
                claims = jwt.decode(credentials, self.public_key, algorithms=["RS256"],
                                    options={"require": ["iat", "exp", "jti", "application_id"]})
            except jwt.PyJWTError:
                return False
            return claims["application_id"] == self.application_id
        return False

    def unauthorized(self):
        return problem(401, "Unauthorized", "You did not provide correct credentials.", "#unauthorized")

    def create_app(self) -> Flask:
        app = Flask("vonage_sandbox")

        @app.post("/v1/messages")
        def send_message():
            if not self.authenticated():
                return self.unauthorized()
            return self._submit(request.get_json(silent=True))

        add_account_routes(app, self)
        return app

    def _take_throttle(self) -> bool:
        with self._lock:
            if self._throttle > 0:
                self._throttle -= 1
                return True
            return False

    def _submit(self, body: Any):
        if self._take_throttle():
            return problem(429, "Rate Limit Hit", "Please wait, then retry your request", "#throttled")
        fault = self.faults.draw()
        if fault and fault.mode is FaultMode.FAIL:
            return problem(fault.status, "Internal Error", "An error occurred processing your request.",
                           "#internal-error")
        if fault and fault.mode is FaultMode.STALL:
            self.faults.hold(fault)
        invalid = self._invalid(body)
        if invalid:
            return problem(422, "Invalid params", "The value of one or more parameters is invalid.",
                           "/messages#1150", invalid_parameters=invalid)
        message = self._accept(body)
        if fault and fault.mode is FaultMode.ACCEPT_THEN_TIMEOUT:
            self.faults.hold(fault)
        if fault and fault.mode is FaultMode.ACCEPT_THEN_5XX:
            return problem(fault.status, "Internal Error", "An error occurred processing your request.",
                           "#internal-error")
        return jsonify({"message_uuid": message.message_uuid}), 202

    def _invalid(self, body: Any) -> list[dict[str, str]]:
        if not isinstance(body, dict):
            return [{"name": "body", "reason": "Malformed JSON"}]
        problems = []
        channel, kind = body.get("channel"), body.get("message_type")
        if channel not in ("sms", "mms"):
            problems.append({"name": "channel", "reason": "must be one of sms, mms on this account"})
        to, sender = str(body.get("to") or ""), str(body.get("from") or "")
        if not NUMBER.match(to):
            problems.append({"name": "to", "reason": "must be an E.164 number without a leading +"})
        if not (NUMBER.match(sender) or (channel == "sms" and ALPHANUMERIC.match(sender))):
            problems.append({"name": "from", "reason": "must be a number, or alphanumeric for SMS"})
        if channel == "sms" and (kind != "text" or not isinstance(body.get("text"), str)
                                 or not 1 <= len(body["text"]) <= MAX_TEXT):
            problems.append({"name": "text", "reason": f"between 1 and {MAX_TEXT} characters"})
        if channel == "mms":
            if kind != "image" or not (body.get("image") or {}).get("url"):
                problems.append({"name": "image", "reason": "an image message needs image.url"})
            if not to.startswith("1"):
                problems.append({"name": "channel", "reason": "MMS is available to US numbers only"})
        ref = body.get("client_ref")
        if ref is not None and (not isinstance(ref, str) or len(ref) > 100):
            problems.append({"name": "client_ref", "reason": "at most 100 characters"})
        return problems

    def _accept(self, body: dict[str, Any]) -> SandboxMessage:
        text = body.get("text") or (body.get("image") or {}).get("caption") or ""
        media = ((body.get("image") or {}).get("url"),) if body.get("channel") == "mms" else ()
        message = SandboxMessage(str(uuid.uuid4()), body["to"], body["from"], text, body["channel"],
                                 body.get("client_ref"), body.get("webhook_url"), media_urls=media)
        steps = ["submitted", "delivered"]
        if message.to in self._opted_out:
            message.error_code, steps = 1240, ["rejected"]
        elif message.to in self._undeliverable:
            message.error_code, steps = self._undeliverable[message.to], ["submitted", "undeliverable"]
        with self._lock:
            self._messages[message.message_uuid] = message
            self._pending.extend((message.message_uuid, step) for step in steps)
        self.ledger.record(message.to, text)
        return message
