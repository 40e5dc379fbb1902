"""Twilio behind the SMS provider protocol (`integrations.sms`).

Send through `TwilioClient` (one per sender: a number, short code or alphanumeric sender goes in
`From`, a messaging service in `MessagingServiceSid`); webhooks through `webhooks.py`; `find`
through the Messages list filtered by To and From, matched on the body and the creation time.
Twilio stores no client reference on a Message, so our reference cannot be matched there: two
messages with the same text to the same phone from the same sender after `sent_after` are one
match for `find` (either proves a copy went out, which is what reconciliation needs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime

from integrations.errors import ApiError
from integrations.retry import DEFAULT_POLICY, RetryPolicy
from integrations.sms import (
    Accepted,
    Capabilities,
    Found,
    InboundSms,
    OutboundSms,
    Refusal,
    Refused,
    SenderKind,
    SendOutcome,
    Status,
    StatusUpdate,
    WebhookError,
    WebhookRequest,
    refusal_from_error,
)
from integrations.twilio import webhooks
from integrations.twilio.client import InvalidNumber, OptedOut, TwilioClient
from integrations.twilio.schemas import PayloadError

# Twilio's message statuses in ours; statuses of inbound messages have no place here.
STATUS_MAP: dict[str, Status] = {
    "accepted": Status.QUEUED, "scheduled": Status.QUEUED, "queued": Status.QUEUED,
    "sending": Status.QUEUED, "sent": Status.SENT, "delivered": Status.DELIVERED,
    "read": Status.DELIVERED, "undelivered": Status.UNDELIVERED, "failed": Status.FAILED,
    "canceled": Status.FAILED, "partially_delivered": Status.PARTIALLY_DELIVERED,
}
# Twilio error codes (https://www.twilio.com/docs/api/errors) and what they say of the contact.
ERROR_MAP: dict[int, Refusal] = {
    21610: Refusal.OPTED_OUT,        # Attempt to send to unsubscribed recipient
    21211: Refusal.INVALID_NUMBER,   # Invalid 'To' Phone Number
    21614: Refusal.INVALID_NUMBER,   # 'To' number is not a valid mobile number
    30005: Refusal.INVALID_NUMBER,   # Unknown destination handset
    30006: Refusal.INVALID_NUMBER,   # Landline or unreachable carrier
    21602: Refusal.REJECTED_CONTENT,  # Message body is required
    21617: Refusal.REJECTED_CONTENT,  # Concatenated body exceeds the 1600 character limit
    30007: Refusal.REJECTED_CONTENT,  # Message filtered (carrier violation)
    21606: Refusal.REJECTED_CONTENT,  # 'From' number is not a valid, SMS-capable sender
}

CAPABILITIES = Capabilities(
    mms=True,                 # MMS to the US and Canada from US/CA numbers and toll-free
    alphanumeric_sender=True,  # where the destination country supports it (not US/CA)
    rcs=True,                 # through a Messaging Service with an RCS sender, SMS fallback
    find="Messages list filtered by To and From, newest first, matched on body and created time",
    default_mps={
        (SenderKind.NUMBER, "US"): 1.0, (SenderKind.NUMBER, "CA"): 1.0,
        (SenderKind.NUMBER, "*"): 10.0,
        (SenderKind.SHORT_CODE, "*"): 100.0,
        (SenderKind.ALPHANUMERIC, "*"): 10.0,
        (SenderKind.MESSAGING_SERVICE, "*"): 10.0,
    },
)


def _twilio_date(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None


def _refused(error: ApiError) -> SendOutcome:
    code = int(error.code) if error.code and error.code.isdigit() else None
    if isinstance(error, OptedOut | InvalidNumber) or code in ERROR_MAP:
        reason = Refusal.OPTED_OUT if isinstance(error, OptedOut) else ERROR_MAP.get(
            code, Refusal.INVALID_NUMBER)
        return Refused(reason, error.code, str(error))
    return refusal_from_error(error)


class TwilioProvider:
    name = "twilio"
    capabilities = CAPABILITIES

    def __init__(self, account_sid: str, auth_token: str, *, base_url: str | None = None,
                 timeout: float = 10.0, retry_policy: RetryPolicy = DEFAULT_POLICY,
                 sleep: Callable[[float], None] | None = None, pool_size: int = 10) -> None:
        self.account_sid = account_sid
        self._auth_token = auth_token
        self._options = {"base_url": base_url, "timeout": timeout, "retry_policy": retry_policy,
                         "pool_size": pool_size}
        if sleep is not None:
            self._options["sleep"] = sleep
        self._clients: dict[tuple[SenderKind, str], TwilioClient] = {}
        self._lock = threading.Lock()

    def client(self, kind: SenderKind, value: str) -> TwilioClient:
        """The client sending from this sender (made once, kept)."""
        with self._lock:
            if (kind, value) not in self._clients:
                sender = ({"messaging_service_sid": value} if kind is SenderKind.MESSAGING_SERVICE
                          else {"from_number": value})
                self._clients[(kind, value)] = TwilioClient(
                    self.account_sid, self._auth_token, **sender, **self._options)
            return self._clients[(kind, value)]

    def send(self, message: OutboundSms) -> SendOutcome:
        client = self.client(message.sender.kind, message.sender.value)
        try:
            result = client.send(message.to, message.body, status_callback=message.status_callback,
                                 media_urls=message.media_urls)
        except ApiError as error:
            return _refused(error)
        return Accepted(result.sid, result.segments, result.price, "USD" if result.price else None)

    def verify(self, request: WebhookRequest) -> bool:
        return webhooks.verify_signature(request.url, request.form,
                                         request.header(webhooks.SIGNATURE_HEADER), self._auth_token)

    def parse_status(self, request: WebhookRequest) -> list[StatusUpdate]:
        try:
            update = webhooks.parse_status(request.form)
        except PayloadError as error:
            raise WebhookError(str(error)) from error
        status = STATUS_MAP.get(update.status)
        if status is None:  # a status of an inbound message: nothing to record
            return []
        return [StatusUpdate(
            provider_id=update.message_sid, status=status, provider_status=update.status,
            to=update.to, error=ERROR_MAP.get(update.error_code) if update.error_code else None,
            error_code=str(update.error_code) if update.error_code is not None else None,
        )]

    def parse_inbound(self, request: WebhookRequest) -> InboundSms:
        try:
            sms = webhooks.parse_inbound(request.form)
        except PayloadError as error:
            raise WebhookError(str(error)) from error
        return InboundSms(from_=sms.from_, to=sms.to, text=sms.body, provider_id=sms.message_sid,
                          media=sms.media_urls,
                          opt_out=(request.form.get("OptOutType") or "").upper() == "STOP")

    def find(self, message: OutboundSms, sent_after: datetime) -> Found | None:
        client = self.client(message.sender.kind, message.sender.value)
        matches = client.find_sent(message.to, message.body, sent_after)
        if not matches:
            return None
        first = min(matches, key=lambda m: _twilio_date(m.get("date_created")) or sent_after)
        return Found(first["sid"], STATUS_MAP.get(first.get("status") or ""),
                     _twilio_date(first.get("date_sent")))


def create(*, account_sid: str, auth_token: str, base_url: str | None = None,
           timeout: float = 10.0, pool_size: int = 10) -> TwilioProvider:
    """The provider from a shop's settings (the registry's factory); `pool_size`: connections
    kept open per sender (as many as requests in flight)."""
    return TwilioProvider(account_sid, auth_token, base_url=base_url, timeout=timeout,
                          pool_size=pool_size)
