"""Vonage (Messages API v1) behind the SMS provider protocol (`integrations.sms`).

Why the Messages API rather than the SMS API: it sends SMS, MMS (US) and RCS through the same
call, echoes our `client_ref` in every status webhook, and signs webhooks with a JWT that
covers the body (`payload_hash`); the SDK's SMS API path answers errors inside a 200 and signs
webhooks with an MD5/SHA hash of form fields. Both are served by the same `vonage` SDK.

`find` reads the Reports API (synchronous records, product MESSAGES, outbound) in windows of at
most 24 hours from `sent_after`, and matches our reference (`client_ref`) and the recipient.
The Reports API is a paid Vonage product and its records appear after Vonage processed the
message, so `None` means "not found yet", not "never sent": the caller decides when to stop
asking.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

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
from integrations.vonage import webhooks
from integrations.vonage.client import InvalidNumber, RejectedContent, VonageClient, digits
from integrations.vonage.schemas import PayloadError

STATUS_MAP: dict[str, Status] = {
    "submitted": Status.SENT, "delivered": Status.DELIVERED, "read": Status.DELIVERED,
    "rejected": Status.FAILED, "undeliverable": Status.UNDELIVERED,
}
# Messages API error codes (developer.vonage.com/api-errors/messages) for the contact.
ERROR_MAP: dict[str, Refusal] = {
    "1240": Refusal.OPTED_OUT,         # Illegal Number: the recipient sent STOP
    "1170": Refusal.INVALID_NUMBER,    # Invalid or Missing Msisdn Param
    "1190": Refusal.INVALID_NUMBER,    # Absent Subscriber Permanent: no longer active
    "1040": Refusal.INVALID_NUMBER,    # Invalid message: unrecognised number prefix
    "1300": Refusal.INVALID_NUMBER,    # Not part of the provider network
    "1120": Refusal.REJECTED_CONTENT,  # Illegal Sender Address
    "1210": Refusal.REJECTED_CONTENT,  # Anti-Spam Rejection
    "1270": Refusal.REJECTED_CONTENT,  # Subscriber Age Restriction
}
WINDOW = timedelta(hours=24)
MAX_CLIENT_REF = 100

CAPABILITIES = Capabilities(
    mms=True,                  # US numbers only (10DLC, toll-free, short code)
    alphanumeric_sender=True,  # SMS, where the destination country allows it
    rcs=True,                  # channel "rcs" with an RCS agent; failover to SMS in the request
    find="Reports API synchronous records (paid) by client_ref and recipient, 24 h windows",
    default_mps={
        (SenderKind.NUMBER, "US"): 1.0,   # 10DLC: set by the campaign's vetting
        (SenderKind.NUMBER, "*"): 30.0,
        (SenderKind.SHORT_CODE, "*"): 30.0,
        (SenderKind.ALPHANUMERIC, "*"): 30.0,
    },
    account_mps=30.0,          # API requests per second per API key, by default
)


def client_ref(reference: str) -> str:
    """Our reference as a `client_ref` (at most 100 characters; longer ones are hashed)."""
    if len(reference) <= MAX_CLIENT_REF:
        return reference
    return "sha256:" + hashlib.sha256(reference.encode()).hexdigest()


def e164(number: str) -> str:
    return number if number.startswith("+") or not number.isdigit() else "+" + number


class VonageProvider:
    name = "vonage"
    capabilities = CAPABILITIES

    def __init__(self, client: VonageClient, signature_secret: str,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client = client
        self._signature_secret = signature_secret
        self._clock = clock

    def send(self, message: OutboundSms) -> SendOutcome:
        if message.sender.kind is SenderKind.MESSAGING_SERVICE:
            return Refused(Refusal.OTHER, None, "Vonage has no messaging services: send from a "
                           "number, short code or alphanumeric sender")
        try:
            message_uuid = self.client.send(
                message.to, message.body, message.sender.value,
                client_ref=client_ref(message.reference), webhook_url=message.status_callback,
                media_urls=message.media_urls)
        except InvalidNumber as error:
            return Refused(Refusal.INVALID_NUMBER, error.code, str(error))
        except RejectedContent as error:
            return Refused(Refusal.REJECTED_CONTENT, error.code, str(error))
        except ApiError as error:
            return refusal_from_error(error)
        return Accepted(message_uuid)

    def verify(self, request: WebhookRequest) -> bool:
        return webhooks.verify_signature(request.body, request.header("Authorization"),
                                         self._signature_secret)

    def parse_status(self, request: WebhookRequest) -> list[StatusUpdate]:
        try:
            update = webhooks.parse_status(request.body)
        except PayloadError as error:
            raise WebhookError(str(error)) from error
        return [StatusUpdate(
            provider_id=update.message_uuid, status=STATUS_MAP[update.status],
            provider_status=update.status, reference=update.client_ref, to=e164(update.to),
            error=ERROR_MAP.get(update.error_code or "", Refusal.OTHER if update.error_code else None),
            error_code=update.error_code, occurred_at=update.timestamp,
        )]

    def parse_inbound(self, request: WebhookRequest) -> InboundSms:
        try:
            sms = webhooks.parse_inbound(request.body)
        except PayloadError as error:
            raise WebhookError(str(error)) from error
        return InboundSms(from_=e164(sms.from_), to=e164(sms.to), text=sms.text,
                          provider_id=sms.message_uuid, received_at=sms.timestamp,
                          media=sms.media_urls)

    def find(self, message: OutboundSms, sent_after: datetime) -> Found | None:
        wanted_ref, wanted_to = client_ref(message.reference), digits(message.to)
        start, now = sent_after - timedelta(seconds=1), self._clock() + timedelta(minutes=1)
        while start < now:
            end = min(start + WINDOW, now)
            for record in self.client.records(start, end, include_message=False):
                if record.get("client_ref") == wanted_ref and record.get("to") == wanted_to:
                    return Found(record["message_id"], STATUS_MAP.get(record.get("status") or ""),
                                 None)
            start = end
        return None


def create(*, api_key: str, api_secret: str, application_id: str, private_key: str,
           signature_secret: str, api_host: str | None = None, timeout: int = 10,
           pool_size: int = 1) -> VonageProvider:
    """The provider from a shop's settings (the registry's factory); `pool_size`: connections
    kept open (as many as requests in flight)."""
    client = VonageClient(api_key=api_key, api_secret=api_secret, application_id=application_id,
                          private_key=private_key, api_host=api_host, timeout=timeout, pool_size=pool_size)
    return VonageProvider(client, signature_secret)
