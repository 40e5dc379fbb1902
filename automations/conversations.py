"""Reply-driven conversations: ask a question by SMS, read the answer, act on it.

This module starts conversations, hands them to a person and ends them. A flow is data
(`automations.conversation_flows`); a running conversation keeps a snapshot of its flow and
where it stands in `Conversation.state`, so editing a flow never changes a conversation already
under way. Inbound SMS are read by `automations.replies`. Replies to the customer are scheduled
`Message` rows the dispatcher sends; none goes to a contact who replied STOP, except the single
confirmation of that STOP.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import webhooks
from automations.conversation_flows import Action, ExpectedAnswer, FlowDefinition, Step
from automations.conversation_texts import (
    checkout_url,
    expiry_deadline,
    language,
    reply_text,
    template_variables,
)
from automations.events import SUBSCRIBED
from automations.footer import apply_footer
from automations.models import (
    Contact,
    Conversation,
    Message,
    OutboundWrite,
    Shop,
    TimelineEntry,
)
from automations.policy import ShopPolicy
from automations.scenarios import flow_for
from automations.templating import render

ACTIVE = ("open", "waiting", "assigned")
DEFAULT_PAUSE = timedelta(hours=24)
EXPIRED_GRACE = timedelta(days=7)  # a late answer this long after expiry still gets the notice


class ConversationRefused(ValueError):
    """A conversation cannot start for this contact (opted out, paused, no phone, no consent)."""


@dataclass
class ReplyOutcome:
    intent: str  # opt_out | opt_in | help | other
    keyword: str | None = None
    conversation_id: int | None = None
    matched_answer: str | None = None
    actions: list[str] = field(default_factory=list)
    replies: list[Message] = field(default_factory=list)
    handoff: bool = False
    reason: str = ""


@dataclass
class Decision:
    """What an inbound text would do, decided without side effects."""

    intent: str
    keyword: str | None
    route: str  # opt_out | opt_in | help | answer | reprompt | handoff | expired | inbox | duplicate
    reason: str
    conversation: Conversation | None = None
    flow: FlowDefinition | None = None
    step: Step | None = None
    answer: ExpectedAnswer | None = None


# ----------------------------------------------------------------------------- start


def start(
    session: Session,
    shop: Shop,
    contact: Contact,
    flow: FlowDefinition | str,
    variables: dict[str, Any],
    now: datetime,
) -> tuple[Conversation, Message]:
    """Open a conversation and schedule its first question (send_at=now, kind conversational).

    `flow` is a definition or a scenario key (the contact's or shop's language variant).
    Starting twice with the same `variables["subject_key"]` returns the first conversation.
    A waiting conversation of the same contact is superseded: only one asks at a time.
    """
    if isinstance(flow, str):

        flow = flow_for(flow, contact.locale or shop.locale)
    subject = str(variables.get("subject_key") or now.isoformat())
    key = f"conv:{shop.id}:{contact.id}:{flow.key}:{subject}"[:255]
    existing = session.scalars(sa.select(Message).where(Message.idempotency_key == key)).first()
    if existing is not None and existing.conversation_id is not None:
        return session.get(Conversation, existing.conversation_id), existing
    _refuse_if_unreachable(contact, flow, now)
    lock_contact(session, contact)
    for old in session.scalars(sa.select(Conversation).where(
        Conversation.contact_id == contact.id, Conversation.status == "waiting"
    )):
        finish(session, old, "superseded", now)
    conversation = Conversation(
        shop_id=shop.id, contact_id=contact.id, flow_key=flow.key, status="waiting",
        state={"flow": flow.to_dict(), "variables": _jsonable(variables), "answers": []},
        created_at=now, updated_at=now,
    )
    session.add(conversation)
    session.flush()
    deadline = expiry_deadline(flow, shop, now)
    conversation.expires_at = deadline
    message = ask_step(session, shop, contact, conversation, flow, flow.start, now, key=key)
    return conversation, message


def _refuse_if_unreachable(contact: Contact, flow: FlowDefinition, now: datetime) -> None:
    if contact.opted_out_at is not None:
        raise ConversationRefused("the contact replied STOP: no SMS may be sent")
    if not contact.phone_e164:
        raise ConversationRefused("the contact has no valid mobile number")
    if contact.paused_until is not None and contact.paused_until > now:
        raise ConversationRefused("automation is paused while a person handles this contact")
    if flow.marketing and contact.consent_status != SUBSCRIBED:
        raise ConversationRefused("a marketing conversation needs SMS marketing consent")


def ask_step(
    session: Session, shop: Shop, contact: Contact, conversation: Conversation,
    flow: FlowDefinition, step_key: str, now: datetime, *, key: str,
) -> Message:
    step = flow.steps[step_key]
    state = dict(conversation.state)
    state.update(step=step_key, reprompts=0, asked_at=now.isoformat(), automation="waiting")
    conversation.state = state
    body = render(step.question, conversation_variables(shop, contact, conversation))
    if flow.marketing:
        body, _ = apply_footer(body, flow.locale, ShopPolicy.from_settings(shop.settings), True)
    message = queue_reply(session, shop, contact, conversation, body, key, now)
    if flow.reminder is not None:
        at = now + flow.reminder.after
        if conversation.expires_at is None or at < conversation.expires_at:
            reminder = render(flow.reminder.template, conversation_variables(shop, contact, conversation))
            queue_reply(session, shop, contact, conversation, reminder,
                      f"conv:{conversation.id}:reminder:{step_key}", now, send_at=at)
    return message


def handoff(
    session: Session, shop: Shop, contact: Contact, conversation: Conversation, reason: str,
    now: datetime, *, inbound: Message | None = None, outcome: ReplyOutcome | None = None,
    template: str | None = None,
) -> None:
    """Hand the conversation to a person: inbox, automation paused for the contact, timeline."""
    conversation.status = "open" if conversation.status != "assigned" else "assigned"
    first = conversation.handoff_at is None
    conversation.handoff_at = conversation.handoff_at or now
    conversation.unread_count = (conversation.unread_count or 0) + (1 if inbound else 0)
    conversation.state = {**conversation.state, "automation": "handed_off",
                          "handoff_reason": reason}
    pause = timedelta(hours=float((shop.settings or {}).get("handoff_pause_hours", 24)))
    contact.paused_until = max(contact.paused_until or now, now + pause)
    ref = inbound.id if inbound is not None else f"c{conversation.id}"
    log_timeline(session, contact, "handoff", f"handoff:{conversation.id}:{ref}",
              f"Handed to a person: {reason}", now, inbound.id if inbound else None)
    if first:
        webhooks.handed_off(session, contact, conversation, reason)
    if outcome is not None:
        outcome.handoff = True
        outcome.actions.append("handoff")
        if contact.opted_out_at is None:
            lang = language(contact, shop)
            body = render(template or reply_text("handoff", lang),
                          conversation_variables(shop, contact, conversation))
            outcome.replies.append(queue_reply(session, shop, contact, conversation, body,
                                             f"handoff:{conversation.id}:{ref}", now))


def perform(
    session: Session, shop: Shop, contact: Contact, conversation: Conversation, action: Action,
    variables: dict[str, Any], key: str, inbound: Message, outcome: ReplyOutcome, now: datetime,
) -> bool:
    """Carry out one answer action; True when it handed the conversation to a person."""
    if action.type == "set_property":
        value = render(action.value, variables) if isinstance(action.value, str) else action.value
        contact.properties = {**(contact.properties or {}), action.name: value}
        return False
    if action.type == "webhook":
        session.add(OutboundWrite(
            shop_id=shop.id, contact_id=contact.id, target="shop_webhook",
            action=(action.name or "conversation_answer")[:32], key=f"shop_webhook:{key}",
            payload={"event": action.name, "conversation_id": conversation.id,
                     "flow_key": conversation.flow_key, "step": conversation.state.get("step"),
                     "answer": variables.get("answer"), "reply": inbound.body,
                     "contact": {"id": contact.id, "phone": contact.phone_e164,
                                 "email": contact.email,
                                 "shopify_customer_id": contact.shopify_customer_id},
                     "variables": _jsonable(conversation.state.get("variables", {})),
                     "data": _jsonable(action.value or {}), "occurred_at": now.isoformat()},
        ))
        return False
    if action.type == "handoff":
        handoff(session, shop, contact, conversation, action.value or "asked for a person", now,
                inbound=inbound, outcome=outcome, template=action.template)
        return True
    if action.type == "checkout_link":
        url = checkout_url(session, shop, contact, variables)
        if not url:
            handoff(session, shop, contact, conversation, "no checkout link for this cart", now,
                    inbound=inbound, outcome=outcome)
            return True
        variables = {**variables, "checkout_url": url}
    if action.type == "send_link" and not variables.get(action.name or "link"):
        handoff(session, shop, contact, conversation, f"no {action.name or 'link'} to send", now,
                inbound=inbound, outcome=outcome)
        return True
    body = render(action.template or "", variables)
    outcome.replies.append(queue_reply(session, shop, contact, conversation, body, key, now))
    return False


# ----------------------------------------------------------------------------- sweep


def expire_due(session: Session, now: datetime) -> list[int]:
    """Close waiting conversations past their expiry (a worker calls this periodically)."""
    due = list(session.scalars(sa.select(Conversation).where(
        Conversation.status == "waiting", Conversation.expires_at <= now)))
    for conversation in due:
        cancel_reminders(session, conversation, now)
        finish(session, conversation, "expired", now)
    session.flush()
    return [c.id for c in due]


# ----------------------------------------------------------------------------- helpers


def finish(session: Session, conversation: Conversation, outcome: str, now: datetime) -> None:
    conversation.status = "closed"
    conversation.closed_at = now
    conversation.updated_at = now
    conversation.state = {**(conversation.state or {}), "automation": outcome}
    cancel_reminders(session, conversation, now)


def cancel_reminders(session: Session, conversation: Conversation, now: datetime) -> None:
    for message in session.scalars(sa.select(Message).where(
        Message.conversation_id == conversation.id, Message.status == "scheduled",
        Message.direction == "outbound", Message.send_at > now,
    )):
        message.status, message.status_reason, message.updated_at = "cancelled", "answered", now


def queue_reply(
    session: Session, shop: Shop, contact: Contact, conversation: Conversation | None, body: str,
    key: str, now: datetime, *, kind: str = "conversational", send_at: datetime | None = None,
) -> Message:
    message = Message(
        shop_id=shop.id, contact_id=contact.id,
        conversation_id=conversation.id if conversation is not None else None,
        direction="outbound", kind=kind, to_phone=contact.phone_e164, from_phone=shop.sms_number,
        body=body, status="scheduled", idempotency_key=key[:255], send_at=send_at or now,
        created_at=now, updated_at=now,
    )
    session.add(message)
    session.flush()
    return message


def log_timeline(
    session: Session, contact: Contact, kind: str, key: str, body: str, now: datetime,
    message_id: int | None,
) -> None:
    if session.scalars(sa.select(TimelineEntry.id).where(TimelineEntry.key == key)).first():
        return
    session.add(TimelineEntry(shop_id=contact.shop_id, contact_id=contact.id, kind=kind, key=key,
                              message_id=message_id, body=body, occurred_at=now))


def lock_contact(session: Session, contact: Contact) -> None:
    """Serialise the handling of one contact's replies until the transaction ends.

    PostgreSQL: SELECT … FOR UPDATE on the contact row. SQLite locks the whole database on the
    first write, so a no-op write takes that lock at once (a second writer waits for commit).
    """
    if rows_lockable(session):
        session.execute(sa.select(Contact.id).where(Contact.id == contact.id).with_for_update())
    else:
        session.execute(sa.text("UPDATE contacts SET id = id WHERE id = :id"), {"id": contact.id})


def rows_lockable(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def conversation_variables(shop: Shop, contact: Contact, conversation: Conversation) -> dict[str, Any]:
    return {**template_variables(shop, contact), **(conversation.state or {}).get("variables", {})}


def reply_evidence(inbound: Message, decision: Decision) -> dict[str, Any]:
    return {"message_id": inbound.id, "body": inbound.body, "from": inbound.from_phone,
            "to": inbound.to_phone, "keyword": decision.keyword,
            "provider_message_id": inbound.provider_message_id}


def choices_text(step: Step, lang: str) -> str:
    words = [a.key.upper() for a in step.answers]
    joiner = " ou " if lang == "fr" else " or "
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + joiner + words[-1]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def outcome_dict(outcome: ReplyOutcome) -> dict[str, Any]:
    """A JSON-able view of an outcome (replies as message ids)."""
    data = asdict(outcome) | {"replies": [m.id for m in outcome.replies]}
    return data
