"""Store events that are not plain engine input: provider callbacks, inbound SMS, app lifecycle
and privacy requests. Called by the events drain inside the event's transaction."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, object_session

from automations import events as ev_types
from automations.events import ContactData, DomainEvent
from automations.models import Base, Message, Shop, StoreEvent
from connector.runtime import Runtime, current
from connector.shops import forget
from connector.worker import growth, hubspot_events
from integrations.shopify.webhooks import CATALOG_TOPICS

log = logging.getLogger("parlons.handlers")


def jsonable(value: Any) -> Any:
    """An outcome as JSON: rows by their id (read once they are written), dates as ISO text."""
    if isinstance(value, Base):
        return value.id
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def translate(event: StoreEvent) -> list[DomainEvent]:
    """Domain events of a non-Shopify store event (HubSpot)."""
    if event.source == "hubspot":
        return hubspot_events.translate(current(), object_session(event), event)
    raise ValueError(f"no translator for source {event.source!r}")


def handle_special(
    runtime: Runtime, session: Session, event: StoreEvent, shop: Shop | None, now: datetime
) -> dict[str, Any] | None:
    """Handle provider callbacks; None when the event is for the engine."""
    if event.source == "shopify" and event.topic in CATALOG_TOPICS:  # back in stock, price drop
        return growth.catalog_event(session, event, shop, now)
    if event.source != "twilio":
        return None
    from integrations.twilio import webhooks as twilio_webhooks

    data = json.loads(event.payload)
    if event.topic == "status":
        from automations import dispatch

        update = twilio_webhooks.parse_status(data)
        changed = dispatch.apply_status(
            session, "twilio", update.message_sid, update.status,
            str(update.error_code) if update.error_code else None, now,
        )
        return {"status": update.status, "message_updated": bool(changed)}
    if event.topic == "inbound":
        sms = twilio_webhooks.parse_inbound(data)
        if shop is None:
            return {"ignored": f"no shop uses the number {sms.to}"}
        return receive_sms(runtime, session, shop, sms, now)
    return {"ignored": f"unknown twilio topic {event.topic}"}


def receive_sms(runtime: Runtime, session: Session, shop: Shop, sms: Any, now: datetime) -> dict[str, Any]:
    from automations import contacts, replies

    result = contacts.upsert_contact(session, shop, ContactData(phone=sms.from_), source="sms")
    contact = result.contact
    message = Message(
        shop_id=shop.id, contact_id=contact.id, direction="inbound", kind="conversational",
        to_phone=sms.to, from_phone=sms.from_, body=sms.body or "", status="received",
        provider="twilio", provider_message_id=sms.message_sid,
        idempotency_key=f"inbound:twilio:{sms.message_sid}", media_urls=list(sms.media_urls),
        created_at=now,
    )
    session.add(message)
    session.flush()
    outcome = replies.handle_inbound(session, shop, contact, message, now)
    return {"contact_id": contact.id, "message_id": message.id, "reply": _plain(outcome)}


def _plain(outcome: Any) -> Any:
    data = jsonable(outcome)
    if isinstance(data, dict) and "replies" in data:
        data["replies"] = [getattr(m, "id", m) for m in getattr(outcome, "replies", [])]
    return data


def handle_lifecycle(
    runtime: Runtime, session: Session, event: StoreEvent, shop: Shop | None,
    domain_event: DomainEvent, now: datetime,
) -> dict[str, Any] | None:
    """App lifecycle and privacy requests; None for ordinary events."""
    from automations import privacy

    if shop is None:
        return None
    if event.source == "hubspot":
        return hubspot_events.apply_lifecycle(session, shop, domain_event, now)
    if domain_event.type == ev_types.APP_UNINSTALLED:
        shop.status, shop.uninstalled_at = "uninstalled", now
        cancelled = session.execute(
            sa.update(Message)
            .where(Message.shop_id == shop.id, Message.status.in_(("scheduled", "sending")),
                   Message.direction == "outbound")
            .values(status="cancelled", status_reason="app uninstalled", updated_at=now)
        ).rowcount
        forget(shop.domain)
        return {"type": domain_event.type, "shop": "uninstalled", "messages_cancelled": cancelled}
    if domain_event.type == ev_types.DATA_REQUESTED:
        export = privacy.export_customer(session, shop, domain_event, now)
        return {"type": domain_event.type, "export_id": export.id}
    if domain_event.type == ev_types.CUSTOMER_REDACT:
        return {"type": domain_event.type, **privacy.redact_customer(session, shop, domain_event, now)}
    if domain_event.type == ev_types.SHOP_REDACT:
        return {"type": domain_event.type, **privacy.redact_shop(session, shop, now)}
    return None
