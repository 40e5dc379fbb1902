"""The sandbox's messages as Twilio shows them, their segments, and Twilio's error shapes."""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import wraps
from typing import Any

import phonenumbers
from flask import jsonify, request

API = "/2010-04-01"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"  # on webhooks Twilio posts, not on API requests
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
DELIVERY_ERRORS = {30003: "Unreachable destination handset", 30005: "Unknown destination handset",
                   30006: "Landline or unreachable carrier", 30008: "Unknown error"}


def count_segments(body: str) -> int:
    """Parts an SMS body takes: GSM-7 160 (153 per part), else UCS-2 70 (67 per part)."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in body):
        units, single, part = sum(2 if c in GSM7_EXTENDED else 1 for c in body), 160, 153
    else:
        units, single, part = len(body.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else -(-units // part)


def rfc2822(moment: datetime | None) -> str | None:
    return moment.strftime("%a, %d %b %Y %H:%M:%S +0000") if moment else None


def twilio_error(status: int, code: int, message: str):
    body = {"code": code, "message": message, "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}"}
    return jsonify(body), status


@dataclass
class SandboxMessage:
    sid: str
    account_sid: str
    to: str
    from_: str | None
    body: str
    direction: str
    status: str
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    media_urls: tuple[str, ...] = ()
    error_code: int | None = None
    error_message: str | None = None
    date_created: datetime = field(default_factory=lambda: datetime.now(UTC))
    date_updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    date_sent: datetime | None = None

    def resource(self) -> dict[str, Any]:
        uri = f"{API}/Accounts/{self.account_sid}/Messages/{self.sid}.json"
        return {
            "account_sid": self.account_sid, "api_version": "2010-04-01", "body": self.body,
            "date_created": rfc2822(self.date_created), "date_sent": rfc2822(self.date_sent),
            "date_updated": rfc2822(self.date_updated), "direction": self.direction,
            "error_code": self.error_code, "error_message": self.error_message,
            "from": self.from_, "messaging_service_sid": self.messaging_service_sid,
            "num_media": str(len(self.media_urls)), "num_segments": str(count_segments(self.body)),
            "price": None, "price_unit": "USD", "sid": self.sid, "status": self.status,
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": self.to, "uri": uri,
        }


@dataclass(frozen=True)
class PostedCallback:
    message_sid: str
    status: str
    url: str
    http_status: int | None


def failure(status: int):
    if status == 429:
        return twilio_error(429, 20429, "Too Many Requests")
    return twilio_error(status, 20500, "An internal server error has occurred")


def is_e164(number: str) -> bool:
    if not E164.match(number):
        return False
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(number))
    except phonenumbers.NumberParseException:
        return False


def country_of(e164: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164)) or ""
    except phonenumbers.NumberParseException:
        return ""


def authenticated(account_sid: str, auth_token: str) -> Callable:
    """A route decorator: HTTP Basic auth with the account's SID and token, and the account in
    the path, answered as Twilio does (401 with code 20003, 404 with 20404)."""
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(account_sid_in_path: str, **kwargs: Any) -> Any:
            auth = request.authorization
            if (auth is None or not hmac.compare_digest(auth.username or "", account_sid)
                    or not hmac.compare_digest(auth.password or "", auth_token)):
                response, status = twilio_error(401, 20003, "Authenticate")
                response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
                return response, status
            if account_sid_in_path != account_sid:
                return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
            return view(**kwargs)
        return wrapper
    return decorate
