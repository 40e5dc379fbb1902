"""Worker side of HubSpot webhooks: a stored event becomes domain events, or a change of links.

- `translate` reads one stored event (one per event and shop), drops echoes of our own writes,
  and fills in what HubSpot's event does not carry (a new contact's phone, email and names are
  read from HubSpot) so the engine matches the contact we already know instead of making one.
- `apply_lifecycle` handles what is about links rather than automation: a deleted contact is
  unlinked and gets no more SMS; a merge moves our links to the surviving contact; a privacy
  deletion erases what we hold on the contact.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import events as ev
from automations import privacy
from automations.deletion import delete_contact
from automations.events import ContactData, DomainEvent
from automations.models import Contact, OutboundWrite, Shop, StoreEvent
from connector.runtime import Runtime
from integrations.errors import ApiError
from integrations.hubspot import webhooks as hubspot_webhooks
from integrations.hubspot.schemas import HubSpotEventSchema, PayloadError

log = logging.getLogger("parlons.hubspot")
_SCHEMA = HubSpotEventSchema()
_NEEDS_READING = {"contact.creation", "contact.propertyChange"}


def parse(payload: str):  # noqa: ANN201 - HubSpotEvent
    try:
        raw = json.loads(payload)
        return _SCHEMA.load(raw if isinstance(raw, dict) else {})
    except ValueError as exc:  # json and marshmallow errors are both ValueErrors
        raise PayloadError(f"not a HubSpot event: {exc}") from None


def linked_contacts(session: Session, shop_id: int, hubspot_ids: list[str]) -> list[Contact]:
    return list(session.scalars(
        sa.select(Contact).where(Contact.shop_id == shop_id, Contact.hubspot_contact_id.in_(hubspot_ids),
                                 Contact.deleted_at.is_(None)).order_by(Contact.id)
    ))


def last_consent_written(session: Session, contact: Contact | None) -> str | None:
    """The consent we last pushed to HubSpot for this contact, while it is still its state:
    HubSpot telling us that value back is our own write returning."""
    if contact is None:
        return None
    last = session.scalars(
        sa.select(OutboundWrite).where(OutboundWrite.contact_id == contact.id, OutboundWrite.target == "hubspot",
                                       OutboundWrite.action == "consent")
        .order_by(OutboundWrite.id.desc()).limit(1)
    ).first()
    if last is None or last.payload.get("status") != contact.consent_status:
        return None
    return last.payload.get("status")


def translate(runtime: Runtime, session: Session, event: StoreEvent) -> list[DomainEvent]:
    """The domain events of one stored HubSpot event (none for an echo or a change we ignore)."""
    parsed = parse(event.payload)
    if event.shop_id is None:
        return []
    known = linked_contacts(session, event.shop_id, [str(parsed.object_id)]) if parsed.object_id else []
    last_written = None
    if parsed.property_name == hubspot_webhooks.CONSENT_PROPERTY:
        last_written = last_consent_written(session, known[0] if known else None)
    domain = hubspot_webhooks.translate(parsed, own_app_id=runtime.config.hubspot_app_id or None,
                                        last_written=last_written)
    if domain is None:
        return []
    if parsed.subscription_type in _NEEDS_READING and not known and domain.contact is not None:
        domain.contact = _read_contact(runtime, session, event.shop_id, domain.contact)
    return [domain]


def _read_contact(runtime: Runtime, session: Session, shop_id: int, contact: ContactData) -> ContactData:
    """A contact new to us, with what HubSpot knows of it (phone, email, names)."""
    from connector import clients

    client = clients.hubspot_for(runtime, session, session.get(Shop, shop_id))
    if client is None or not contact.hubspot_contact_id:
        return contact
    try:
        found = client.batch_read([contact.hubspot_contact_id])
    except ApiError as error:
        if error.retryable:
            raise  # the event fails and is tried again by the tick
        log.warning("HubSpot contact %s could not be read: %s", contact.hubspot_contact_id, error)
        return contact
    if not found:
        return contact
    props = found[0]["properties"]
    phone = props.get("parlons_phone_e164") or props.get("mobilephone") or props.get("phone")
    return ContactData(
        hubspot_contact_id=contact.hubspot_contact_id, phone=contact.phone or phone,
        email=contact.email or props.get("email"), first_name=contact.first_name or props.get("firstname"),
        last_name=contact.last_name or props.get("lastname"),
    )


def apply_lifecycle(session: Session, shop: Shop, event: DomainEvent, now: datetime) -> dict[str, Any] | None:
    """Deletion, merge and privacy deletion of HubSpot contacts; None for everything else."""
    hubspot_id = event.contact.hubspot_contact_id if event.contact else None
    if event.type == ev.CUSTOMER_DELETED:
        return {"type": event.type, **forget_contact(session, shop, hubspot_id, now)}
    if event.type == ev.CUSTOMER_REDACT:
        contacts = linked_contacts(session, shop.id, [hubspot_id] if hubspot_id else [])
        bodies = sum(privacy.redact_contact(session, c, now) for c in contacts)
        return {"type": event.type, "contacts_redacted": len(contacts), "messages_redacted": bodies}
    merge = event.data.get("merge")
    if event.type == ev.CUSTOMER_UPDATED and merge:
        ids = [i for i in [*merge.get("merged_object_ids", []), merge.get("primary_object_id")] if i]
        moved = [c for c in linked_contacts(session, shop.id, ids) if c.hubspot_contact_id != hubspot_id]
        for contact in moved:
            contact.hubspot_contact_id = hubspot_id
        return {"type": event.type, "merged_into": hubspot_id, "contacts_relinked": [c.id for c in moved]}
    return None


def forget_contact(session: Session, shop: Shop, hubspot_id: str | None, now: datetime) -> dict[str, Any]:
    """A contact deleted in HubSpot: unlinked, its flows ended, its waiting SMS cancelled, and
    no SMS to it from now on (what was already sent keeps its status; nothing is erased)."""
    contacts = linked_contacts(session, shop.id, [hubspot_id] if hubspot_id else [])
    cancelled: list[int] = []
    for contact in contacts:
        cancelled += delete_contact(session, contact, source="hubspot", now=now)
    return {"contacts_unlinked": [c.id for c in contacts], "messages_cancelled": cancelled}
