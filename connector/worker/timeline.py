"""The HubSpot timeline: one SMS communication per outbound SMS, reply, keyword action, consent
change and handoff, written once (found again by its marker after a lost answer)."""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from automations.models import Contact, Message, Shop, TimelineEntry
from connector import clients
from connector.runtime import Runtime

TITLES = {"sms_out": "SMS to {who}", "sms_in": "SMS reply from {who}", "keyword": "Keyword from {who}",
          "consent": "SMS consent of {who}", "handoff": "Conversation with {who} handed to a person"}


def marker_for(key: str) -> str:
    """A stable search token for an entry (letters and digits only, as HubSpot tokenises)."""
    return "parlons" + hashlib.sha1(key.encode()).hexdigest()[:24]


def hubspot_contact_id(runtime: Runtime, session: Session, hubspot, shop: Shop, contact: Contact) -> str | None:  # noqa: ANN001
    """The contact's HubSpot id: known, found by phone/email, or created when the shop says so."""
    if contact.hubspot_contact_id:
        return contact.hubspot_contact_id
    found = hubspot.find_contact(phone_e164=contact.phone_e164, email=contact.email)
    if found is None:
        if not (shop.settings or {}).get("hubspot_create_contacts", True):
            return None
        props = {"parlons_phone_e164": contact.phone_e164, "phone": contact.phone_e164,
                 "email": contact.email, "firstname": contact.first_name, "lastname": contact.last_name}
        found = hubspot.create_contact({k: v for k, v in props.items() if v})
    contact.hubspot_contact_id = str(found["id"])
    return contact.hubspot_contact_id


def hubspot_target(runtime: Runtime, session: Session, shop: Shop, contact: Contact | None):  # noqa: ANN201
    """(portal client, the contact's HubSpot id) to write to, or the reason there is none."""
    hubspot = clients.hubspot_for(runtime, session, shop)
    if hubspot is None:
        return "HubSpot is not connected for this shop"
    if contact is None or contact.redacted_at is not None:
        return "no contact to attach it to"
    if contact.deleted_at is not None:  # never re-created in HubSpot behind the CRM user's back
        return "contact deleted"
    contact_id = hubspot_contact_id(runtime, session, hubspot, shop, contact)
    if contact_id is None:
        return "contact not in HubSpot and the shop does not create contacts"
    return hubspot, contact_id


def write_timeline_entry(runtime: Runtime, session: Session, entry: TimelineEntry) -> str:
    shop = session.get(Shop, entry.shop_id)
    contact = session.get(Contact, entry.contact_id) if entry.contact_id else None
    target = hubspot_target(runtime, session, shop, contact)
    if isinstance(target, str):
        entry.last_error = target
        return "skipped"
    hubspot, contact_id = target
    marker = marker_for(entry.key)
    body = readable_body(runtime, session, entry, contact)
    if entry.hubspot_id:
        hubspot.update_communication(entry.hubspot_id, body, marker)
    else:
        existing = hubspot.find_communication(marker) if entry.attempts else None
        entry.hubspot_id = existing or hubspot.create_communication(
            contact_id, body, entry.occurred_at, marker
        )
    return "written"


def readable_body(runtime: Runtime, session: Session, entry: TimelineEntry, contact: Contact) -> str:
    """What the CRM user reads: who, what (with its status), and where to follow it up."""
    name, phone = contact.full_name, contact.phone_e164
    who = f"{name} ({phone})" if name and phone else name or phone
    lines = [TITLES.get(entry.kind, "{who}").format(who=who or "an unknown number"), entry.body]
    message = session.get(Message, entry.message_id) if entry.message_id else None
    conversation_id = message.conversation_id if message is not None else None
    if conversation_id is None and entry.kind == "handoff":
        conversation_id = entry.key.split(":")[1]  # handoff:<conversation id>:<ref>
    if conversation_id:
        lines.append(f"Conversation: {runtime.config.public_url.rstrip('/')}/admin/conversations/{conversation_id}")
    return "\n".join(lines)
