"""A local stand-in for Brevo's transactional SMS API, served over real HTTP.

It speaks what the official SDK sends under `/v3`: `POST /v3/transactionalSMS/sms` (the
`api-key` header; `sender` at most 11 letters/digits or 15 digits; `recipient` 6-15 digits,
optionally with `+`; `content`; `tag` a string or up to 10 strings; `webUrl`), answering
`201 {reference, messageId, smsCount, usedCredits, remainingCredits}` or Brevo's errors
`{"code", "message"}` (400 `invalid_parameter`/`missing_parameter`, 401 `unauthorized`,
429 with the `x-sib-ratelimit-*` headers). `GET /v3/transactionalSMS/statistics/events`,
`GET /v3/account` and `POST /v3/webhooks` are in `sandbox_events.py`.

Brevo's side of the webhooks: SMS events posted as JSON to the message's `webUrl` (HTTP Basic
when the URL carries credentials, as Brevo does) and to every SMS webhook created through the
API (with its bearer token): `sent`, `delivered`; `hard_bounce` for a number that does not
exist; `blocked` for a number on the blacklist; a phone's answer as `replied` (and STOP as
`unsubscribed`, which blacklists the number). Nothing is de-duplicated: Brevo documents no
de-duplication of sends. Faults: `faults` (see `integrations.sandbox_faults`).
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import requests
from flask import Flask, jsonify, request

from integrations.brevo.sandbox_events import add_read_routes, error
from integrations.sandbox_faults import FaultMode, Faults, SendLedger

RECIPIENT = re.compile(r"^\+?\d{6,15}$")
SENDER = re.compile(r"^(?:[A-Za-z0-9]{1,11}|\d{12,15})$")
PARIS = ZoneInfo("Europe/Paris")
GSM7 = frozenset("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLM"
                 "NOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€\f")


def sms_count(content: str) -> int:
    single, part = (160, 153) if all(c in GSM7 for c in content) else (70, 67)
    return 1 if len(content) <= single else -(-len(content) // part)


@dataclass
class SandboxSms:
    message_id: int
    reference: str
    to: str                       # digits, as Brevo reports it
    sender: str
    content: str
    tags: tuple[str, ...]
    web_url: str | None
    sms_count: int
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: str = "accepted"


@dataclass(frozen=True)
class PostedEvent:
    message_id: int | None
    msg_status: str
    url: str
    http_status: int | None


class BrevoSandbox:
    def __init__(self, api_key: str, *, credits: float = 10_000.0, seed: int | None = 0) -> None:
        self.api_key = api_key
        self.credits = credits
        self.faults = Faults(seed)
        self.ledger = SendLedger()
        self._lock = threading.Lock()
        self._ids = count(1511882900176220)
        self._messages: dict[int, SandboxSms] = {}
        self.events: list[dict[str, Any]] = []        # what the events report lists
        self.webhooks: dict[int, dict[str, Any]] = {}
        self._pending: deque[tuple[int, str]] = deque()
        self._blacklist: set[str] = set()
        self._unknown_numbers: set[str] = set()
        self._throttle = 0
        self.app = self.create_app()

    # -- switches -------------------------------------------------------------------------
    def blacklist(self, number: str) -> None:
        """The number unsubscribed: messages to it are `blocked`."""
        self._blacklist.add(number.removeprefix("+"))

    def unknown_number(self, number: str) -> None:
        """The number does not exist: messages to it `hard_bounce`."""
        self._unknown_numbers.add(number.removeprefix("+"))

    def throttle_next(self, n: int) -> None:
        self._throttle = n

    def close(self) -> None:
        self.faults.release()

    def messages(self) -> list[SandboxSms]:
        with self._lock:
            return list(self._messages.values())

    def inbox(self, number: str) -> list[SandboxSms]:
        return [m for m in self.messages() if m.to == number.removeprefix("+")]

    # -- webhooks -------------------------------------------------------------------------
    def _record_event(self, message: SandboxSms, event: str, **extra) -> None:
        with self._lock:
            self.events.append({"phoneNumber": message.to, "date": datetime.now(UTC).isoformat(),
                                "messageId": str(message.message_id), "event": event,
                                "tag": message.tags[0] if message.tags else None, **extra})

    def _targets(self, message: SandboxSms | None, event: str) -> list[tuple[str, dict[str, str]]]:
        targets = [(message.web_url, {})] if message is not None and message.web_url else []
        for hook in self.webhooks.values():
            if event in hook["events"]:
                auth = hook.get("auth") or {}
                headers = {"Authorization": f"Bearer {auth['token']}"} if auth.get("type") == "bearer" else {}
                targets.append((hook["url"], {**headers, **hook.get("headers", {})}))
        return targets

    def _post(self, message: SandboxSms | None, msg_status: str, event: str, **extra) -> list[PostedEvent]:
        date = datetime.now(PARIS).strftime("%Y-%m-%d %H:%M:%S")
        posted = []
        for url, headers in self._targets(message, event):
            payload = {"id": 1, "to": message.to if message else extra.get("to"), "msg_status": msg_status,
                       "date": date, "type": "Transactional", **extra}
            if message is not None:
                payload.update({"messageId": message.message_id, "reference": message.reference,
                                "sms_count": message.sms_count, "credits_used": float(message.sms_count),
                                "remaining_credit": self.credits,
                                "tag": list(message.tags) if message.tags else ""})
            try:  # requests sends a URL's user:password as HTTP Basic, as Brevo does
                status: int | None = requests.post(url, json=payload, headers=headers, timeout=10).status_code
            except requests.RequestException:
                status = None
            posted.append(PostedEvent(message.message_id if message else None, msg_status, url, status))
        return posted

    def deliver_pending(self) -> list[PostedEvent]:
        with self._lock:
            steps, self._pending = list(self._pending), deque()
        posted = []
        for message_id, step in steps:
            message = self._messages[message_id]
            message.status = step
            self._record_event(message, {"hard_bounce": "hardBounce"}.get(step, step))
            posted += self._post(message, step, {"hard_bounce": "hardBounce"}.get(step, step))
        return posted

    def send_reply(self, phone: str, text: str) -> list[PostedEvent]:
        """The phone answers our last message to it: `replied`, and for STOP `unsubscribed`."""
        number = phone.removeprefix("+")
        last = next((m for m in reversed(self.messages()) if m.to == number), None)
        if last is None:
            raise ValueError(f"{phone} never got a message from this account: nothing to reply to")
        self._record_event(last, "replied", reply=text)
        posted = self._post(last, "replied", "reply", reply=text)
        if text.strip().upper() in ("STOP", "STOP SMS", "ARRET", "UNSUBSCRIBE"):
            self._blacklist.add(number)
            self._record_event(last, "unsubscribe")
            posted += self._post(last, "unsubscribed", "unsubscribed")
        return posted

    # -- the HTTP API ---------------------------------------------------------------------
    def authorized(self) -> bool:
        return hmac.compare_digest(request.headers.get("api-key", ""), self.api_key)

    def unauthorized(self):
        return error(401, "unauthorized", "Key not found")

    def create_app(self) -> Flask:
        app = Flask("brevo_sandbox")

        @app.post("/v3/transactionalSMS/sms")
        def send_sms():
            if not self.authorized():
                return self.unauthorized()
            return self._send(request.get_json(silent=True))

        add_read_routes(app, self)
        return app

    def _take_throttle(self) -> bool:
        with self._lock:
            if self._throttle > 0:
                self._throttle -= 1
                return True
            return False

    def _send(self, body: Any):
        if self._take_throttle():
            return error(429, "too_many_requests", "The rate limit for this endpoint was exceeded",
                         {"x-sib-ratelimit-limit": "150", "x-sib-ratelimit-remaining": "0",
                          "x-sib-ratelimit-reset": "1"})
        fault = self.faults.draw()
        if fault and fault.mode is FaultMode.FAIL:
            return error(fault.status, "internal_error", "Internal server error")
        if fault and fault.mode is FaultMode.STALL:
            self.faults.hold(fault)
        refused = self._refusal(body)
        if refused is not None:
            return refused
        message = self._accept(body)
        if fault and fault.mode is FaultMode.ACCEPT_THEN_TIMEOUT:
            self.faults.hold(fault)
        if fault and fault.mode is FaultMode.ACCEPT_THEN_5XX:
            return error(fault.status, "internal_error", "Internal server error")
        return jsonify({"reference": message.reference, "messageId": message.message_id,
                        "smsCount": message.sms_count, "usedCredits": float(message.sms_count),
                        "remainingCredits": self.credits}), 201

    def _refusal(self, body: Any):
        if not isinstance(body, dict):
            return error(400, "bad_request", "Invalid JSON body")
        for name in ("sender", "recipient"):
            if not body.get(name):
                return error(400, "missing_parameter", f"{name} is missing")
        if not body.get("content") and body.get("templateId") is None:
            return error(400, "missing_parameter", "content or templateId is missing")
        if not SENDER.match(str(body["sender"])):
            return error(400, "invalid_parameter", "sender is invalid: up to 11 alphanumeric or 15 numeric characters")
        if not RECIPIENT.match(str(body["recipient"])):
            return error(400, "invalid_parameter", "Invalid recipient number")
        tag = body.get("tag")
        tags = tag if isinstance(tag, list) else ([tag] if tag is not None else [])
        if len(tags) > 10 or not all(isinstance(t, str) and t for t in tags):
            return error(400, "invalid_parameter", "tag must be a non-empty string or up to 10 of them")
        if body.get("type") not in (None, "transactional", "marketing"):
            return error(400, "invalid_parameter", "type must be transactional or marketing")
        if sms_count(body["content"]) > self.credits:
            return error(402, "not_enough_credits", "Not enough credits")
        return None

    def _accept(self, body: dict[str, Any]) -> SandboxSms:
        tag = body.get("tag")
        to = str(body["recipient"]).removeprefix("+")
        message = SandboxSms(next(self._ids), secrets.token_hex(10), to, body["sender"], body["content"],
                             tuple(tag if isinstance(tag, list) else [tag] if tag else []),
                             body.get("webUrl"), sms_count(body["content"]))
        if to in self._blacklist:
            steps = ["blocked"]
        elif to in self._unknown_numbers:
            steps = ["sent", "hard_bounce"]
        else:
            steps = ["sent", "delivered"]
        with self._lock:
            self.credits -= message.sms_count
            self._messages[message.message_id] = message
            self._pending.extend((message.message_id, step) for step in steps)
        self.ledger.record(to, message.content)
        self._record_event(message, "accepted")
        return message
