"""Send-time decisions: which messages are due, whether each may still go, what became of it.

The connector's worker claims due messages (`claim_due`), asks `check_before_send` for each,
hands the ones that may go to the provider and records the outcome (`record_result`); status
callbacks land in `apply_status`. A message is never claimed twice and never silently dropped:

- `scheduled` waiting for its `send_at` (deferred ones say why in `status_reason`)
- `sending` claimed by a worker
- `unknown` handed to the provider without an answer; `reconciling` while the provider is asked
  (see `automations.sending`): then `sent`, or `scheduled` again if the provider never had it
- `sent` handed to the provider; then `delivered`, `partially_delivered` (some parts of a split
  message only), `undelivered` or `failed` (final)
- `suppressed` not sent, and why (opted out, no consent, cap reached, shop uninstalled…)
- `cancelled` no longer wanted (an order ended the cart flow, the contact opted out…)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import caps, chunk, webhooks, windows
from automations.models import Contact, FlowRun, Message, Shop, TimelineEntry
from automations.shops import policy_for

FINAL = frozenset({"delivered", "partially_delivered", "undelivered", "failed", "suppressed", "cancelled"})
# Provider statuses, in the order a message moves through them.
_RANK = {"scheduled": 0, "sending": 1, "sent": 2, "delivered": 3, "partially_delivered": 3, "undelivered": 3,
         "failed": 3}
INVALID_PHONE = "invalid number"  # how contact.phone_error starts once a provider said so
_ENTRIES = "dispatch_timeline_entries"  # session.info: timeline entries read for a batch
_PROVIDER_STATUS = {
    "accepted": "sent", "queued": "sent", "sending": "sent", "sent": "sent",
    "delivered": "delivered", "read": "delivered", "undelivered": "undelivered",
    "partially_delivered": "partially_delivered",  # some parts of a split message only
    "failed": "failed", "canceled": "failed", "cancelled": "failed",
}


@dataclass(frozen=True)
class Decision:
    """What to do with a claimed message: send it now, or not (and its new status says why)."""

    send: bool
    status: str  # sending | scheduled (deferred) | suppressed | cancelled
    reason: str | None = None
    send_at: datetime | None = None


def _due(now: datetime) -> tuple[sa.ColumnElement[bool], ...]:
    return Message.status == "scheduled", Message.direction == "outbound", Message.send_at <= now


def has_due(session: Session, now: datetime) -> bool:
    """Whether any outbound message is due (what claim_due would take)."""
    return session.scalar(sa.select(Message.id).where(*_due(now)).limit(1)) is not None


def claim_due(session: Session, now: datetime, limit: int = 100) -> list[Message]:
    """Take up to `limit` due outbound messages for this worker (status -> sending).

    Commit right after: the claim is what keeps other workers off these messages.
    """
    query = sa.select(Message.id).where(*_due(now)).order_by(Message.send_at, Message.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if not ids:
        return []
    claimed = list(session.scalars(
        sa.update(Message)
        .where(Message.id.in_(ids), Message.status == "scheduled")
        .values(status="sending", updated_at=now)
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    ))
    messages = list(session.scalars(
        sa.select(Message).where(Message.id.in_(claimed)).order_by(Message.send_at, Message.id)
        .execution_options(populate_existing=True)
    ))
    return messages


def check_before_send(session: Session, message: Message, now: datetime, redis_conn) -> Decision:  # noqa: ANN001
    """Re-check everything that may have changed since the message was created, and apply it."""
    shop = session.get(Shop, message.shop_id)
    contact = session.get(Contact, message.contact_id) if message.contact_id else None
    marketing = message.kind == "marketing"
    if shop is None or not shop.active:
        return _stop(message, "suppressed", "shop uninstalled", now)
    if contact is None or contact.deleted_at is not None or contact.redacted_at is not None:
        return _stop(message, "suppressed", "contact deleted", now)
    if contact.opted_out_at is not None and message.kind != "system":
        return _stop(message, "suppressed", "contact opted out", now)
    if marketing and contact.consent_status != "subscribed":
        return _stop(message, "suppressed", "no marketing consent", now)
    if not message.to_phone:
        return _stop(message, "suppressed", "no valid phone", now)
    if contact.phone_error and contact.phone_e164 == message.to_phone and contact.phone_error.startswith(
            INVALID_PHONE):
        return _stop(message, "suppressed", "phone marked invalid by the provider", now)
    if message.flow_run_id is not None:
        run = session.get(FlowRun, message.flow_run_id)
        if run is not None and run.status == "exited":
            return _stop(message, "cancelled", f"flow exited: {run.exit_reason}", now)
    automated = marketing or message.flow_run_id is not None
    if automated and contact.paused_until is not None and contact.paused_until > now:
        return _defer(message, contact.paused_until, "paused while a person handles the conversation", now)
    policy = policy_for(shop)
    window = windows.next_send_time(message.to_phone, now, policy, marketing)
    if window.send_at > now:
        return _defer(message, window.send_at, window.deferred_reason, now)
    if marketing:
        cap = caps.reserve(redis_conn, shop.id, contact.id, now, policy, f"message:{message.id}")
        if not cap.allowed:
            return _stop(message, "suppressed", cap.reason, now)
    message.status = "sending"
    return Decision(send=True, status="sending")


def record_result(
    session: Session,
    message: Message,
    *,
    provider: str,
    provider_message_id: str | None = None,
    status: str,
    error_code: str | None = None,
    reason: str | None = None,
    now: datetime,
    flush: bool = True,
) -> Message:
    """What the provider said when we handed it the message (its status in the provider's words).
    A batch passes `flush=False` and lets its commit write everything at once."""
    message.provider = provider
    if provider_message_id:
        message.provider_message_id = provider_message_id
    message.error_code = error_code
    message.status_reason = reason
    before = message.status
    _move(message, _PROVIDER_STATUS.get(status, "failed"), now)
    if message.status in ("sent", "delivered") and message.sent_at is None:
        message.sent_at = now
    _log(session, message, now)
    webhooks.message_status_changed(session, message, before)
    if flush:
        session.flush()
    return message


def known_entries(session: Session, message_ids: list[int]) -> None:
    """Read the timeline entries of these messages at once; `_log` then looks there first."""
    keys = [f"sms_out:{i}" for i in message_ids]
    known = session.info.setdefault(_ENTRIES, {})
    known.update({key: None for key in keys})
    for entry in session.scalars(sa.select(TimelineEntry).where(TimelineEntry.key.in_(keys))):
        known[entry.key] = entry


def apply_status(
    session: Session,
    provider: str,
    provider_message_id: str,
    status: str,
    error_code: str | None,
    now: datetime,
) -> Message | None:
    """A delivery report: moves a message forward, never back (final statuses stay); what its
    error code says of the contact is `automations.sending.apply_report`'s."""
    message = session.scalars(
        sa.select(Message).where(
            Message.provider == provider, Message.provider_message_id == provider_message_id
        )
    ).first()
    if message is None:
        return None
    before = message.status
    _move(message, _PROVIDER_STATUS.get(status, before), now)
    if message.status != before:
        if error_code:
            message.error_code = error_code
        _log(session, message, now)
        webhooks.message_status_changed(session, message, before)
        session.flush()
    return message


def cancel_scheduled(
    session: Session,
    *,
    reason: str,
    now: datetime,
    contact_id: int | None = None,
    flow_runs: Iterable[FlowRun] | None = None,
    marketing_only: bool = False,
) -> list[int | Message]:
    """Cancel messages still waiting (of a contact, or of flow runs), saying why.

    Returns their ids; while a chunk of events is handled, a message not written yet is given as
    itself (its id once the chunk is written)."""
    runs = list(flow_runs) if flow_runs is not None else None
    where = [Message.status == "scheduled", Message.direction == "outbound"]
    if contact_id is not None:
        where.append(Message.contact_id == contact_id)
    if runs is not None:
        where.append(Message.flow_run_id.in_([r.id for r in runs if r.id is not None]))
    if marketing_only:
        where.append(Message.kind == "marketing")
    messages = list(session.scalars(sa.select(Message).where(*where)))
    loaded = chunk.active(session)
    if loaded is not None:  # the database does not have this chunk's messages yet
        messages += [m for m in session.new if isinstance(m, Message) and m.direction == "outbound"
                     and (contact_id is None or m.contact_id == contact_id)
                     and (runs is None or any(m.flow_run is r for r in runs))
                     and (not marketing_only or m.kind == "marketing")]
        messages = [m for m in messages if m.status == "scheduled"]  # as changed in this chunk
    for message in messages:
        message.status = "cancelled"
        message.status_reason = reason
        message.updated_at = now
    if loaded is None:
        session.flush()
    return [m.id if m.id is not None else m for m in messages]


def end_flow_runs(
    session: Session, runs: Iterable[FlowRun], *, reason: str, now: datetime
) -> list[int | FlowRun]:
    """Exit active flow runs and cancel what they still had scheduled; the runs' ids (a run not
    written yet, while a chunk of events is handled, is given as itself)."""
    ended = [run for run in runs if run.status == "active"]
    for run in ended:
        run.status = "exited"
        run.exit_reason = reason
        run.next_at = None
        run.updated_at = now
    if ended:
        cancel_scheduled(session, reason=reason, now=now, flow_runs=ended)
    return [run.id if run.id is not None else run for run in ended]


def _stop(message: Message, status: str, reason: str | None, now: datetime) -> Decision:
    message.status = status
    message.status_reason = reason
    message.updated_at = now
    return Decision(send=False, status=status, reason=reason)


def _defer(message: Message, send_at: datetime, reason: str | None, now: datetime) -> Decision:
    message.status = "scheduled"
    message.send_at = send_at
    message.status_reason = reason
    message.updated_at = now
    return Decision(send=False, status="scheduled", reason=reason, send_at=send_at)


def _move(message: Message, status: str, now: datetime) -> None:
    if message.status in FINAL:
        return
    if _RANK.get(status, 0) < _RANK.get(message.status, 0):
        return
    message.status = status
    message.updated_at = now
    if status == "delivered":
        message.delivered_at = now


def _log(session: Session, message: Message, now: datetime) -> None:
    """One timeline entry per outbound message, its body kept up to date with the status."""
    if message.status not in ("sent", "delivered", "undelivered", "failed"):
        return
    key = f"sms_out:{message.id}"
    body = f"SMS {message.status}: {message.body or ''}"
    if message.error_code:
        body += f" (error {message.error_code})"
    known = session.info.get(_ENTRIES, {})
    if key in known:
        entry = known[key]
    else:
        entry = session.scalars(sa.select(TimelineEntry).where(TimelineEntry.key == key)).first()
    if entry is None:
        entry = TimelineEntry(
            shop_id=message.shop_id, contact_id=message.contact_id, kind="sms_out", key=key,
            message_id=message.id, body=body, occurred_at=message.sent_at or now,
        )
        session.add(entry)
        if key in known:
            known[key] = entry
    elif entry.body != body:
        entry.body = body
        entry.status = "pending"  # written again (updated) by the timeline writer
