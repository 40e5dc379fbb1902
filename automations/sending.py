"""What dispatch writes once the provider has answered (or not), a batch at a time.

Besides the statuses of `automations.dispatch`, a message may be:

- `unknown`: handed to the provider, and no answer came back (a timeout, a connection lost
  after the request left, a 5xx after it was sent), or its worker died while sending. It is
  never sent again as is: after a grace period a worker asks the provider (`reconciling`),
  and then closes it as sent (the provider has it) or schedules it again (the provider has
  never heard of it).
- `reconciling`: a worker is asking the provider about it.

A provider's refusal also says something about the contact: opted out with the carrier is a
STOP; an invalid number marks the phone invalid, and no message is sent to it again until the
contact's phone changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import consent, dispatch
from automations.models import Contact, FlowRun, Message, Shop

UNKNOWN = "unknown"
RECONCILING = "reconciling"
IN_FLIGHT = ("sending", RECONCILING)
INVALID_PHONE = dispatch.INVALID_PHONE
OPTED_OUT, INVALID_NUMBER = "opted_out", "invalid_number"  # refusals (integrations.sms.Refusal)


def load_batch(session: Session, messages: Sequence[Message]) -> None:
    """Read the shops, contacts and flow runs of `messages` in three queries, so the checks at
    send time (`dispatch.check_before_send`) find them in the session."""
    held = session.info.setdefault("dispatch_batch", [])  # the session's identity map is weak
    for model, ids in ((Shop, {m.shop_id for m in messages}),
                       (Contact, {m.contact_id for m in messages if m.contact_id}),
                       (FlowRun, {m.flow_run_id for m in messages if m.flow_run_id})):
        if ids:
            held.extend(session.scalars(sa.select(model).where(model.id.in_(ids))))


def load_timeline(session: Session, messages: Sequence[Message]) -> None:
    """Read the timeline entries of `messages` in one query, for `record_result` to update."""
    dispatch.known_entries(session, [m.id for m in messages])


def accepted(session: Session, message: Message, *, provider: str, provider_id: str,
             status: str = "sent", segments: int | None = None, now: datetime) -> None:
    if segments:
        message.segments = segments
    message.claimed_by = None
    dispatch.record_result(session, message, provider=provider, provider_message_id=provider_id,
                           status=status, now=now, flush=False)


def refused(session: Session, message: Message, *, provider: str, reason: str, code: str | None,
            text: str, now: datetime) -> None:
    """Closed as failed: the provider would not take it, and never will."""
    message.claimed_by = None
    dispatch.record_result(session, message, provider=provider, status="failed", error_code=code,
                           reason=text[:500], now=now, flush=False)
    feedback(session, message, reason, code, now)


def feedback(session: Session, message: Message, refusal: str | None, code: str | None,
             now: datetime) -> None:
    """What a provider's error says of the contact: opted out with the carrier is a STOP; an
    invalid number marks the phone invalid (nothing is sent to it until it changes)."""
    contact = session.get(Contact, message.contact_id) if message.contact_id else None
    if contact is None or contact.phone_e164 != message.to_phone:
        return
    if refusal == OPTED_OUT and contact.opted_out_at is None:
        consent.opt_out(session, contact, "carrier",
                        {"provider": message.provider, "provider_error": code, "message_id": message.id}, now)
    elif refusal == INVALID_NUMBER and not (contact.phone_error or "").startswith(INVALID_PHONE):
        contact.phone_error = f"{INVALID_PHONE} (the provider said so: error {code or 'unknown'})"
        contact.updated_at = now


def apply_report(session: Session, provider: str, provider_id: str, status: str, error_code: str | None,
                 refusal: str | None, now: datetime) -> Message | None:
    """A delivery report (`dispatch.apply_status`) and what its error says of the contact
    (`refusal`: the provider's `StatusUpdate.error`, e.g. `opted_out`, `invalid_number`)."""
    message = dispatch.apply_status(session, provider, provider_id, status, error_code, now)
    if message is not None and refusal:
        feedback(session, message, refusal, error_code, now)
    return message


def retry_later(message: Message, *, send_at: datetime, reason: str, now: datetime) -> None:
    """Not taken by the provider (rate limit, failure before accepting): scheduled again."""
    message.status, message.send_at, message.status_reason = "scheduled", send_at, reason[:500]
    message.claimed_by = None
    message.updated_at = now


def unknown(message: Message, *, reason: str, now: datetime) -> None:
    """The provider may have it: reconcile after the grace period, never resend as is."""
    message.status, message.status_reason = UNKNOWN, reason[:500]
    message.claimed_by = None
    message.updated_at = now


def lookup_impossible(session: Session, message: Message, *, reason: str, now: datetime) -> None:
    """The provider offers no way to look it up: closed as failed, not resent (a second copy on
    the customer's phone is worse than a missing one)."""
    message.claimed_by = None
    dispatch.record_result(session, message, provider=message.provider or "", status="failed",
                           reason=f"outcome unknown and the provider cannot tell: {reason}"[:500], now=now)


def claim_unknown(session: Session, older_than: datetime, limit: int, worker: str,
                  now: datetime) -> list[Message]:
    """Take up to `limit` unknown outcomes last touched before `older_than` to ask the provider
    about them (status -> reconciling, claimed by `worker`)."""
    query = (sa.select(Message.id).where(Message.status == UNKNOWN, Message.updated_at < older_than)
             .order_by(Message.updated_at).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if not ids:
        return []
    claimed = list(session.scalars(
        sa.update(Message).where(Message.id.in_(ids), Message.status == UNKNOWN)
        .values(status=RECONCILING, claimed_by=worker, updated_at=now)
        .returning(Message.id).execution_options(synchronize_session=False)))
    return list(session.scalars(sa.select(Message).where(Message.id.in_(claimed))
                                .execution_options(populate_existing=True)))
