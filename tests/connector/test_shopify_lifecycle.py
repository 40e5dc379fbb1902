"""A store's lifecycle through the real routes: uninstall stops everything at once, late
deliveries are acknowledged and dropped, re-install re-enables it; a custom-app store connected
with `parlons shops connect` lives the same life with its own webhook secret."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa

from automations.models import Contact, Message, Shop, StoreEvent, utcnow
from connector.commands.shops import shops
from connector.install import connect_shopify
from tests.connector.conftest import SHOP
from tests.connector.helpers import FIXTURES, count

CUSTOM = "atelier-custom.myshopify.com"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def emit(live, topic: str, payload: dict, shop: str = SHOP, secret: str | None = None):
    return live.boxes.shopify.emit_webhook(topic, payload, f"{live.url}/webhooks/shopify",
                                           secret or live.runtime.config.shopify_api_secret, shop=shop)


def shop_row(live, domain: str = SHOP) -> Shop:
    with live.runtime.db.session() as s:
        return s.scalar(sa.select(Shop).where(Shop.domain == domain))


def test_uninstall_stops_all_sending_at_once_and_reinstall_enables_the_shop_again(live):
    # given a marketing SMS waiting for its send time
    with live.runtime.db.transaction() as s:
        shop = s.scalar(sa.select(Shop).where(Shop.domain == SHOP))
        contact = Contact(shop_id=shop.id, phone_e164="+33612345678", consent_status="subscribed")
        s.add(contact)
        s.flush()
        s.add(Message(shop_id=shop.id, contact_id=contact.id, direction="outbound", kind="marketing",
                      to_phone="+33612345678", body="Bonjour", status="scheduled",
                      send_at=utcnow() + timedelta(hours=2), idempotency_key="waiting-1"))
    hooks_before = len(live.boxes.shopify.webhook_subscriptions(SHOP))
    # when Shopify says the app was uninstalled
    answer = emit(live, "app/uninstalled", {**fixture("app__uninstalled"), "myshopify_domain": SHOP})
    assert answer.status_code == 200
    live.work()
    # then the shop is disabled and the waiting SMS cancelled, saying why
    assert shop_row(live).status == "uninstalled"
    with live.runtime.db.session() as s:
        message = s.scalar(sa.select(Message).where(Message.idempotency_key == "waiting-1"))
    assert (message.status, message.status_reason) == ("cancelled", "app uninstalled")
    # and a late delivery for the uninstalled shop is acknowledged, logged and not stored
    stored = count(live.runtime.db, StoreEvent)
    late = emit(live, "fulfillments/create", fixture("fulfillments__create"))
    assert (late.status_code, late.json()["outcome"]) == (200, "shop_uninstalled")
    assert count(live.runtime.db, StoreEvent) == stored
    live.work()
    assert live.boxes.twilio.messages() == []
    # when the merchant installs the app again
    with live.runtime.db.transaction() as s:
        connect_shopify(live.runtime, s, SHOP, live.boxes.shopify.grant_token(SHOP, expires_in=None))
    # then the shop is active again, without a second set of webhook subscriptions
    assert shop_row(live).status == "active" and shop_row(live).uninstalled_at is None
    assert len(live.boxes.shopify.webhook_subscriptions(SHOP)) == hooks_before
    accepted = emit(live, "fulfillments/create", fixture("fulfillments__create"))
    assert accepted.json()["outcome"] == "stored"


def test_deliveries_for_a_shop_we_do_not_know_are_acknowledged_and_dropped(live):
    answer = emit(live, "orders/create", fixture("orders__create"), shop="inconnue.myshopify.com")
    assert (answer.status_code, answer.json()["outcome"]) == (200, "unknown_shop")
    assert count(live.runtime.db, StoreEvent) == 0


def test_a_custom_app_store_connects_with_its_token_and_its_own_webhook_secret(live):
    # given a store with a custom app created in its admin
    sandbox = live.boxes.shopify
    sandbox.add_shop(CUSTOM, name="Atelier", country="BE", currency="EUR", timezone="Europe/Brussels")
    token = sandbox.grant_token(CUSTOM, expires_in=None)
    runner = live.app.test_cli_runner()
    # when the merchant connects it from the command line
    args = ["connect", "--domain", CUSTOM, "--token", token, "--api-secret", "custom-app-secret"]
    answer = runner.invoke(shops, args)
    # then it is connected like an OAuth install, and its customer sync is queued
    assert answer.exit_code == 0, answer.output
    assert "Connected atelier-custom.myshopify.com (Atelier)" in answer.output
    shop = shop_row(live, CUSTOM)
    assert (shop.status, shop.default_region, shop.timezone) == ("active", "BE", "Europe/Brussels")
    assert [j.args[0] for j in live.runtime.queue("sync").get_jobs()] == [CUSTOM]
    # and its webhooks, signed with the custom app's secret, are accepted
    ok = emit(live, "orders/create", fixture("orders__create"), shop=CUSTOM, secret="custom-app-secret")
    assert (ok.status_code, ok.json()["outcome"]) == (200, "stored")
    forged = emit(live, "orders/create", fixture("orders__create"), shop=CUSTOM, secret="someone-else")
    assert forged.status_code == 401
    # connecting again changes nothing it need not
    hooks = len(sandbox.webhook_subscriptions(CUSTOM))
    assert runner.invoke(shops, [*args, "--no-sync"]).exit_code == 0
    assert len(sandbox.webhook_subscriptions(CUSTOM)) == hooks
    listing = runner.invoke(shops, ["list"])
    assert f"{CUSTOM}\tactive\t0 contacts\tAtelier" in listing.output


def test_connecting_with_a_bad_domain_or_token_says_why(live):
    runner = live.app.test_cli_runner()
    bad_domain = runner.invoke(shops, ["connect", "--domain", "x.myshopify.com.evil.com", "--token", "t",
                                       "--api-secret", "s"])
    assert bad_domain.exit_code == 2 and "not a myshopify.com shop domain" in bad_domain.output
    live.boxes.shopify.add_shop(CUSTOM)
    bad_token = runner.invoke(shops, ["connect", "--domain", CUSTOM, "--token", "shpat_wrong", "--api-secret", "s"])
    assert bad_token.exit_code == 1 and "Shopify refused the connection" in bad_token.output
    assert shop_row(live, CUSTOM) is None
