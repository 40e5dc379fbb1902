"""Privacy requests (GDPR): export what we hold on a customer, erase a customer, erase a shop."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations.events import DomainEvent
from automations.models import (
    ApiKey,
    CatalogVariant,
    Checkout,
    ConsentEvent,
    Contact,
    Conversation,
    DataExport,
    FlowRun,
    IdempotentRequest,
    Installation,
    Link,
    Message,
    Order,
    OutboundWrite,
    Rule,
    Shop,
    SignupRequest,
    StockAlert,
    StoreEvent,
    SyncState,
    Template,
    TimelineEntry,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

REDACTED = "[redacted]"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def find_customer_contacts(session: Session, shop: Shop, event: DomainEvent) -> list[Contact]:
    """Contacts a privacy request names: by Shopify customer id, then email, then phone."""
    data = event.data or {}
    contact = event.contact
    gid = (contact.shopify_customer_id if contact else None) or data.get("customer_gid")
    email = (contact.email if contact else None) or data.get("email")
    phone = (contact.phone if contact else None) or data.get("phone")
    clauses = []
    if gid:
        clauses.append(Contact.shopify_customer_id == gid)
    if email:
        clauses.append(sa.func.lower(Contact.email) == email.lower())
    if phone:
        clauses.append(Contact.phone_e164 == phone)
        clauses.append(Contact.phone_raw == phone)
    if not clauses:
        return []
    return list(session.scalars(sa.select(Contact).where(Contact.shop_id == shop.id, sa.or_(*clauses))))


def contact_record(session: Session, contact: Contact) -> dict[str, Any]:
    """Everything we hold on one contact, as JSON."""
    ledger = session.scalars(
        sa.select(ConsentEvent).where(ConsentEvent.contact_id == contact.id).order_by(ConsentEvent.id)
    )
    messages = session.scalars(
        sa.select(Message).where(Message.contact_id == contact.id).order_by(Message.id)
    )
    conversations = session.scalars(
        sa.select(Conversation).where(Conversation.contact_id == contact.id).order_by(Conversation.id)
    )
    return {
        "contact": {
            "id": contact.id, "phone": contact.phone_e164, "phone_raw": contact.phone_raw,
            "email": contact.email, "first_name": contact.first_name, "last_name": contact.last_name,
            "locale": contact.locale, "tags": contact.tags, "orders_count": contact.orders_count,
            "total_spent": contact.total_spent, "last_order_at": _iso(contact.last_order_at),
            "shopify_customer_id": contact.shopify_customer_id,
            "hubspot_contact_id": contact.hubspot_contact_id,
            "consent_status": contact.consent_status, "opted_out_at": _iso(contact.opted_out_at),
            "properties": contact.properties, "created_at": _iso(contact.created_at),
        },
        "consent_ledger": [
            {"status": c.status, "source": c.source, "evidence": c.evidence,
             "occurred_at": _iso(c.occurred_at), "recorded_at": _iso(c.recorded_at)}
            for c in ledger
        ],
        "messages": [
            {"direction": m.direction, "kind": m.kind, "body": m.body, "status": m.status,
             "status_reason": m.status_reason, "to": m.to_phone, "from": m.from_phone,
             "created_at": _iso(m.created_at), "sent_at": _iso(m.sent_at)}
            for m in messages
        ],
        "conversations": [
            {"id": c.id, "flow": c.flow_key, "status": c.status, "created_at": _iso(c.created_at),
             "closed_at": _iso(c.closed_at)}
            for c in conversations
        ],
    }


def export_customer(session: Session, shop: Shop, event: DomainEvent, now: datetime) -> DataExport:
    contacts = find_customer_contacts(session, shop, event)
    export = DataExport(
        shop_id=shop.id,
        contact_id=contacts[0].id if contacts else None,
        request={k: v for k, v in (event.data or {}).items() if k != "raw"},
        payload={
            "shop": shop.domain,
            "generated_at": now.isoformat(),
            "records": [contact_record(session, c) for c in contacts],
        },
        created_at=now,
    )
    session.add(export)
    session.flush()
    return export


def redact_contact(session: Session, contact: Contact, now: datetime) -> int:
    """Erase personal data of one contact; anonymous counts (messages, statuses) stay."""
    for field in ("phone_e164", "phone_raw", "email", "first_name", "last_name", "birthday",
                  "shopify_customer_id", "hubspot_contact_id"):
        setattr(contact, field, None)
    contact.properties, contact.tags, contact.redacted_at = {}, [], now
    bodies = session.execute(
        sa.update(Message).where(Message.contact_id == contact.id)
        .values(body=REDACTED, to_phone=None, from_phone=None, media_urls=[])
    ).rowcount
    session.execute(
        sa.update(Message).where(Message.contact_id == contact.id, Message.status == "scheduled")
        .values(status="cancelled", status_reason="customer data erased")
    )
    session.execute(sa.update(TimelineEntry).where(TimelineEntry.contact_id == contact.id).values(body=REDACTED))
    session.execute(sa.update(ConsentEvent).where(ConsentEvent.contact_id == contact.id).values(evidence={}))
    session.execute(sa.update(Checkout).where(Checkout.contact_id == contact.id).values(data={}))
    session.execute(sa.update(Order).where(Order.contact_id == contact.id).values(data={}))
    session.execute(sa.update(DataExport).where(DataExport.contact_id == contact.id).values(payload={}))
    session.execute(sa.update(WebhookEvent).where(WebhookEvent.contact_id == contact.id).values(data={}))
    session.execute(sa.update(SignupRequest).where(SignupRequest.contact_id == contact.id).values(
        phone_e164=REDACTED, ip=None, user_agent=None, page_url=None, messages=[], code_hash=None))
    return bodies


def redact_customer(session: Session, shop: Shop, event: DomainEvent, now: datetime) -> dict[str, Any]:
    contacts = find_customer_contacts(session, shop, event)
    bodies = sum(redact_contact(session, c, now) for c in contacts)
    return {"contacts_redacted": len(contacts), "messages_redacted": bodies}


def redact_shop(session: Session, shop: Shop, now: datetime) -> dict[str, Any]:
    """Erase a shop's data (48 h after uninstall Shopify asks for it). The shop row stays as a
    tombstone so late deliveries are recognised and dropped."""
    counts: dict[str, int] = {}
    # Link clicks go with their links, webhook attempts with their deliveries (ON DELETE CASCADE).
    for model in (WebhookDelivery, WebhookEvent, WebhookEndpoint, IdempotentRequest, ApiKey,
                  Link, TimelineEntry, OutboundWrite, Message, FlowRun,
                  Conversation, ConsentEvent, Checkout, Order, DataExport, SyncState, Template,
                  Rule, StockAlert, SignupRequest, CatalogVariant, Contact, Installation):
        counts[model.__tablename__] = session.execute(
            sa.delete(model).where(model.shop_id == shop.id)
        ).rowcount
    session.execute(
        sa.update(StoreEvent).where(StoreEvent.shop_id == shop.id).values(payload="{}")
    )
    shop.name, shop.settings, shop.sms_number, shop.status = None, {}, None, "redacted"
    shop.uninstalled_at = shop.uninstalled_at or now
    return {"deleted": counts}

