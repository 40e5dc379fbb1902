"""One test per documented Shopify payload, delivered signed through POST /webhooks/shopify and
processed by a real worker: the domain event it becomes and the state it leaves."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from automations.models import (
    CatalogVariant,
    Checkout,
    ConsentEvent,
    Contact,
    DataExport,
    Order,
    Shop,
    StoreEvent,
)
from tests.connector.conftest import SHOP
from tests.connector.helpers import FIXTURES, topic_of

ORDER = "gid://shopify/Order/820982911946154508"
CUSTOMER = "gid://shopify/Customer/706405506930370084"
SMALL = "gid://shopify/ProductVariant/642667041472713922"


def one(session, model, *where):
    return session.scalars(sa.select(model).where(*where)).one()


def order_status(status: str) -> Callable:
    return lambda s: one(s, Order, Order.gid == ORDER).status == status


def checkout_waits_for_its_order(s) -> bool:
    checkout = one(s, Checkout, Checkout.token == "123123123")
    return checkout.abandon_check_at is not None and checkout.order_gid is None and checkout.completed_at is None


def customer_known(s) -> bool:
    contact = one(s, Contact, Contact.shopify_customer_id == CUSTOMER)
    return contact.email == "bob@biller.com" and contact.first_name == "Bob"


def consent_in_ledger(s) -> bool:
    entry = one(s, ConsentEvent)
    return entry.source == "shopify" and entry.evidence["consent_collected_from"] == "other"


# topic file -> (domain events it means, what must be true afterwards)
EXPECTED: dict[str, tuple[list[str], Callable]] = {
    "app__uninstalled": (["AppUninstalled"], lambda s: one(s, Shop, Shop.domain == SHOP).status == "uninstalled"),
    "checkouts__create": (["CheckoutUpdated"], checkout_waits_for_its_order),
    "checkouts__update": (["CheckoutUpdated"], checkout_waits_for_its_order),
    "checkouts__delete": ([], lambda s: s.scalar(sa.select(sa.func.count()).select_from(Checkout)) == 0),
    "customers__create": (["CustomerCreated"], customer_known),
    "customers__update": (["CustomerUpdated"], customer_known),
    "customers__delete": (["CustomerDeleted"], lambda s: s.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0),
    "customers__data_request": (["DataRequested"], lambda s: one(s, DataExport).request["customer_id"] == 191167),
    "customers__redact": (["CustomerRedact"], lambda s: True),
    "customers_marketing_consent__update": (["ConsentChanged"], consent_in_ledger),
    "fulfillments__create": (["OrderShipped"], lambda s: True),
    "fulfillments__update": (["OrderShipped"], lambda s: True),
    "orders__create": (["OrderPlaced"], order_status("placed")),
    "orders__paid": (["OrderPaid"], order_status("paid")),
    "orders__cancelled": (["OrderCancelled"], order_status("cancelled")),
    "orders__fulfilled": (["OrderFulfilled"], order_status("fulfilled")),
    "orders__updated": ([], lambda s: s.scalar(sa.select(sa.func.count()).select_from(Order)) == 0),
    "orders__partially_fulfilled": ([], lambda s: s.scalar(sa.select(sa.func.count()).select_from(Order)) == 0),
    "shop__redact": (["ShopRedact"], lambda s: one(s, Shop, Shop.domain == SHOP).status == "redacted"),
    # the catalogue: kept for back-in-stock and price-drop alerts (no engine event)
    "products__create": ([], lambda s: one(s, CatalogVariant, CatalogVariant.variant_id == SMALL).price == "19.99"),
    "products__update": ([], lambda s: one(s, CatalogVariant, CatalogVariant.variant_id == SMALL).price == "15.99"),
    "inventory_levels__update": ([], lambda s: s.scalar(sa.select(sa.func.count()).select_from(CatalogVariant)) == 0),
}
FILES = sorted(FIXTURES.glob("*.json"))


def test_every_fixture_has_an_expectation():
    assert {p.stem for p in FILES} == set(EXPECTED)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_fixture_through_the_route_becomes_its_domain_event_and_state(live, path):
    events, state_holds = EXPECTED[path.stem]
    # given a connected shop; when Shopify delivers the documented payload, signed over its bytes
    answer = live.boxes.shopify.emit_webhook(topic_of(path), path.read_bytes(), f"{live.url}/webhooks/shopify",
                                             live.runtime.config.shopify_api_secret, shop=SHOP)
    assert (answer.status_code, answer.json()["outcome"]) == (200, "stored")
    live.work()
    # then it is processed into the domain events it means, and leaves the state it should
    with live.runtime.db.session() as s:
        stored = one(s, StoreEvent)
        assert stored.status == "processed", stored.outcome
        assert [e["type"] for e in stored.outcome["events"]] == events
        assert state_holds(s)


def test_a_deleted_customer_is_no_longer_messaged_and_not_recreated(live):
    """Given a customer we know with a message waiting, when Shopify says it was deleted, then the
    contact is unlinked and marked deleted and the waiting message is cancelled with the reason."""
    from automations.models import Message

    url, secret = f"{live.url}/webhooks/shopify", live.runtime.config.shopify_api_secret
    live.boxes.shopify.emit_webhook("customers/create", (FIXTURES / "customers__create.json").read_bytes(),
                                    url, secret, shop=SHOP)
    live.work()
    with live.runtime.db.transaction() as s:
        contact = one(s, Contact, Contact.shopify_customer_id == CUSTOMER)
        contact.phone_e164 = "+33612345678"
        s.add(Message(shop_id=contact.shop_id, contact_id=contact.id, direction="outbound", kind="transactional",
                      to_phone="+33612345678", body="Votre commande…", status="scheduled",
                      idempotency_key="waiting-1", send_at=contact.created_at.replace(year=2099)))
        contact_id = contact.id
    live.boxes.shopify.emit_webhook("customers/delete", (FIXTURES / "customers__delete.json").read_bytes(),
                                    url, secret, shop=SHOP)
    live.work()
    with live.runtime.db.session() as s:
        contact = s.get(Contact, contact_id)
        message = one(s, Message, Message.idempotency_key == "waiting-1")
        assert contact.deleted_at is not None and contact.shopify_customer_id is None
        assert (message.status, message.status_reason) == ("cancelled", "contact deleted in Shopify")
        assert s.scalar(sa.select(sa.func.count()).select_from(Contact)) == 1

