"""Outgoing webhooks, the domain side: what happened, told to the endpoints a shop subscribed.

`emit(session, shop_id, type, data)` is the one call: it writes the event and one delivery per
enabled endpoint of the shop subscribed to that type, in the caller's transaction (so an event
exists if and only if what it tells was committed), and nothing at all when no endpoint wants it.
The worker's webhooks drain sends the deliveries (connector.worker.webhooks).

Event types and the objects their `data` holds:
- `message.sent`, `message.delivered`, `message.failed` (failed or undelivered): `message`
- `reply.received`: `message` (the inbound SMS) and `contact`
- `consent.changed`: `contact` and `consent` (status, source, when, evidence)
- `conversation.handoff`: `conversation` and `contact`
- `campaign.finished` (sent or cancelled): `campaign` with its progress
- `order.attributed`: `order` and `attribution` (method, message, campaign, variant, flow step, amount)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations.models import (
    ConsentEvent,
    Contact,
    Conversation,
    Message,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    utcnow,
)

EVENT_TYPES = ("message.sent", "message.delivered", "message.failed", "reply.received", "consent.changed",
               "conversation.handoff", "campaign.finished", "order.attributed")
_SUBSCRIPTIONS = "parlons.webhook_subscriptions"  # session.info: shop id -> [(endpoint id, types)]


def emit(session: Session, shop_id: int, type: str, data: dict[str, Any], *,
         contact_id: int | None = None, occurred_at: datetime | None = None) -> WebhookEvent | None:
    """Tell the shop's subscribed endpoints that `type` happened; None when none subscribed.

    `data` is JSON (ids, ISO times); `contact_id` names the contact it concerns, so that erasing
    the contact erases it from the events too."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {type!r}")
    endpoints = subscribed(session, shop_id, type)
    if not endpoints:
        return None
    event = WebhookEvent(shop_id=shop_id, contact_id=contact_id, type=type, data=data,
                         occurred_at=occurred_at or utcnow())
    session.add(event)
    for endpoint_id in endpoints:
        session.add(WebhookDelivery(shop_id=shop_id, event=event, endpoint_id=endpoint_id, status="pending",
                                    attempts=0, next_attempt_at=event.occurred_at, created_at=event.occurred_at))
    return event


def subscribed(session: Session, shop_id: int, type: str) -> list[int]:
    """Ids of the shop's enabled endpoints subscribed to `type` (read once per session)."""
    known = session.info.setdefault(_SUBSCRIPTIONS, {})
    if shop_id not in known:
        known[shop_id] = [(endpoint_id, set(events)) for endpoint_id, events in session.execute(
            sa.select(WebhookEndpoint.id, WebhookEndpoint.events)
            .where(WebhookEndpoint.shop_id == shop_id, WebhookEndpoint.enabled.is_(True)))]
    return [endpoint_id for endpoint_id, events in known[shop_id] if type in events]


def forget_subscriptions(session: Session) -> None:
    """After endpoints change in this session, read them again on the next emit."""
    session.info.pop(_SUBSCRIPTIONS, None)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def message_data(message: Message) -> dict[str, Any]:
    return {
        "id": message.id, "direction": message.direction, "kind": message.kind, "status": message.status,
        "status_reason": message.status_reason, "error_code": message.error_code,
        "to": message.to_phone, "from": message.from_phone, "body": message.body,
        "segments": message.segments, "cost": message.cost, "contact_id": message.contact_id,
        "conversation_id": message.conversation_id, "rule_id": message.rule_id,
        "sent_at": _iso(message.sent_at), "delivered_at": _iso(message.delivered_at),
        "created_at": _iso(message.created_at),
    }


def contact_data(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id, "phone": contact.phone_e164, "email": contact.email,
        "first_name": contact.first_name, "last_name": contact.last_name, "locale": contact.locale,
        "consent_status": contact.consent_status, "opted_out": contact.opted_out_at is not None,
        "shopify_customer_id": contact.shopify_customer_id,
    }


def conversation_data(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id, "status": conversation.status, "flow_key": conversation.flow_key,
        "contact_id": conversation.contact_id, "assigned_to": conversation.assigned_to,
        "handoff_at": _iso(conversation.handoff_at), "created_at": _iso(conversation.created_at),
    }


def message_status_changed(session: Session, message: Message, before: str) -> None:
    """message.sent / message.delivered / message.failed when an outbound SMS reaches that status."""
    if message.direction != "outbound" or message.status == before:
        return
    type = {"sent": "message.sent", "delivered": "message.delivered", "failed": "message.failed",
            "undelivered": "message.failed"}.get(message.status)
    if type is not None:
        emit(session, message.shop_id, type, {"message": message_data(message)}, contact_id=message.contact_id)


def consent_changed(session: Session, contact: Contact, entry: ConsentEvent) -> None:
    emit(session, contact.shop_id, "consent.changed", {
        "contact": contact_data(contact),
        "consent": {"status": contact.consent_status, "opted_out": contact.opted_out_at is not None,
                    "source": entry.source, "occurred_at": _iso(entry.occurred_at),
                    "evidence": entry.evidence},
    }, contact_id=contact.id, occurred_at=entry.occurred_at)


def reply_received(session: Session, contact: Contact, inbound: Message) -> None:
    emit(session, inbound.shop_id, "reply.received",
         {"message": message_data(inbound), "contact": contact_data(contact)}, contact_id=contact.id)


def handed_off(session: Session, contact: Contact, conversation: Conversation, reason: str) -> None:
    """A conversation a person must answer: automation handed it off, or a customer wrote outside
    any conversation (a new one in the inbox)."""
    emit(session, conversation.shop_id, "conversation.handoff",
         {"conversation": {**conversation_data(conversation), "handoff_reason": reason},
          "contact": contact_data(contact)}, contact_id=contact.id)


def replay(session: Session, delivery: WebhookDelivery, now: datetime) -> WebhookDelivery:
    """Send a delivery's event to its endpoint again, as a new delivery (the old one is kept)."""
    again = WebhookDelivery(shop_id=delivery.shop_id, event_id=delivery.event_id, endpoint_id=delivery.endpoint_id,
                            replay_of=delivery.id, status="pending", attempts=0, next_attempt_at=now,
                            created_at=now)
    session.add(again)
    session.flush()
    return again
