"""Carry out outbox writes: consent pushed back to Shopify and to HubSpot's contact properties."""

from __future__ import annotations

from sqlalchemy.orm import Session

from automations.models import Contact, OutboundWrite, Shop
from connector import clients
from connector.runtime import Runtime
from integrations.errors import ApiError

# Our consent states -> Shopify's SmsMarketingState
SHOPIFY_STATES = {
    "subscribed": "SUBSCRIBED",
    "unsubscribed": "UNSUBSCRIBED",
    "pending": "PENDING",
    "not_subscribed": "NOT_SUBSCRIBED",
}


def carry_out(runtime: Runtime, session: Session, write: OutboundWrite) -> str:
    shop = session.get(Shop, write.shop_id)
    contact = session.get(Contact, write.contact_id) if write.contact_id else None
    if contact is None or contact.redacted_at is not None:
        write.last_error = "contact no longer exists"
        return "skipped"
    if write.target == "shopify" and write.action == "consent":
        return _shopify_consent(runtime, session, shop, contact, write)
    if write.target == "hubspot" and write.action == "consent":
        return _hubspot_consent(runtime, session, shop, contact, write)
    write.last_error = f"no handler for {write.target}/{write.action}"
    return "failed"


def _shopify_consent(runtime: Runtime, session: Session, shop: Shop, contact: Contact, write: OutboundWrite) -> str:
    client = clients.shopify_for(runtime, session, shop)
    if client is None or not contact.shopify_customer_id:
        write.last_error = "Shopify not connected or contact not a Shopify customer"
        return "skipped"
    state = SHOPIFY_STATES[write.payload["status"]]
    errors = client.update_sms_consent(contact.shopify_customer_id, state)
    if errors:
        write.last_error = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors)
        raise ApiError(f"Shopify refused the consent update: {write.last_error}", status=422)
    return "done"


def _hubspot_consent(runtime: Runtime, session: Session, shop: Shop, contact: Contact, write: OutboundWrite) -> str:
    from connector.crm import hubspot_contact_id

    client = clients.hubspot_for(runtime, session, shop)
    if client is None:
        write.last_error = "HubSpot is not connected for this shop"
        return "skipped"
    contact_id = hubspot_contact_id(runtime, session, client, shop, contact)
    if contact_id is None:
        write.last_error = "contact not in HubSpot and the shop does not create contacts"
        return "skipped"
    client.update_contact(contact_id, {
        "parlons_sms_consent": write.payload["status"],
        "parlons_sms_consent_source": write.payload.get("source", ""),
        "parlons_sms_consent_updated_at": write.payload.get("occurred_at", ""),
        **({"parlons_phone_e164": contact.phone_e164} if contact.phone_e164 else {}),
    })
    return "done"
