"""List growth through the whole product: the Shopify sandbox (strict on schema and scopes), the
app over HTTP and a real worker — unique welcome codes, their use in an order, and back-in-stock
and price-drop alerts from the catalogue webhooks."""

from __future__ import annotations

import re
from datetime import timedelta

import requests
import sqlalchemy as sa

from automations import attribution, rules
from automations.catalog_alerts import RESERVED_FOR
from automations.flows import default_rules
from automations.models import (
    Attribution,
    Checkout,
    Contact,
    Installation,
    Message,
    Order,
    Shop,
    SignupRequest,
    StockAlert,
    utcnow,
)
from automations.signup_texts import LEGAL_VERSION
from tests.connector.conftest import SHOP
from tests.connector.helpers import FIXTURES

SMALL = "gid://shopify/ProductVariant/642667041472713922"
PRODUCT = "gid://shopify/Product/788032119674292922"


def set_up_welcome(live, percentage: int = 10) -> None:
    with live.runtime.db.transaction() as s:
        shop = s.scalar(sa.select(Shop).where(Shop.domain == SHOP))
        shop.settings = {**shop.settings, "signup": {"welcome_code": {"percentage": percentage, "prefix": "MERCI"}}}
        welcome = next(r for r in default_rules() if r["key"] == "welcome")
        rules.save_rule(s, shop, {**welcome, "enabled": True})


def join_by_code(live, phone: str, **fields) -> requests.Response:
    url = f"{live.url}/join/{SHOP}"
    asked = requests.post(f"{url}/request", data={"phone": phone, "legal_version": LEGAL_VERSION, "lang": "fr",
                                                  **fields}, timeout=10)
    assert asked.status_code == 202, asked.text
    with live.runtime.db.session() as s:
        body = s.scalars(sa.select(Message.body).where(Message.idempotency_key.like("signup:%:request"))
                         .order_by(Message.id.desc())).first()
    return requests.post(f"{url}/confirm", data={"phone": phone, "code": re.search(r"\d{6}", body)[0]}, timeout=10)


def emit(live, topic: str, payload: dict | bytes) -> None:
    answer = live.boxes.shopify.emit_webhook(topic, payload, f"{live.url}/webhooks/shopify",
                                             live.runtime.config.shopify_api_secret, shop=SHOP)
    assert answer.json()["outcome"] == "stored"
    live.work()


def bodies(live, like: str) -> list[str]:
    with live.runtime.db.session() as s:
        return list(s.scalars(sa.select(Message.body).where(Message.idempotency_key.like(like)).order_by(Message.id)))


def test_the_welcome_sms_carries_a_single_use_code_created_in_shopify_and_its_order_is_attributed(live):
    # given welcome codes on (10 %, as the ready-made welcome text says) and the welcome flow enabled
    set_up_welcome(live)
    # when a visitor signs up on the page and confirms with the code
    assert join_by_code(live, "06 12 34 56 78").status_code == 200
    live.work()
    # then Shopify holds one single-use 10 % code for them, and the welcome SMS carries it
    (code, discount), = live.boxes.shopify.shops[SHOP].discounts.items()
    assert code.startswith("MERCI-") and discount["percentage"] == 0.1
    assert discount["usageLimit"] == 1 and discount["appliesOncePerCustomer"] is True
    with live.runtime.db.session() as s:
        req = s.scalars(sa.select(SignupRequest)).one()
        assert req.discount_code == code and req.welcomed_at is not None
    (welcome,) = [b for b in bodies(live, "%") if code in b]
    assert "Bienvenue ! Merci de rejoindre Boutique Lumière : -10 % sur votre prochaine commande avec le code " \
        f"{code}" in welcome and "STOP" in welcome
    # when an order uses that code
    order = (FIXTURES / "orders__create.json").read_bytes().replace(b'"discount_codes": []',
                                                                    f'"discount_codes": [{{"code": "{code}", '
                                                                    f'"amount": "10.00", "type": "percentage"}}]'
                                                                    .encode())
    emit(live, "orders/create", order)
    # then the order is attributed to the welcome SMS that carried the code
    with live.runtime.db.transaction() as s:
        shop = s.scalar(sa.select(Shop).where(Shop.domain == SHOP))
        assert attribution.attribute_orders(s, shop, utcnow())["attributed"] == 1
        credited = s.scalars(sa.select(Attribution)).one()
        assert credited.method == "discount_code" and s.get(Message, credited.message_id).body == welcome
        assert credited.order_id == s.scalars(sa.select(Order.id)).one()


def test_a_token_without_write_discounts_is_refused_by_shopify_and_the_welcome_waits(live):
    # given a shop whose token predates the write_discounts scope
    set_up_welcome(live)
    narrow = live.boxes.shopify.grant_token(SHOP, expires_in=None, scopes="write_customers,read_orders")
    with live.runtime.db.transaction() as s:
        shop = s.scalar(sa.select(Shop).where(Shop.domain == SHOP))
        inst = s.scalar(sa.select(Installation).where(Installation.shop_id == shop.id,
                                                      Installation.provider == "shopify"))
        inst.access_token_enc = live.runtime.secrets.encrypt(narrow)
    from connector.shops import forget

    forget()
    # when a number confirms its sign-up
    assert join_by_code(live, "06 98 76 54 32").status_code == 200
    live.work()
    # then Shopify refused the code (ACCESS_DENIED) and the welcome is not sent without it yet
    assert live.boxes.shopify.shops[SHOP].discounts == {}
    with live.runtime.db.session() as s:
        assert s.scalars(sa.select(SignupRequest.welcomed_at)).one() is None
    assert [b for b in bodies(live, "%") if "Bienvenue" in b] == []


def test_back_in_stock_alerts_first_come_first_served_one_per_request(live):
    # given the product known, its small size out of stock, and three numbers asking for it
    emit(live, "products/create", (FIXTURES / "products__create.json").read_bytes())
    with live.runtime.db.transaction() as s:
        shop = s.scalar(sa.select(Shop).where(Shop.domain == SHOP))
        for phone in ("+33611000001", "+33611000003"):
            s.add(Contact(shop_id=shop.id, phone_e164=phone, consent_status="subscribed", locale="fr"))
    form = {"variant_id": "642667041472713922", "product_id": "788032119674292922"}
    url = f"{live.url}/join/{SHOP}/request"
    first = requests.post(url, data={"phone": "+33611000001", "legal_version": LEGAL_VERSION, **form}, timeout=10)
    assert first.status_code == 202  # subscribed already: waiting at once
    assert join_by_code(live, "+33611000002", **form).status_code == 200  # not yet: after double opt-in
    third = requests.post(url, data={"phone": "+33611000003", "legal_version": LEGAL_VERSION, **form}, timeout=10)
    assert third.status_code == 202
    with live.runtime.db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(StockAlert).where(StockAlert.status == "waiting")) == 3
    # when two units come back at a location
    level = {"inventory_item_id": 808950810, "location_id": 905684977, "available": 2,
             "updated_at": "2022-01-03T09:00:00-05:00"}
    emit(live, "inventory_levels/update", level)
    # then the first two requests are alerted, the third waits
    alerts = bodies(live, "back_in_stock:%")
    assert len(alerts) == 2
    assert alerts[0] == ("Boutique Lumière : Example T-Shirt (Small) est de nouveau disponible ! "
                         f"https://{SHOP}/products/example-t-shirt?variant=642667041472713922 STOP pour se désabonner.")
    with live.runtime.db.session() as s:
        by_phone = dict(s.execute(sa.select(Contact.phone_e164, StockAlert.status)
                                  .join(Contact, Contact.id == StockAlert.contact_id)).all())
    assert by_phone == {"+33611000001": "notified", "+33611000002": "notified", "+33611000003": "waiting"}
    # when the same level is sent again, nobody is alerted twice and the two units stay theirs
    emit(live, "inventory_levels/update", {**level, "updated_at": "2022-01-03T09:05:00-05:00"})
    assert len(bodies(live, "back_in_stock:%")) == 2
    # when more units come back, the third is alerted
    emit(live, "inventory_levels/update", {**level, "available": 6, "updated_at": "2022-01-03T10:00:00-05:00"})
    assert len(bodies(live, "back_in_stock:%")) == 3
    assert RESERVED_FOR >= timedelta(hours=1)


def test_price_drop_alerts_those_who_asked_and_recent_abandoned_checkouts(live):
    # given the product at 19.99, a waiting back-in-stock request and a recent abandoned cart holding it
    emit(live, "products/create", (FIXTURES / "products__create.json").read_bytes())
    now = utcnow()
    with live.runtime.db.transaction() as s:
        shop = s.scalar(sa.select(Shop).where(Shop.domain == SHOP))
        asked = Contact(shop_id=shop.id, phone_e164="+33611000001", consent_status="subscribed", locale="fr")
        carted = Contact(shop_id=shop.id, phone_e164="+33611000002", consent_status="subscribed", locale="en")
        unsubscribed = Contact(shop_id=shop.id, phone_e164="+33611000003", consent_status="unsubscribed")
        s.add_all([asked, carted, unsubscribed])
        s.flush()
        s.add(StockAlert(shop_id=shop.id, contact_id=asked.id, variant_id=SMALL, product_id=PRODUCT,
                         status="waiting", created_at=now))
        for contact, token in ((carted, "cart-1"), (unsubscribed, "cart-2")):
            s.add(Checkout(shop_id=shop.id, token=token, contact_id=contact.id, abandoned_at=now - timedelta(days=1),
                           data={"line_items": [{"title": "Example T-Shirt", "product_id": PRODUCT}]}))
    # when the price falls from 19.99 to 15.99 (-20 %, over the default 10 %)
    emit(live, "products/update", (FIXTURES / "products__update.json").read_bytes())
    # then both subscribers are told, in their language; the unsubscribed one is not
    alerts = bodies(live, "price_drop:%")
    assert alerts == [
        f"Boutique Lumière : Example T-Shirt (Small) passe à 15,99 € ! https://{SHOP}/products/example-t-shirt"
        "?variant=642667041472713922 STOP pour se désabonner.",
        f"Boutique Lumière: Example T-Shirt (Small) is now €15.99! https://{SHOP}/products/example-t-shirt"
        "?variant=642667041472713922 Reply STOP to opt out.",
    ]
    # and the same update delivered again alerts nobody twice
    emit(live, "products/update", (FIXTURES / "products__update.json").read_bytes())
    assert len(bodies(live, "price_drop:%")) == 2
