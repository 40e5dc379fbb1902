"""One test per documented Shopify payload (API 2026-01): the domain events each one yields.

Each test reads the fixture's exact bytes, signs them like Shopify, checks the signature, then
translates the parsed body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from automations import events as ev
from integrations.shopify.webhooks import SUPPORTED_TOPICS, translate, verify_hmac

FIXTURES = Path(__file__).parents[2] / "fixtures" / "shopify" / "2026-01"
SECRET = "shpss_fixture_secret"
EST = timezone(timedelta(hours=-5))
NEW_YEAR_EVE = datetime(2021, 12, 31, 19, 0, tzinfo=EST)


def deliver(topic: str) -> list[ev.DomainEvent]:
    """Given the fixture's bytes signed like Shopify, when verified and translated, the events."""
    raw = (FIXTURES / f"{topic.replace('/', '__')}.json").read_bytes()
    header = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    assert verify_hmac(raw, header, SECRET)
    return translate(topic, json.loads(raw))


def only(events: list[ev.DomainEvent]) -> ev.DomainEvent:
    assert len(events) == 1
    return events[0]


def test_every_fixture_names_a_supported_topic():
    topics = {p.stem.replace("__", "/") for p in FIXTURES.glob("*.json")}
    assert topics == SUPPORTED_TOPICS


@pytest.mark.parametrize("topic", ["checkouts/create", "checkouts/update"])
def test_checkout_create_and_update_yield_checkout_updated_keyed_on_token(topic):
    event = only(deliver(topic))
    assert event.type == ev.CHECKOUT_UPDATED
    assert event.subject_key == "123123123"
    assert event.source_updated_at == NEW_YEAR_EVE
    assert event.data["token"] == "123123123"
    assert event.data["total_price"] == "421.88"
    assert event.data["currency"] == "USD"
    assert event.data["abandoned_checkout_url"].endswith("/checkouts/123123123/recover?key=example-secret-token")
    assert event.data["completed_at"] is None
    assert event.data["line_items"][0] == {
        "title": "IPod Nano - 8GB", "quantity": 1, "price": "199.00",
        "product_id": "gid://shopify/Product/632910392", "variant_title": "Pink", "sku": "IPOD2008PINK",
    }
    assert len(event.data["line_items"]) == 2
    # No checkout phone nor SMS phone: the shipping address phone, raw even though invalid.
    assert event.data["phone"] == event.contact.phone == "555-555-SHIP"
    assert event.data["email"] == event.contact.email == "example@email.com"
    assert event.contact.shopify_customer_id == "gid://shopify/Customer/603851970716743426"
    assert (event.contact.first_name, event.contact.last_name) == ("John", "Smith")
    assert event.contact.country == "US"


def test_checkout_delete_yields_nothing():
    assert deliver("checkouts/delete") == []


@pytest.mark.parametrize(
    "topic,event_type",
    [
        ("orders/create", ev.ORDER_PLACED),
        ("orders/paid", ev.ORDER_PAID),
        ("orders/cancelled", ev.ORDER_CANCELLED),
        ("orders/fulfilled", ev.ORDER_FULFILLED),
    ],
)
def test_order_topics_yield_their_event_keyed_on_order_gid(topic, event_type):
    event = only(deliver(topic))
    assert event.type == event_type
    assert event.subject_key == "gid://shopify/Order/820982911946154508"  # not the rounded id
    assert event.data["order_gid"] == "gid://shopify/Order/820982911946154508"
    assert event.data["order_name"] == "#9999"
    assert event.data["checkout_token"] is None
    assert (event.data["total_price"], event.data["currency"]) == ("404.95", "USD")
    assert event.data["customer_gid"] == "gid://shopify/Customer/115310627314723954"
    assert [item["title"] for item in event.data["line_items"]] == [
        "Aviator sunglasses", "Lens Protection Plan (2 Year)", "Premium Leather Case",
        "Mid-century lounger", "Coffee table",
    ]
    assert event.contact.email == "jon@example.com"
    assert event.contact.locale == "en"
    assert event.contact.phone == "555-555-SHIP"
    assert event.occurred_at == NEW_YEAR_EVE


def test_order_cancelled_says_why_and_when():
    event = only(deliver("orders/cancelled"))
    assert event.data["cancel_reason"] == "customer"
    assert event.data["cancelled_at"] == NEW_YEAR_EVE.isoformat()


@pytest.mark.parametrize("topic", ["orders/updated", "orders/partially_fulfilled"])
def test_order_updated_and_partially_fulfilled_are_validated_but_yield_nothing(topic):
    assert deliver(topic) == []


@pytest.mark.parametrize("topic", ["fulfillments/create", "fulfillments/update"])
def test_fulfillment_without_shipment_status_yields_order_shipped_with_tracking(topic):
    event = only(deliver(topic))
    assert event.type == ev.ORDER_SHIPPED
    assert event.subject_key == "gid://shopify/Fulfillment/123456"
    assert event.data["carrier"] == "UPS"
    assert event.data["tracking_number"] == "1z827wk74630"
    assert event.data["tracking_numbers"] == ["1z827wk74630"]
    assert event.data["tracking_url"].startswith("https://www.ups.com/WebTracking")
    assert event.data["order_name"] == "#9999"
    assert event.data["fulfillment_name"] == "#9999.1"
    assert event.contact.phone == "555-555-SHIP"
    assert event.contact.email == "jon@example.com"
    assert event.contact.country == "US"


@pytest.mark.parametrize(
    "topic,event_type", [("customers/create", ev.CUSTOMER_CREATED), ("customers/update", ev.CUSTOMER_UPDATED)]
)
def test_customer_create_and_update_carry_the_contact(topic, event_type):
    event = only(deliver(topic))
    assert event.type == event_type
    assert event.subject_key == "gid://shopify/Customer/706405506930370084"
    contact = event.contact
    assert (contact.first_name, contact.last_name, contact.email) == ("Bob", "Biller", "bob@biller.com")
    assert contact.phone == "555-555-5555"  # the default address's, since the customer has none
    assert contact.country == "CA"
    assert event.source_updated_at == NEW_YEAR_EVE


def test_customer_delete_names_the_customer():
    event = only(deliver("customers/delete"))
    assert event.type == ev.CUSTOMER_DELETED
    assert event.contact.shopify_customer_id == "gid://shopify/Customer/706405506930370084"


def test_marketing_consent_update_without_state_means_not_subscribed_with_evidence():
    event = only(deliver("customers_marketing_consent/update"))
    assert event.type == ev.CONSENT_CHANGED
    assert event.consent.status == ev.NOT_SUBSCRIBED
    assert event.consent.source == "shopify"
    assert event.consent.evidence == {
        "consent_collected_from": "other", "opt_in_level": None, "consent_updated_at": None, "state": None,
    }
    # The payload names the customer by numeric id only (rounded in this fixture).
    assert event.contact.shopify_customer_id == "gid://shopify/Customer/706405506930370000"


def test_app_uninstalled():
    event = only(deliver("app/uninstalled"))
    assert event.type == ev.APP_UNINSTALLED
    assert event.data == {"shop_id": 548380009, "shop_name": "Super Toys", "myshopify_domain": None, "domain": None}


def test_customers_data_request():
    event = only(deliver("customers/data_request"))
    assert event.type == ev.DATA_REQUESTED
    assert event.subject_key == "data_request:9999"
    assert event.data["orders_requested"] == [299938, 280263, 220458]
    assert (event.data["email"], event.data["phone"]) == ("john@example.com", "555-625-1199")
    assert event.data["customer_gid"] == "gid://shopify/Customer/191167"
    assert event.data["shop_domain"] == "{shop}.myshopify.com"


def test_customers_redact():
    event = only(deliver("customers/redact"))
    assert event.type == ev.CUSTOMER_REDACT
    assert event.subject_key == "gid://shopify/Customer/191167"
    assert event.data["orders_to_redact"] == [299938, 280263, 220458]
    assert event.contact.email == "john@example.com"


def test_shop_redact():
    event = only(deliver("shop/redact"))
    assert event.type == ev.SHOP_REDACT
    assert event.data == {"shop_id": 954889, "shop_domain": "{shop}.myshopify.com"}
