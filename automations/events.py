"""Domain events: what happened in a store or a CRM, in our own words.

Integrations translate outside payloads into these; the engine only ever sees these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Event types the rule engine knows. Integrations must use these names.
CART_ABANDONED = "CartAbandoned"
CHECKOUT_UPDATED = "CheckoutUpdated"
ORDER_PLACED = "OrderPlaced"
ORDER_PAID = "OrderPaid"
ORDER_CANCELLED = "OrderCancelled"
ORDER_FULFILLED = "OrderFulfilled"
ORDER_SHIPPED = "OrderShipped"
OUT_FOR_DELIVERY = "OutForDelivery"
DELIVERED = "Delivered"
DELIVERY_PROBLEM = "DeliveryProblem"
CUSTOMER_CREATED = "CustomerCreated"
CUSTOMER_UPDATED = "CustomerUpdated"
CUSTOMER_DELETED = "CustomerDeleted"
CONSENT_CHANGED = "ConsentChanged"
CONSENT_GRANTED = "ConsentGranted"
NO_ORDER_SINCE = "NoOrderSince"
DATE_REACHED = "DateReached"
INBOUND_REPLY = "InboundReply"
APP_UNINSTALLED = "AppUninstalled"
DATA_REQUESTED = "DataRequested"
CUSTOMER_REDACT = "CustomerRedact"
SHOP_REDACT = "ShopRedact"

EVENT_TYPES = frozenset(
    {
        CART_ABANDONED, CHECKOUT_UPDATED, ORDER_PLACED, ORDER_PAID, ORDER_CANCELLED,
        ORDER_FULFILLED, ORDER_SHIPPED, OUT_FOR_DELIVERY, DELIVERED, DELIVERY_PROBLEM,
        CUSTOMER_CREATED, CUSTOMER_UPDATED, CUSTOMER_DELETED, CONSENT_CHANGED, CONSENT_GRANTED,
        NO_ORDER_SINCE, DATE_REACHED, INBOUND_REPLY, APP_UNINSTALLED, DATA_REQUESTED,
        CUSTOMER_REDACT, SHOP_REDACT,
    }
)

# Consent states of record (the same words as the HubSpot property's options).
SUBSCRIBED = "subscribed"
UNSUBSCRIBED = "unsubscribed"
PENDING = "pending"
NOT_SUBSCRIBED = "not_subscribed"
CONSENT_STATES = (SUBSCRIBED, UNSUBSCRIBED, PENDING, NOT_SUBSCRIBED)


@dataclass
class ContactData:
    """Who an event is about, as the source knows them. Phone is raw: we normalise it."""

    phone: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = None
    shopify_customer_id: str | None = None  # admin_graphql_api_id (gid)
    hubspot_contact_id: str | None = None
    country: str | None = None  # ISO 3166 alpha-2 hint for phone parsing
    tags: list[str] = field(default_factory=list)
    orders_count: int | None = None
    total_spent: str | None = None
    last_order_at: datetime | None = None


@dataclass
class ConsentData:
    """A consent statement from a source, with the evidence it gave."""

    status: str  # one of CONSENT_STATES
    source: str  # shopify | hubspot | sms | admin | api
    occurred_at: datetime | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class DomainEvent:
    """One thing that happened. `subject_key` names what it is about (checkout token, order gid)."""

    type: str
    occurred_at: datetime | None = None
    subject_key: str | None = None
    contact: ContactData | None = None
    consent: ConsentData | None = None
    data: dict[str, Any] = field(default_factory=dict)
    source_updated_at: datetime | None = None  # the source's `updated_at`, for stale checks

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown domain event type: {self.type!r}")
