"""Brevo (transactional SMS) behind the SMS provider protocol (`integrations.sms`).

What Brevo lacks, said plainly: no MMS, no RCS, no messaging services, no short codes it lets
us choose (the sender is an alphanumeric name or a number), no signed webhooks (a bearer token
or Basic credentials instead), and no look-up of one message by a reference of ours. `find`
uses what Brevo does document: the transactional SMS events report filtered by phone number,
by our reference sent as the message's `tag`, and by day (Brevo's granularity); that report
endpoint is limited to 100 requests per hour on standard plans, and events appear once Brevo
processed the message, so `None` means "not found yet".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit, urlunsplit

from integrations.brevo import webhooks
from integrations.brevo.client import BrevoClient, InvalidNumber, RejectedContent
from integrations.brevo.schemas import PayloadError
from integrations.errors import ApiError
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

STATUS_MAP: dict[str, tuple[Status, Refusal | None]] = {
    "accepted": (Status.QUEUED, None),
    "sent": (Status.SENT, None),
    "delivered": (Status.DELIVERED, None),
    "soft_bounce": (Status.UNDELIVERED, None),                   # temporary: phone off, full
    "hard_bounce": (Status.UNDELIVERED, Refusal.INVALID_NUMBER),  # the number does not exist
    "blocked": (Status.FAILED, Refusal.OPTED_OUT),                # the number is blacklisted
    "skip": (Status.FAILED, Refusal.OPTED_OUT),
    "rejected": (Status.FAILED, Refusal.REJECTED_CONTENT),
}
REPLIES = frozenset({"reply", "replied"})
UNSUBSCRIPTIONS = frozenset({"unsubscribed", "unsubscribe"})
FOUND_EVENTS = frozenset({"accepted", "sent", "delivered", "softBounce", "hardBounce", "blocked",
                          "rejected", "skip"})
EVENT_STATUS = {"accepted": Status.QUEUED, "sent": Status.SENT, "delivered": Status.DELIVERED,
                "softBounce": Status.UNDELIVERED, "hardBounce": Status.UNDELIVERED,
                "blocked": Status.FAILED, "rejected": Status.FAILED, "skip": Status.FAILED}

CAPABILITIES = Capabilities(
    mms=False,
    alphanumeric_sender=True,   # up to 11 characters, where the destination country allows it
    rcs=False,
    find="transactional SMS events report by phone number and our tag, by day (100 requests/hour)",
    default_mps={},             # Brevo documents no per-sender rate, only its API limit
    account_mps=150.0,          # POST /v3/transactionalSMS/sms: 150 requests/s (200 Enterprise)
)


def with_basic_auth(url: str, user: str, password: str) -> str:
    """`url` carrying `user:password`, the form Brevo documents for a webhook with Basic auth."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"))


class BrevoProvider:
    name = "brevo"
    capabilities = CAPABILITIES

    def __init__(self, client: BrevoClient, *, webhook_token: str | None = None,
                 webhook_basic: tuple[str, str] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client = client
        self._token = webhook_token
        self._basic = webhook_basic
        self._clock = clock

    def send(self, message: OutboundSms) -> SendOutcome:
        if message.media_urls:
            return Refused(Refusal.REJECTED_CONTENT, None, "Brevo sends no MMS: media cannot go")
        if message.sender.kind in (SenderKind.MESSAGING_SERVICE, SenderKind.SHORT_CODE):
            return Refused(Refusal.OTHER, None, f"Brevo cannot send from a {message.sender.kind}")
        web_url = message.status_callback
        if web_url and self._basic:
            web_url = with_basic_auth(web_url, *self._basic)
        sender = message.sender.value.removeprefix("+")
        try:
            result = self.client.send(message.to, message.body, sender, tag=message.reference,
                                      web_url=web_url)
        except InvalidNumber as error:
            return Refused(Refusal.INVALID_NUMBER, error.code, str(error))
        except RejectedContent as error:
            return Refused(Refusal.REJECTED_CONTENT, error.code, str(error))
        except ApiError as error:
            return refusal_from_error(error)
        return Accepted(result["message_id"], result["sms_count"])

    def verify(self, request: WebhookRequest) -> bool:
        return webhooks.verify_authorization(request.header("Authorization"), token=self._token,
                                             basic=self._basic)

    def _event(self, request: WebhookRequest):
        try:
            return webhooks.parse_event(request.body)
        except PayloadError as error:
            raise WebhookError(str(error)) from error

    def parse_status(self, request: WebhookRequest) -> list[StatusUpdate]:
        event = self._event(request)
        if event.msg_status not in STATUS_MAP:  # a reply or a (un)subscription: not a status
            return []
        status, error = STATUS_MAP[event.msg_status]
        return [StatusUpdate(
            provider_id=event.message_id, status=status, provider_status=event.msg_status,
            reference=event.tags[0] if event.tags else None, to="+" + event.to.removeprefix("+"),
            error=error, error_code=event.msg_status if error else None,
        )]

    def parse_inbound(self, request: WebhookRequest) -> InboundSms:
        """A reply, or an unsubscription (the phone's STOP, with the text Brevo does not give)."""
        event = self._event(request)
        if event.msg_status not in REPLIES | UNSUBSCRIPTIONS:
            raise WebhookError(f"{event.msg_status} is a delivery event, not an inbound message")
        return InboundSms(from_="+" + event.to.removeprefix("+"), to="", text=event.reply or "",
                          provider_id=f"{event.message_id}:{event.msg_status}",
                          opt_out=event.msg_status in UNSUBSCRIPTIONS)

    def find(self, message: OutboundSms, sent_after: datetime) -> Found | None:
        start = (sent_after - timedelta(days=1)).date()  # Brevo's dates are days, in its zone
        end = (self._clock() + timedelta(days=1)).date()
        events = self.client.events(message.to, start, end, tags=[message.reference])
        matching = [e for e in events if e.get("tag") == message.reference
                    and e.get("event") in FOUND_EVENTS and e.get("messageId")]
        if not matching:
            return None
        latest = max(matching, key=lambda e: e.get("date") or "")
        return Found(str(latest["messageId"]), EVENT_STATUS.get(latest.get("event") or ""))


def create(*, api_key: str, webhook_token: str | None = None,
           webhook_basic: tuple[str, str] | None = None, base_url: str | None = None,
           timeout: float = 10.0) -> BrevoProvider:
    """The provider from a shop's settings (the registry's factory)."""
    return BrevoProvider(BrevoClient(api_key, base_url=base_url, timeout=timeout),
                         webhook_token=webhook_token, webhook_basic=webhook_basic)
