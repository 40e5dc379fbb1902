"""Carry out outbox writes: consent pushed back to Shopify and to HubSpot's contact properties,
and customers' answers posted to the merchant's own webhook."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import requests
from sqlalchemy.orm import Session

from automations.models import Contact, OutboundWrite, Shop
from connector import clients
from connector.runtime import Runtime
from connector.worker.timeline import hubspot_target
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
    if write.target == "shop_webhook":
        return _shop_webhook(shop, write)
    write.last_error = f"no handler for {write.target}/{write.action}"
    return "failed"


def _shop_webhook(shop: Shop, write: OutboundWrite) -> str:
    """Tell the merchant's own system what a customer answered (e.g. a visit cancelled).

    POSTs the JSON payload to the shop's `webhook_url` setting, signed like Shopify signs its
    webhooks: base64 HMAC-SHA256 of the body with the shop's `webhook_secret`, in
    `X-Parlons-Hmac-Sha256`. Without a URL the notification stays visible in the admin only.
    """
    settings = shop.settings or {}
    url = settings.get("webhook_url")
    if not url:
        write.last_error = "no webhook_url set for the shop: the answer is in the admin inbox only"
        return "skipped"
    body = json.dumps({"event": write.action, "shop": shop.domain, **write.payload}).encode()
    signature = base64.b64encode(
        hmac.new(str(settings.get("webhook_secret", "")).encode(), body, hashlib.sha256).digest()
    ).decode()
    try:
        answer = requests.post(url, data=body, timeout=10, headers={
            "Content-Type": "application/json", "X-Parlons-Hmac-Sha256": signature,
            "X-Parlons-Event": write.action, "X-Parlons-Delivery-Id": write.key,
        })
    except requests.RequestException as exc:
        raise ApiError(f"shop webhook unreachable: {type(exc).__name__}") from None
    if answer.status_code >= 300:
        raise ApiError(f"shop webhook answered {answer.status_code}", status=answer.status_code,
                       retry_after=_retry_after(answer))
    return "done"


def _retry_after(answer: requests.Response) -> float | None:
    try:
        return float(answer.headers.get("Retry-After", ""))
    except ValueError:
        return None


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
    target = hubspot_target(runtime, session, shop, contact)
    if isinstance(target, str):
        write.last_error = target
        return "skipped"
    client, contact_id = target
    client.update_contact(contact_id, {
        "parlons_sms_consent": write.payload["status"],
        "parlons_sms_consent_source": write.payload.get("source", ""),
        "parlons_sms_consent_updated_at": write.payload.get("occurred_at", ""),
        **({"parlons_phone_e164": contact.phone_e164} if contact.phone_e164 else {}),
    })
    return "done"
