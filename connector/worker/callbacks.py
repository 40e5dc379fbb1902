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
from connector import providers
from connector.runtime import Runtime, current
from connector.shops import forget
from connector.worker import growth, hubspot_events
from integrations.providers import PROVIDERS as SMS_PROVIDERS
from integrations.shopify.webhooks import CATALOG_TOPICS
from integrations.sms import InboundSms, StatusUpdate, WebhookRequest

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
    """Handle the Shopify catalogue (back in stock, price drop) and SMS provider callbacks
    (delivery reports, inbound SMS); None when the event is for the engine."""
    if event.source == "shopify" and event.topic in CATALOG_TOPICS:
        return growth.catalog_event(session, event, shop, now)
    if event.source == "twilio":
        reports, inbound = _twilio(event)
    elif event.source in SMS_PROVIDERS:
        reports, inbound = _through_protocol(runtime, event)
    else:
        return None
    if reports is not None:
        return apply_reports(session, event.source, reports, now)
    if inbound is not None:
        if shop is None:
            return {"ignored": f"no shop uses the number {inbound.to}" if inbound.to
                    else "no shop sent the message this answers"}
        key = f"inbound:{event.source}:{event.delivery_id.removeprefix('inbound:')}"
        return receive_sms(runtime, session, shop, inbound, now, provider=event.source, key=key)
    return {"ignored": f"unknown {event.source} topic {event.topic}"}


def _twilio(event: StoreEvent) -> tuple[list[StatusUpdate] | None, InboundSms | None]:
    """Twilio's stored form (read without credentials, as it was stored before the protocol)."""
    from integrations.twilio import webhooks as twilio_webhooks
    from integrations.twilio.provider import ERROR_MAP, STATUS_MAP

    data = json.loads(event.payload)
    if event.topic == "status":
        update = twilio_webhooks.parse_status(data)
        status, code = STATUS_MAP.get(update.status), update.error_code
        if status is None:  # a status of an inbound message: nothing to record
            return [], None
        return [StatusUpdate(
            provider_id=update.message_sid, status=status, provider_status=update.status,
            to=update.to, error=ERROR_MAP.get(code) if code else None,
            error_code=str(code) if code is not None else None,
        )], None
    if event.topic == "inbound":
        sms = twilio_webhooks.parse_inbound(data)
        return None, InboundSms(from_=sms.from_, to=sms.to, text=sms.body or "",
                                provider_id=sms.message_sid, media=tuple(sms.media_urls))
    return None, None


def _through_protocol(runtime: Runtime, event: StoreEvent) -> tuple[list[StatusUpdate] | None, InboundSms | None]:
    """A stored webhook body read by its provider (`integrations.sms`)."""
    hook = WebhookRequest(url="", headers={}, body=event.payload.encode())
    provider = providers.provider(runtime.config, event.source)
    if event.topic == "status":
        return provider.parse_status(hook), None
    if event.topic == "inbound":
        return None, provider.parse_inbound(hook)
    return None, None


def apply_reports(session: Session, provider: str, reports: list[StatusUpdate], now: datetime) -> dict[str, Any]:
    """Delivery reports move their messages forward; their errors feed back into the contact
    (opted out with the carrier: a STOP; an invalid number: the phone marked invalid)."""
    from automations import sending

    updated = 0
    for report in reports:
        message = sending.apply_report(
            session, provider, report.provider_id, report.status.value, report.error_code,
            report.error.value if report.error else None, now)
        updated += message is not None
    statuses = [r.provider_status for r in reports]
    return {"status": statuses[0] if len(statuses) == 1 else statuses, "message_updated": bool(updated)}


def receive_sms(runtime: Runtime, session: Session, shop: Shop, sms: InboundSms, now: datetime,
                *, provider: str, key: str) -> dict[str, Any]:
    """An inbound SMS (`key`: its idempotency key) handled as a reply: STOP, keywords,
    conversations (`automations.replies`); a provider's unsubscription without text is a STOP."""
    from automations import consent, contacts, replies

    result = contacts.upsert_contact(session, shop, ContactData(phone=sms.from_), source="sms")
    contact = result.contact
    if sms.opt_out and not sms.text.strip():  # the provider's unsubscription, with no text (Brevo)
        if contact.opted_out_at is not None:  # the STOP it follows was handled as a reply
            return {"contact_id": contact.id, "opted_out": "already"}
        evidence = {"provider": provider, "provider_event": "unsubscribed", "provider_id": sms.provider_id}
        consent.opt_out(session, contact, "sms", evidence, now)
        return {"contact_id": contact.id, "opted_out": "now"}
    message = Message(
        shop_id=shop.id, contact_id=contact.id, direction="inbound", kind="conversational",
        to_phone=sms.to or _our_sender(session, provider, sms, shop), from_phone=sms.from_,
        body=sms.text, status="received", provider=provider, provider_message_id=sms.provider_id,
        idempotency_key=key[:255], media_urls=list(sms.media),
        created_at=now,
    )
    session.add(message)
    session.flush()
    outcome = replies.handle_inbound(session, shop, contact, message, now)
    return {"contact_id": contact.id, "message_id": message.id, "reply": _plain(outcome)}


def _our_sender(session: Session, provider: str, sms: InboundSms, shop: Shop) -> str | None:
    """Where an inbound message went when the provider does not say (Brevo): the sender of the
    message it answers."""
    replied_to = sms.provider_id.split(":", 1)[0]
    sender = session.scalar(sa.select(Message.from_phone).where(
        Message.provider == provider, Message.provider_message_id == replied_to).limit(1))
    return sender or shop.sms_number


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
