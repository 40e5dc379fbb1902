"""The SMS provider protocol: what Parlons asks of every provider, in Parlons' own words.

A provider (Twilio, Vonage, Brevo, ...) is an integration package whose `provider.py` adapts its
client and webhooks to these types. Nothing here knows a provider; `integrations.providers`
lists them.

- `send(OutboundSms)` gives exactly one `SendOutcome`: `Accepted`, `Refused` (one of our
  `Refusal` classes) or `Unknown` (the request may have reached the provider and no answer
  came back: the caller must reconcile with `find`, never resend).
- `verify(WebhookRequest)` checks a webhook's signature or credentials.
- `parse_status` reads a delivery receipt into `StatusUpdate`s (one `Status` enum for all);
  `parse_inbound` reads an incoming message into `InboundSms`.
- `find(message, sent_after)` looks the message up at the provider (by our reference, the
  recipient, the sender and, where the provider keeps no reference, the body) among those
  created since `sent_after`; it raises `LookupUnavailable` when the provider offers no way.
- `capabilities` says what the provider can do and its default messages per second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from integrations.errors import ApiError, RateLimited, Unauthorized
from integrations.outcome import OutcomeUnknown


class SenderKind(StrEnum):
    NUMBER = "number"                      # a long code in E.164 (+33757000001)
    SHORT_CODE = "short_code"              # 5-6 digits (36180)
    ALPHANUMERIC = "alphanumeric"          # up to 11 letters and digits (PARLONS)
    MESSAGING_SERVICE = "messaging_service"  # a provider-side pool of senders (Twilio MG...)


@dataclass(frozen=True)
class Sender:
    kind: SenderKind
    value: str


@dataclass(frozen=True)
class OutboundSms:
    to: str                                  # E.164 with its +
    body: str
    sender: Sender
    reference: str                           # the message's idempotency key: our marker
    status_callback: str | None = None       # where the provider posts delivery receipts
    media_urls: tuple[str, ...] = ()         # MMS only, where the provider has it


class Refusal(StrEnum):
    """Why a provider would not take (or deliver) a message, in our words."""

    OPTED_OUT = "opted_out"                  # the recipient opted out with the carrier (STOP)
    INVALID_NUMBER = "invalid_number"        # not a (reachable) mobile number
    REJECTED_CONTENT = "rejected_content"    # body, sender or media refused
    UNAUTHORIZED = "unauthorized"            # credentials wrong, revoked or not allowed
    RATE_LIMITED = "rate_limited"            # too fast: wait `retry_after` when given
    OTHER = "other"


@dataclass(frozen=True)
class Accepted:
    provider_id: str
    segments: int | None = None
    price: Decimal | None = None
    price_unit: str | None = None


@dataclass(frozen=True)
class Refused:
    reason: Refusal
    code: str | None
    message: str
    retry_after: float | None = None
    transient: bool = False                  # not taken now, may be taken later (never sent, 429)

    @property
    def may_retry(self) -> bool:
        """Sending again later is safe after any refusal (nothing was accepted); it is only
        worth it for a rate limit or a transient failure: the others never change by waiting."""
        return self.transient or self.reason is Refusal.RATE_LIMITED


@dataclass(frozen=True)
class Unknown:
    """The request may have been accepted. Reconcile with `find` before anything else."""

    message: str


SendOutcome = Accepted | Refused | Unknown


class Status(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    PARTIALLY_DELIVERED = "partially_delivered"


FINAL_STATUSES = frozenset({Status.DELIVERED, Status.UNDELIVERED, Status.FAILED,
                            Status.PARTIALLY_DELIVERED})


@dataclass(frozen=True)
class StatusUpdate:
    provider_id: str
    status: Status
    provider_status: str                     # the provider's own word, kept for the record
    reference: str | None = None             # our marker, when the provider echoes it
    to: str | None = None
    error: Refusal | None = None             # what the error code means for the contact
    error_code: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class InboundSms:
    from_: str                               # E.164 with its +
    to: str                                  # our number or short code, as the provider gives it
    text: str
    provider_id: str
    received_at: datetime | None = None
    media: tuple[str, ...] = ()
    opt_out: bool = False                    # the provider reports it as an opt-out (STOP)


@dataclass(frozen=True)
class WebhookRequest:
    """A webhook as it reached us: the URL the provider called, headers, raw body, form."""

    url: str
    headers: Mapping[str, str]
    body: bytes = b""
    form: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


@dataclass(frozen=True)
class Found:
    """What the provider knows of a message `find` matched."""

    provider_id: str
    status: Status | None
    sent_at: datetime | None = None


class WebhookError(ValueError):
    """A webhook body we cannot read: a required field missing or a value of the wrong kind."""


class LookupUnavailable(Exception):
    """The provider offers no way to look a message up: an unknown outcome cannot be settled
    by asking it, only by policy (the caller decides; never by a blind resend)."""


@dataclass(frozen=True)
class Capabilities:
    mms: bool
    alphanumeric_sender: bool
    rcs: bool
    find: str                                # how `find` works, or why it cannot
    # default messages per second by (sender kind, ISO country or "*"), as documented
    default_mps: Mapping[tuple[SenderKind, str], float] = field(default_factory=dict)
    account_mps: float | None = None         # the account's API request limit, when documented

    @property
    def can_find(self) -> bool:
        return not self.find.startswith("unavailable")

    def mps(self, kind: SenderKind, country: str = "*") -> float | None:
        """Default messages per second for a sender of `kind` sending to `country`."""
        return self.default_mps.get((kind, country.upper()), self.default_mps.get((kind, "*")))


@runtime_checkable
class SmsProvider(Protocol):
    name: str
    capabilities: Capabilities

    def send(self, message: OutboundSms) -> SendOutcome: ...

    def verify(self, request: WebhookRequest) -> bool: ...

    def parse_status(self, request: WebhookRequest) -> list[StatusUpdate]: ...

    def parse_inbound(self, request: WebhookRequest) -> InboundSms: ...

    def find(self, message: OutboundSms, sent_after: datetime) -> Found | None: ...


def refusal_from_error(error: Exception) -> Refused | Unknown | None:
    """Our outcome for an `integrations.errors` exception raised by a provider client's send."""
    if isinstance(error, OutcomeUnknown):
        return Unknown(str(error))
    if isinstance(error, RateLimited):
        return Refused(Refusal.RATE_LIMITED, error.code, str(error), error.retry_after, True)
    if isinstance(error, Unauthorized):
        return Refused(Refusal.UNAUTHORIZED, error.code, str(error))
    if isinstance(error, ApiError):
        code = error.code or (str(error.status) if error.status else None)
        return Refused(Refusal.OTHER, code, str(error), error.retry_after, error.retryable)
    return None
