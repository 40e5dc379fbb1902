"""A local stand-in for Twilio's Messages API, served over real HTTP (tests and the demo).

It speaks the REST API the official library uses (`/2010-04-01/Accounts/<sid>/...`) with
HTTP Basic auth, answers Twilio's JSON resources and error shapes, and plays Twilio's side of
the webhooks: signed status callbacks after each message (queued -> sent -> delivered, or
undelivered/failed for numbers told to fail) and signed inbound messages from a "phone".
Callbacks wait in a queue: `deliver_pending()` posts them now (deterministic tests), or
`auto_deliver=True` posts one step per message every `auto_delay` seconds (the demo).

Nothing is de-duplicated: Twilio documents no idempotency key for the Messages API, so two
requests are two messages. `ledger` counts what was accepted per (to, body); `faults` plays a
provider's bad days (see `integrations.sandbox_faults`): 5xx, stalls, accept-then-time-out and
5xx-after-accepting. `latency` delays every answer (a real API answers in 100-300 ms).
"""

from __future__ import annotations

import mimetypes
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

import requests
from flask import Flask, jsonify, request
from twilio.request_validator import RequestValidator

from integrations.sandbox_faults import FaultMode, Faults, SendLedger
from integrations.twilio.sandbox.listing import add_messages_list
from integrations.twilio.sandbox.messages import (
    API,
    DELIVERY_ERRORS,
    IDEMPOTENCY_HEADER,
    PostedCallback,
    SandboxMessage,
    authenticated,
    count_segments,
    country_of,
    failure,
    is_e164,
    rfc2822,
    twilio_error,
)


class TwilioSandbox:
    def __init__(self, account_sid: str, auth_token: str, *, deliver: bool = True,
                 auto_deliver: bool = False, auto_delay: float = 1.0, seed: int | None = 0,
                 latency: float = 0.0) -> None:
        self.account_sid = account_sid
        self.faults = Faults(seed)
        self.ledger = SendLedger()
        self.latency = latency
        self.auth_token = auth_token
        self.deliver = deliver
        self._lock = threading.Lock()
        self._deliver_lock = threading.Lock()
        self._messages: dict[str, SandboxMessage] = {}
        self._numbers: dict[str, dict[str, Any]] = {}
        self._opted_out: set[str] = set()
        self._invalid: set[str] = set()
        self._failing: dict[str, tuple[str, int]] = {}
        self._pending: deque[tuple[str, str]] = deque()
        self._fail: list[Any] = [0, 500, False]
        self._stall: list[float] = [0, 0.0]
        self.app = self.create_app()
        self._stopped = threading.Event()
        if auto_deliver:
            threading.Thread(target=self._auto, args=(auto_delay,), daemon=True,
                             name="twilio-sandbox-deliver").start()

    # -- switches -------------------------------------------------------------------------
    def opt_out(self, e164: str) -> None:
        """Sends to `e164` now fail with 21610, as after the recipient replied STOP."""
        self._opted_out.add(e164)

    def invalid(self, e164: str) -> None:
        """Sends to `e164` fail with 21614 ('To' number is not a valid mobile number)."""
        self._invalid.add(e164)

    def fail_delivery(self, e164: str, status: str = "undelivered", error_code: int = 30003) -> None:
        """Messages to `e164` end `undelivered` (after `sent`) or `failed`, with `error_code`."""
        if status not in ("undelivered", "failed"):
            raise ValueError(status)
        self._failing[e164] = (status, error_code)

    def fail_next(self, n: int, status: int = 500, *, after_create: bool = False) -> None:
        """The next `n` message creations answer `status` (500 or 429). With `after_create`
        the message is created first, as when Twilio's answer is lost on the way back."""
        self._fail = [n, status, after_create]

    def stall_next(self, n: int, seconds: float) -> None:
        """The next `n` message creations are processed, then answered after `seconds`."""
        self._stall = [n, seconds]

    def add_number(self, e164: str, sms_url: str | None = None) -> str:
        """Give the account a phone number (an IncomingPhoneNumber); returns its `PN…` sid."""
        sid = "PN" + uuid.uuid4().hex
        self._numbers[sid] = {"sid": sid, "phone_number": e164, "sms_url": sms_url,
                              "sms_method": "POST", "date_created": datetime.now(UTC)}
        return sid

    def close(self) -> None:
        self._stopped.set()
        self.faults.release()

    # -- what tests and the demo look at -----------------------------------------------
    def messages(self, to: str | None = None, from_: str | None = None) -> list[dict[str, Any]]:
        """Every message, or those to `to` and/or from `from_`, as the API shows them."""
        with self._lock:
            return [m.resource() for m in self._messages.values()
                    if (to is None or m.to == to) and (from_ is None or m.from_ == from_)]

    def inbox(self, e164: str) -> list[dict[str, Any]]:
        """Messages the phone `e164` received, oldest first."""
        with self._lock:
            return [m.resource() for m in self._messages.values()
                    if m.to == e164 and m.direction != "inbound"]

    # -- status callbacks ---------------------------------------------------------------
    def deliver_pending(self) -> list[PostedCallback]:
        """Advance every message through its remaining statuses, posting each callback now."""
        return self._post_callbacks(one_per_message=False)

    def _auto(self, delay: float) -> None:
        while not self._stopped.wait(delay):
            self._post_callbacks(one_per_message=True)

    def _post_callbacks(self, one_per_message: bool) -> list[PostedCallback]:
        posted = []
        with self._deliver_lock:
            with self._lock:
                steps, kept, seen = [], deque(), set()
                for sid, status in self._pending:
                    if one_per_message and sid in seen:
                        kept.append((sid, status))
                    else:
                        seen.add(sid)
                        steps.append((sid, status))
                self._pending = kept
            for sid, status in steps:
                posted.append(self._advance(sid, status))
        return [p for p in posted if p is not None]

    def _advance(self, sid: str, status: str) -> PostedCallback | None:
        with self._lock:
            message = self._messages[sid]
            message.status = status
            message.date_updated = datetime.now(UTC)
            if status == "sent":
                message.date_sent = message.date_updated
            if status in ("undelivered", "failed"):
                message.error_code = self._failing[message.to][1]
                message.error_message = DELIVERY_ERRORS.get(message.error_code, "Unknown error")
            url = message.status_callback
            params = {"SmsSid": sid, "SmsStatus": status, "MessageStatus": status,
                      "To": message.to, "MessageSid": sid, "AccountSid": self.account_sid,
                      "From": message.from_ or "", "ApiVersion": "2010-04-01"}
            if message.messaging_service_sid:
                params["MessagingServiceSid"] = message.messaging_service_sid
            if message.error_code is not None:
                params["ErrorCode"] = str(message.error_code)
        if not url:
            return None
        try:
            http_status: int | None = self.post_signed(url, params).status_code
        except requests.RequestException:
            http_status = None
        return PostedCallback(sid, status, url, http_status)

    def post_signed(self, url: str, params: dict[str, str]) -> requests.Response:
        """POST `params` to `url` signed as Twilio does (X-Twilio-Signature over URL + form)."""
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        headers = {"X-Twilio-Signature": signature, IDEMPOTENCY_HEADER: uuid.uuid4().hex,
                   "User-Agent": "TwilioProxy/1.1"}
        return requests.post(url, data=params, headers=headers, timeout=10)

    # -- inbound ------------------------------------------------------------------------
    def send_inbound(self, from_: str, to: str, body: str, app_inbound_url: str | None = None,
                     media_urls: tuple[str, ...] | list[str] = ()) -> requests.Response:
        """The phone `from_` texts `to`: post the signed inbound webhook to the app."""
        return self._inbound(from_, to, body, app_inbound_url, tuple(media_urls))[1]

    def _inbound(self, from_, to, body, url, media_urls):
        url = url or next((n["sms_url"] for n in self._numbers.values()
                           if n["phone_number"] == to and n["sms_url"]), None)
        if not url:
            raise ValueError(f"no inbound URL for {to}: pass one or add_number({to!r}, sms_url)")
        sid = ("MM" if media_urls else "SM") + uuid.uuid4().hex
        params = {"ToCountry": country_of(to), "ToState": "", "ToCity": "", "ToZip": "",
                  "FromCountry": country_of(from_), "FromState": "", "FromCity": "", "FromZip": "",
                  "SmsMessageSid": sid, "SmsSid": sid, "MessageSid": sid, "SmsStatus": "received",
                  "NumMedia": str(len(media_urls)), "NumSegments": str(count_segments(body)),
                  "Body": body, "To": to, "From": from_, "AccountSid": self.account_sid,
                  "ApiVersion": "2010-04-01"}
        for index, media_url in enumerate(media_urls):
            params[f"MediaUrl{index}"] = media_url
            params[f"MediaContentType{index}"] = mimetypes.guess_type(media_url)[0] or "image/jpeg"
        message = SandboxMessage(sid, self.account_sid, to, from_, body, "inbound", "received",
                                 media_urls=media_urls)
        with self._lock:
            self._messages[sid] = message
        return message, self.post_signed(url, params)

    # -- the HTTP API -------------------------------------------------------------------
    def create_app(self) -> Flask:
        app = Flask("twilio_sandbox")

        authenticated_ = authenticated(self.account_sid, self.auth_token)

        @app.post(f"{API}/Accounts/<account_sid_in_path>/Messages.json")
        @authenticated_
        def create_message():
            return self._create(request.form)

        @app.get(f"{API}/Accounts/<account_sid_in_path>/Messages/<sid>.json")
        @authenticated_
        def fetch_message(sid):
            with self._lock:
                message = self._messages.get(sid)
                if message is None:
                    return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
                return jsonify(message.resource())

        @app.get(f"{API}/Accounts/<account_sid_in_path>.json")
        @authenticated_
        def fetch_account():
            return jsonify({"sid": self.account_sid, "friendly_name": "Parlons sandbox",
                            "status": "active", "type": "Full", "auth_token": self.auth_token,
                            "owner_account_sid": self.account_sid,
                            "uri": f"{API}/Accounts/{self.account_sid}.json"})

        @app.get(f"{API}/Accounts/<account_sid_in_path>/IncomingPhoneNumbers.json")
        @authenticated_
        def list_numbers():
            wanted = request.args.get("PhoneNumber")
            found = [self._number(n) for n in self._numbers.values()
                     if wanted is None or n["phone_number"] == wanted]
            return jsonify({"incoming_phone_numbers": found, "page": 0, "page_size": 50,
                            "next_page_uri": None, "previous_page_uri": None,
                            "uri": request.full_path})

        @app.post(f"{API}/Accounts/<account_sid_in_path>/IncomingPhoneNumbers/<sid>.json")
        @authenticated_
        def update_number(sid):
            number = self._numbers.get(sid)
            if number is None:
                return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
            for field_name, key in (("SmsUrl", "sms_url"), ("SmsMethod", "sms_method")):
                if field_name in request.form:
                    number[key] = request.form[field_name]
            return jsonify(self._number(number))

        @app.get("/sandbox/ledger")
        def ledger():
            return jsonify({"accepted": self.ledger.accepted, "duplicates": self.ledger.duplicates})

        @app.get("/sandbox/phones/<e164>")
        def phone(e164):
            return jsonify(self.inbox(e164))

        @app.post("/sandbox/phones/<e164>/reply")
        def reply(e164):
            data = request.get_json(force=True, silent=True) or {}
            received = self.inbox(e164)
            to = data.get("to") or (received[-1]["from"] if received else None)
            if not to or not isinstance(data.get("body"), str):
                return jsonify({"error": "body (and to, unless this phone got a message) needed"}), 400
            try:
                message, answer = self._inbound(e164, to, data["body"], data.get("app_url"),
                                                tuple(data.get("media_urls") or ()))
            except (ValueError, requests.RequestException) as error:
                return jsonify({"error": str(error)}), 502
            return jsonify({"message_sid": message.sid, "app_status": answer.status_code})

        add_messages_list(self, app)
        return app

    def _number(self, number: dict[str, Any]) -> dict[str, Any]:
        return {**number, "account_sid": self.account_sid,
                "date_created": rfc2822(number["date_created"]),
                "capabilities": {"sms": True, "mms": True, "voice": True},
                "uri": f"{API}/Accounts/{self.account_sid}/IncomingPhoneNumbers/{number['sid']}.json"}

    def _take_switch(self, switch: list) -> bool:
        with self._lock:
            if switch[0] > 0:
                switch[0] -= 1
                return True
            return False

    def _create(self, form):
        if self.latency:
            time.sleep(self.latency)
        fail = self._fail[1:] if self._take_switch(self._fail) else None
        if fail and not fail[1]:
            return failure(fail[0])
        fault = self.faults.draw()
        if fault and fault.mode is FaultMode.FAIL:
            return failure(fault.status)
        if fault and fault.mode is FaultMode.STALL:
            self.faults.hold(fault)
        to = form.get("To", "")
        body = form.get("Body", "")
        sender = form.get("From") or None
        service = form.get("MessagingServiceSid") or None
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not (sender or service):
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not body and not form.getlist("MediaUrl"):
            return twilio_error(400, 21602, "Message body is required.")
        if len(body) > 1600:
            return twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if not is_e164(to):
            return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if to in self._opted_out:
            return twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
        if to in self._invalid:
            return twilio_error(400, 21614, f"'To' number {to} is not a valid mobile number")
        message = self._store(to, sender, service, body, form)
        self.ledger.record(to, body)
        if fault and fault.mode is FaultMode.ACCEPT_THEN_TIMEOUT:
            self.faults.hold(fault)
        if fault and fault.mode is FaultMode.ACCEPT_THEN_5XX:
            return failure(fault.status)
        if fail:
            return failure(fail[0])
        if self._take_switch(self._stall):
            time.sleep(self._stall[1])
        return jsonify(message.resource()), 201

    def _store(self, to, sender, service, body, form) -> SandboxMessage:
        if sender is None:
            sender = next(iter(n["phone_number"] for n in self._numbers.values()), None)
        message = SandboxMessage("SM" + uuid.uuid4().hex, self.account_sid, to, sender, body,
                                 "outbound-api", "queued", messaging_service_sid=service,
                                 status_callback=form.get("StatusCallback") or None,
                                 media_urls=tuple(form.getlist("MediaUrl")))
        outcome = self._failing.get(to)
        steps = ["queued", "sent", "delivered"]
        if outcome:
            steps = ["queued", "failed"] if outcome[0] == "failed" else ["queued", "sent", "undelivered"]
        with self._lock:
            self._messages[message.sid] = message
            if self.deliver:
                self._pending.extend((message.sid, step) for step in steps)
        return message
