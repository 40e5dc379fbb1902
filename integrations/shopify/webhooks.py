"""Shopify webhooks: the signature check over the raw body, and topic + payload -> domain events.

`translate` never looks at a phone's validity: a missing or unparsable phone still yields the
event (the engine decides what needs a phone). A body missing what its topic needs (a checkout
without `token`, an order without its gid) raises PayloadError, keyed by field.
"""

from __future__ import annotations

import base64
import functools
import hmac
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError

from automations import events as ev
from automations.events import ContactData, DomainEvent
from integrations.shopify.schemas import TOPIC_SCHEMAS, sms_consent

COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
# Catalogue topics are read by `integrations.shopify.catalog` (alerts), not translated to events.
CATALOG_TOPICS = frozenset({"products/create", "products/update", "inventory_levels/update"})
SUPPORTED_TOPICS = frozenset(TOPIC_SCHEMAS) | CATALOG_TOPICS

# A fulfillment in one of these states never shipped: it yields no event.
_DEAD_FULFILLMENT_STATUSES = frozenset({"cancelled", "error", "failure"})
_SHIPMENT_EVENTS = {
    "out_for_delivery": ev.OUT_FOR_DELIVERY,
    "delivered": ev.DELIVERED,
    "failure": ev.DELIVERY_PROBLEM,
    "attempted_delivery": ev.DELIVERY_PROBLEM,
}
_ORDER_EVENTS = {
    "orders/create": ev.ORDER_PLACED,
    "orders/paid": ev.ORDER_PAID,
    "orders/cancelled": ev.ORDER_CANCELLED,
    "orders/fulfilled": ev.ORDER_FULFILLED,
}
_CUSTOMER_EVENTS = {
    "customers/create": ev.CUSTOMER_CREATED,
    "customers/update": ev.CUSTOMER_UPDATED,
}


class PayloadError(ValueError):
    """The body does not carry what its topic needs; `messages` is keyed by field."""

    def __init__(self, topic: str, messages: dict[str, Any]) -> None:
        super().__init__(f"invalid {topic} payload: {messages}")
        self.topic = topic
        self.messages = messages


def verify_hmac(raw_body: bytes, header_value: str | None, secret: str) -> bool:
    """True when `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the exact raw body."""
    if not header_value or not secret:
        return False
    expected = base64.b64encode(hmac.digest(secret.encode(), raw_body, "sha256"))
    return hmac.compare_digest(expected, header_value.strip().encode())


def translate(topic: str, payload: dict) -> list[DomainEvent]:
    """Turn one webhook payload into the domain events it means (possibly none)."""
    schema_cls = TOPIC_SCHEMAS.get(topic)
    if schema_cls is None:
        raise ValueError(f"unsupported Shopify topic: {topic!r}")
    if not isinstance(payload, dict):
        raise PayloadError(topic, {"_schema": ["Payload is not a JSON object."]})
    try:
        body = _schema(schema_cls).load(payload)
    except ValidationError as exc:
        raise PayloadError(topic, exc.messages_dict) from exc
    return _TRANSLATORS[topic](topic, body)


# --- helpers ---------------------------------------------------------------------------------


@functools.cache
def _schema(schema_cls: type[Schema]) -> Schema:
    """One instance per schema: building one copies every declared field, loading changes none."""
    return schema_cls()


def _first(*values: str | None) -> str | None:
    for value in values:
        if value and value.strip():
            return value.strip()
    return None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _line_items(items: list[dict]) -> list[dict]:
    return [
        {
            "title": item["title"],
            "quantity": item["quantity"],
            "price": item.get("price"),
            "product_id": f"gid://shopify/Product/{item['product_id']}" if item.get("product_id") else None,
            "variant_title": item.get("variant_title"),
            "sku": item.get("sku"),
        }
        for item in items or []
    ]


def _buyer_contact(body: dict, phones: list[str | None], email: str | None, locale: str | None) -> ContactData:
    """Contact for a checkout or an order: customer first, then shipping, then billing address."""
    customer = body.get("customer") or {}
    shipping = body.get("shipping_address") or {}
    billing = body.get("billing_address") or {}
    default = customer.get("default_address") or {}
    named = next((p for p in (customer, shipping, billing) if p.get("first_name") or p.get("last_name")), {})
    return ContactData(
        phone=_first(*phones),
        email=_first(email, customer.get("email")),
        first_name=named.get("first_name"),
        last_name=named.get("last_name"),
        locale=locale,
        shopify_customer_id=customer.get("admin_graphql_api_id"),
        country=_first(shipping.get("country_code"), billing.get("country_code"), default.get("country_code")),
    )


def _customer_gid(numeric_id: int) -> str:
    return f"gid://shopify/Customer/{numeric_id}"


# --- per resource ----------------------------------------------------------------------------


def _checkouts(topic: str, body: dict) -> list[DomainEvent]:
    if topic == "checkouts/delete":
        # A deleted checkout carries no token to key on and changes nothing we do.
        return []
    shipping = body.get("shipping_address") or {}
    billing = body.get("billing_address") or {}
    contact = _buyer_contact(
        body,
        [body.get("phone"), body.get("sms_marketing_phone"), shipping.get("phone"), billing.get("phone")],
        body.get("email"),
        body.get("customer_locale"),
    )
    data = {
        "token": body["token"],
        "line_items": _line_items(body.get("line_items")),
        "total_price": body.get("total_price"),
        "currency": body.get("currency"),
        "abandoned_checkout_url": body.get("abandoned_checkout_url"),
        "completed_at": _iso(body.get("completed_at")),
        "email": contact.email,
        "phone": contact.phone,
        "buyer_accepts_sms_marketing": body.get("buyer_accepts_sms_marketing"),
    }
    return [
        DomainEvent(
            type=ev.CHECKOUT_UPDATED,
            occurred_at=body.get("updated_at") or body.get("created_at"),
            subject_key=body["token"],
            contact=contact,
            data=data,
            source_updated_at=body.get("updated_at"),
        )
    ]


def _orders(topic: str, body: dict) -> list[DomainEvent]:
    event_type = _ORDER_EVENTS.get(topic)
    if event_type is None:
        # orders/updated and orders/partially_fulfilled are validated but carry nothing the
        # dedicated topics (paid, cancelled, fulfilled, fulfillments/*) do not already say.
        return []
    customer = body.get("customer") or {}
    shipping = body.get("shipping_address") or {}
    billing = body.get("billing_address") or {}
    contact = _buyer_contact(
        body,
        [body.get("phone"), customer.get("phone"), shipping.get("phone"), billing.get("phone")],
        _first(body.get("email"), body.get("contact_email")),
        body.get("customer_locale"),
    )
    data = {
        "order_gid": body["admin_graphql_api_id"],
        "order_name": body["name"],
        "checkout_token": body.get("checkout_token"),
        "total_price": body.get("total_price"),
        "currency": body.get("currency"),
        "line_items": _line_items(body.get("line_items")),
        "customer_gid": customer.get("admin_graphql_api_id"),
        "order_status_url": body.get("order_status_url"),
        "financial_status": body.get("financial_status"),
        "fulfillment_status": body.get("fulfillment_status"),
        "discount_codes": [d["code"] for d in body.get("discount_codes") or []],
    }
    occurred_at = body.get("updated_at")
    if topic == "orders/create":
        occurred_at = body.get("processed_at") or body.get("created_at")
    elif topic == "orders/cancelled":
        data["cancel_reason"] = body.get("cancel_reason")
        data["cancelled_at"] = _iso(body.get("cancelled_at"))
        occurred_at = body.get("cancelled_at") or occurred_at
    return [
        DomainEvent(
            type=event_type,
            occurred_at=occurred_at,
            subject_key=body["admin_graphql_api_id"],
            contact=contact,
            data=data,
            source_updated_at=body.get("updated_at"),
        )
    ]


_ORDER_NAME_RE = re.compile(r"^(?P<order>.+)\.\d+$")


def _fulfillments(topic: str, body: dict) -> list[DomainEvent]:
    if (body.get("status") or "").lower() in _DEAD_FULFILLMENT_STATUSES:
        return []
    gid = body["admin_graphql_api_id"]
    shipment_status = (body.get("shipment_status") or "").lower() or None
    destination = body.get("destination") or {}
    name = body.get("name")
    order_name = _ORDER_NAME_RE.match(name)["order"] if name and _ORDER_NAME_RE.match(name) else None
    tracking_numbers = body.get("tracking_numbers") or ([body["tracking_number"]] if body.get("tracking_number") else [])
    tracking_urls = body.get("tracking_urls") or ([body["tracking_url"]] if body.get("tracking_url") else [])
    data = {
        "fulfillment_gid": gid,
        "fulfillment_name": name,
        "order_gid": f"gid://shopify/Order/{body['order_id']}" if body.get("order_id") else None,
        "order_name": order_name,
        "carrier": body.get("tracking_company"),
        "tracking_number": _first(body.get("tracking_number"), *tracking_numbers),
        "tracking_numbers": tracking_numbers,
        "tracking_url": _first(body.get("tracking_url"), *tracking_urls),
        "tracking_urls": tracking_urls,
        "shipment_status": shipment_status,
        "line_items": _line_items(body.get("line_items")),
    }
    contact = ContactData(
        phone=_first(destination.get("phone")),
        email=body.get("email"),
        first_name=destination.get("first_name"),
        last_name=destination.get("last_name"),
        country=destination.get("country_code"),
    )
    event_type = _SHIPMENT_EVENTS.get(shipment_status or "", ev.ORDER_SHIPPED)
    subject_key = gid if event_type == ev.ORDER_SHIPPED else f"{gid}:{shipment_status}"
    return [
        DomainEvent(
            type=event_type,
            occurred_at=body.get("updated_at") or body.get("created_at"),
            subject_key=subject_key,
            contact=contact,
            data=data,
            source_updated_at=body.get("updated_at"),
        )
    ]


def _customers(topic: str, body: dict) -> list[DomainEvent]:
    gid = body["admin_graphql_api_id"]
    if topic == "customers/delete":
        return [
            DomainEvent(
                type=ev.CUSTOMER_DELETED,
                subject_key=gid,
                contact=ContactData(shopify_customer_id=gid),
                data={"customer_gid": gid},
            )
        ]
    default = body.get("default_address") or {}
    tags = [t.strip() for t in (body.get("tags") or "").split(",") if t.strip()]
    contact = ContactData(
        phone=_first(body.get("phone"), default.get("phone")),
        email=body.get("email"),
        first_name=body.get("first_name"),
        last_name=body.get("last_name"),
        locale=body.get("locale"),
        shopify_customer_id=gid,
        country=default.get("country_code"),
        tags=tags,
    )
    return [
        DomainEvent(
            type=_CUSTOMER_EVENTS[topic],
            occurred_at=body.get("updated_at") or body.get("created_at"),
            subject_key=gid,
            contact=contact,
            data={"customer_gid": gid, "state": body.get("state"), "tags": tags},
            source_updated_at=body.get("updated_at"),
        )
    ]


def _marketing_consent(topic: str, body: dict) -> list[DomainEvent]:
    gid = body.get("admin_graphql_api_id") or _customer_gid(body["id"])
    raw = body.get("sms_marketing_consent") or {}
    consent = sms_consent(
        raw.get("state"),
        opt_in_level=raw.get("opt_in_level"),
        consent_updated_at=raw.get("consent_updated_at"),
        collected_from=raw.get("consent_collected_from"),
    )
    return [
        DomainEvent(
            type=ev.CONSENT_CHANGED,
            occurred_at=consent.occurred_at,
            subject_key=gid,
            contact=ContactData(phone=_first(body.get("phone")), shopify_customer_id=gid),
            consent=consent,
            data={"customer_gid": gid, "state": raw.get("state")},
            source_updated_at=consent.occurred_at,
        )
    ]


def _app(topic: str, body: dict) -> list[DomainEvent]:
    shop_id = body.get("id")
    key = _first(body.get("myshopify_domain"), body.get("domain")) or (str(shop_id) if shop_id else None)
    data = {
        "shop_id": shop_id,
        "shop_name": body.get("name"),
        "myshopify_domain": body.get("myshopify_domain"),
        "domain": body.get("domain"),
    }
    return [DomainEvent(type=ev.APP_UNINSTALLED, subject_key=key, data=data)]


def _compliance(topic: str, body: dict) -> list[DomainEvent]:
    data: dict[str, Any] = {"shop_id": body["shop_id"], "shop_domain": body["shop_domain"]}
    if topic == "shop/redact":
        return [DomainEvent(type=ev.SHOP_REDACT, subject_key=body["shop_domain"], data=data)]
    customer = body["customer"]
    gid = _customer_gid(customer["id"])
    data.update(customer_id=customer["id"], customer_gid=gid, email=customer.get("email"), phone=customer.get("phone"))
    contact = ContactData(phone=_first(customer.get("phone")), email=customer.get("email"), shopify_customer_id=gid)
    if topic == "customers/data_request":
        request_id = (body.get("data_request") or {}).get("id")
        data.update(orders_requested=body.get("orders_requested") or [], data_request_id=request_id)
        key = f"data_request:{request_id}" if request_id is not None else gid
        return [DomainEvent(type=ev.DATA_REQUESTED, subject_key=key, contact=contact, data=data)]
    data["orders_to_redact"] = body.get("orders_to_redact") or []
    return [DomainEvent(type=ev.CUSTOMER_REDACT, subject_key=gid, contact=contact, data=data)]


_BY_RESOURCE: dict[str, Callable[[str, dict], list[DomainEvent]]] = {
    "checkouts": _checkouts,
    "orders": _orders,
    "fulfillments": _fulfillments,
    "customers": _customers,
    "customers_marketing_consent": _marketing_consent,
    "app": _app,
}
_TRANSLATORS = {
    topic: _compliance if topic in COMPLIANCE_TOPICS else _BY_RESOURCE[topic.split("/")[0]]
    for topic in TOPIC_SCHEMAS
}
