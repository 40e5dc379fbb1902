"""The human inbox: conversations a person reads, answers, assigns, annotates and closes.

A conversation reaches the inbox when automation hands it off (an unexpected answer after the
re-prompts, a "?" asking for a person) or when a customer writes with no conversation waiting
for an answer. A handoff pauses automation for the contact (`Contact.paused_until`) until the
conversation is closed or the pause ends. Agent replies are scheduled SMS the dispatcher sends
like any other: not held by marketing send windows, never sent to a contact who replied STOP.
"""

from __future__ import annotations

import statistics
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations.conversations import cancel_reminders
from automations.models import ConsentEvent, Contact, Conversation, Message, TimelineEntry

STATUSES = ("open", "waiting", "assigned", "closed")


class InboxError(ValueError):
    """An inbox action that cannot be done, with a message an agent can read."""


class ContactOptedOut(InboxError):
    pass


@dataclass(frozen=True)
class ConversationSummary:
    id: int
    contact_id: int
    contact_name: str
    phone: str | None
    status: str
    flow_key: str | None
    unread_count: int
    assigned_to: str | None
    last_message: str | None
    last_message_at: datetime | None
    last_direction: str | None
    handoff_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class HistoryItem:
    at: datetime
    kind: str  # outbound | inbound | note | keyword | handoff | consent
    body: str
    author: str | None = None
    status: str | None = None
    message_id: int | None = None


def list_conversations(
    session: Session, shop: Any, status: str | None = None
) -> list[ConversationSummary]:
    """The shop's conversations (one status, or all), unread first, then most recent."""
    if status is not None and status not in STATUSES:
        raise InboxError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
    query = sa.select(Conversation, Contact).join(Contact, Contact.id == Conversation.contact_id)
    query = query.where(Conversation.shop_id == shop.id)
    if status is not None:
        query = query.where(Conversation.status == status)
    rows = session.execute(query.order_by(
        (Conversation.unread_count > 0).desc(), Conversation.updated_at.desc(),
        Conversation.id.desc())).all()
    last_ids = dict(session.execute(
        sa.select(Message.conversation_id, sa.func.max(Message.id))
        .where(Message.conversation_id.in_([c.id for c, _ in rows]),
               Message.direction.in_(("inbound", "outbound")))
        .group_by(Message.conversation_id)).all()) if rows else {}
    last = {m.conversation_id: m for m in session.scalars(
        sa.select(Message).where(Message.id.in_(list(last_ids.values()))))} if last_ids else {}
    return [
        ConversationSummary(
            id=c.id, contact_id=contact.id, contact_name=contact.full_name or contact.phone_e164
            or f"contact {contact.id}", phone=contact.phone_e164, status=c.status,
            flow_key=c.flow_key, unread_count=c.unread_count or 0, assigned_to=c.assigned_to,
            last_message=last[c.id].body if c.id in last else None,
            last_message_at=last[c.id].created_at if c.id in last else None,
            last_direction=last[c.id].direction if c.id in last else None,
            handoff_at=c.handoff_at, updated_at=c.updated_at,
        )
        for c, contact in rows
    ]


def history(session: Session, conversation: Conversation) -> list[HistoryItem]:
    """Everything in the conversation, in time order: SMS both ways, notes, keyword actions,
    handoffs and consent changes of the contact while it was open."""
    items = [
        HistoryItem(m.created_at, m.direction, m.body or "", m.author, m.status, m.id)
        for m in session.scalars(sa.select(Message).where(
            Message.conversation_id == conversation.id))
    ]
    start, end = conversation.created_at, conversation.closed_at
    entries = sa.select(TimelineEntry).where(
        TimelineEntry.contact_id == conversation.contact_id,
        TimelineEntry.kind.in_(("keyword", "handoff")), TimelineEntry.occurred_at >= start)
    consents = sa.select(ConsentEvent).where(
        ConsentEvent.contact_id == conversation.contact_id, ConsentEvent.occurred_at >= start)
    if end is not None:
        entries = entries.where(TimelineEntry.occurred_at <= end)
        consents = consents.where(ConsentEvent.occurred_at <= end)
    items += [HistoryItem(e.occurred_at, e.kind, e.body, message_id=e.message_id)
              for e in session.scalars(entries)]
    items += [HistoryItem(e.occurred_at, "consent", f"SMS consent: {e.status} (via {e.source})")
              for e in session.scalars(consents)]
    order = {"inbound": 0, "keyword": 1, "consent": 2, "handoff": 3, "outbound": 4, "note": 5}
    return sorted(items, key=lambda i: (i.at, order.get(i.kind, 9), i.message_id or 0))


def agent_reply(
    session: Session, conversation: Conversation, text: str, agent: str, now: datetime
) -> Message:
    """Queue a person's answer to the customer; refused for a contact who replied STOP."""
    body = (text or "").strip()
    if not body:
        raise InboxError("the reply is empty")
    contact = session.get(Contact, conversation.contact_id)
    if contact is None or contact.deleted_at is not None:
        raise InboxError("the contact no longer exists")
    if contact.opted_out_at is not None:
        raise ContactOptedOut(
            f"the contact replied STOP on {contact.opted_out_at:%Y-%m-%d %H:%M} UTC: no SMS can "
            "be sent until they text START")
    if not contact.phone_e164:
        raise InboxError("the contact has no valid mobile number")
    shop = contact.shop
    message = Message(
        shop_id=conversation.shop_id, contact_id=contact.id, conversation_id=conversation.id,
        direction="outbound", kind="conversational", to_phone=contact.phone_e164,
        from_phone=shop.sms_number if shop else None, body=body, status="scheduled",
        send_at=now, author=agent, idempotency_key=f"agent:{conversation.id}:{uuid.uuid4().hex}",
        created_at=now, updated_at=now,
    )
    session.add(message)
    conversation.first_human_reply_at = conversation.first_human_reply_at or now
    conversation.assigned_to = conversation.assigned_to or agent
    conversation.status = "assigned"
    conversation.unread_count = 0
    conversation.updated_at = now
    session.flush()
    return message


def assign(session: Session, conversation: Conversation, agent: str, now: datetime) -> None:
    if conversation.status == "closed":
        raise InboxError("the conversation is closed")
    conversation.assigned_to = agent
    conversation.status = "assigned"
    conversation.updated_at = now
    session.flush()


def close(session: Session, conversation: Conversation, now: datetime) -> None:
    """Close the conversation and resume automation for the contact."""
    if conversation.status != "closed":
        conversation.status = "closed"
        conversation.closed_at = now
        state = dict(conversation.state or {})
        if state.get("automation") in (None, "none", "handed_off", "waiting"):
            state["automation"] = "closed_by_agent"
        conversation.state = state
        cancel_reminders(session, conversation, now)
    conversation.unread_count = 0
    conversation.updated_at = now
    contact = session.get(Contact, conversation.contact_id)
    if contact is not None:
        paused, contact.paused_until = contact.paused_until, None
        if paused is not None and paused > now:
            _release_held(session, contact.id, paused, now)
    session.flush()


def _release_held(session: Session, contact_id: int, paused: datetime, now: datetime) -> None:
    """Messages the dispatcher deferred to the end of the pause leave now instead."""
    session.execute(sa.update(Message).where(
        Message.contact_id == contact_id, Message.direction == "outbound",
        Message.status == "scheduled", Message.send_at > now, Message.send_at <= paused,
        Message.status_reason.like("paused%"),
    ).values(send_at=now, status_reason="automation resumed: conversation closed", updated_at=now))


def add_note(
    session: Session, conversation: Conversation, text: str, agent: str, now: datetime
) -> Message:
    """An internal note: kept in the history, never sent."""
    if not (text or "").strip():
        raise InboxError("the note is empty")
    note = Message(
        shop_id=conversation.shop_id, contact_id=conversation.contact_id,
        conversation_id=conversation.id, direction="note", kind="system", body=text.strip(),
        status="note", author=agent, idempotency_key=f"note:{conversation.id}:{uuid.uuid4().hex}",
        created_at=now, updated_at=now,
    )
    session.add(note)
    session.flush()
    return note


def mark_read(session: Session, conversation: Conversation) -> None:
    conversation.unread_count = 0
    session.flush()


def kpis(
    session: Session, shop: Any, flow_key: str | None = None, since: datetime | None = None
) -> dict[str, Any]:
    """Conversation figures: replies, answers, handoffs, first human response, resolution."""
    query = sa.select(Conversation).where(Conversation.shop_id == shop.id)
    if flow_key is not None:
        query = query.where(Conversation.flow_key == flow_key)
    if since is not None:
        query = query.where(Conversation.created_at >= since)
    conversations = list(session.scalars(query))
    ids = [c.id for c in conversations]
    replies = session.scalar(sa.select(sa.func.count()).select_from(Message).where(
        Message.conversation_id.in_(ids), Message.direction == "inbound")) if ids else 0
    answers: Counter[str] = Counter()
    for c in conversations:
        for a in (c.state or {}).get("answers", []):
            answers[a["key"] if a.get("step") in (None, "start") else f"{a['step']}:{a['key']}"] += 1
    outcomes = Counter((c.state or {}).get("automation") for c in conversations)
    handed = [c for c in conversations if c.handoff_at is not None]
    responded = [
        (c.first_human_reply_at - (c.handoff_at or c.created_at)).total_seconds()
        for c in conversations if c.first_human_reply_at is not None]
    durations = [(c.closed_at - c.created_at).total_seconds()
                 for c in conversations if c.closed_at is not None]
    total = len(conversations)
    resolved = outcomes["completed"] + outcomes["closed_by_agent"]
    return {
        "conversations": total,
        "replies": replies,
        "answers": dict(answers),
        "handoffs": len(handed),
        "handoff_rate": _rate(len(handed), total),
        "first_human_response_median_seconds": _median(responded),
        "duration_median_seconds": _median(durations),
        "resolved": resolved,
        "resolution_rate": _rate(resolved, total),
        "expired": outcomes["expired"],
        "opt_outs": outcomes["opted_out"],
        "opt_out_rate": _rate(outcomes["opted_out"], total),
    }


def _rate(part: int, total: int) -> float:
    return round(part / total, 4) if total else 0.0


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
