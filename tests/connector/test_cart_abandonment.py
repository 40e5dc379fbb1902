"""Cart abandonment through the real webhook route and worker: a checkout with no order after the
rule's delay starts one reminder sequence; an order before the delay, or arriving during the
sequence, stops it; duplicate and out-of-order checkout updates still make one sequence."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from automations import engine, rules, sweeps
from automations.models import FlowRun, Message, Rule, Shop, utcnow
from tests.connector.conftest import SHOP
from tests.connector.helpers import FIXTURES

PHONE = "+33612345678"
CUSTOMER_ID = 603851970716743426


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def emit(live, topic: str, payload: dict, webhook_id: str | None = None):
    answer = live.boxes.shopify.emit_webhook(topic, json.dumps(payload).encode(), f"{live.url}/webhooks/shopify",
                                             live.runtime.config.shopify_api_secret, webhook_id, shop=SHOP)
    assert answer.status_code == 200
    return answer


def checkout(token: str, updated_ago: timedelta) -> dict:
    payload = fixture("checkouts__create")
    when = (utcnow() - updated_ago).isoformat()
    payload.update(token=token, phone=PHONE, created_at=when, updated_at=when)
    payload["customer"]["admin_graphql_api_id"] = f"gid://shopify/Customer/{CUSTOMER_ID}"
    return payload


def order_for(token: str) -> dict:
    payload = fixture("orders__create")
    payload.update(checkout_token=token, phone=PHONE, updated_at=utcnow().isoformat())
    return payload


@pytest.fixture
def shop_with_cart_flow(live):
    """The abandoned-cart flow switched on, and a customer who agreed to marketing SMS."""
    with live.runtime.db.transaction() as s:
        rules.set_enabled(s, s.scalar(sa.select(Shop).where(Shop.domain == SHOP)), "abandoned_checkout", True)
    emit(live, "customers_marketing_consent/update", {
        "id": CUSTOMER_ID, "phone": PHONE,
        "sms_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in",
                                  "consent_updated_at": (utcnow() - timedelta(days=30)).isoformat(),
                                  "consent_collected_from": "SHOPIFY"},
    })
    live.work()
    return live


def cart_runs(live) -> list[FlowRun]:
    with live.runtime.db.session() as s:
        rule_id = s.scalar(sa.select(Rule.id).where(Rule.key == "abandoned_checkout"))
        return list(s.scalars(sa.select(FlowRun).where(FlowRun.rule_id == rule_id)))


def cart_messages(live) -> list[Message]:
    with live.runtime.db.session() as s:
        rule_id = s.scalar(sa.select(Rule.id).where(Rule.key == "abandoned_checkout"))
        return list(s.scalars(sa.select(Message).where(Message.rule_id == rule_id).order_by(Message.id)))


def test_a_checkout_without_an_order_gets_its_reminder_and_the_order_stops_the_sequence(shop_with_cart_flow):
    live = shop_with_cart_flow
    # given a checkout created two hours ago (the flow waits one hour), and no order
    emit(live, "checkouts/create", checkout("cart-1", timedelta(hours=2)))
    # when the worker has stored it and runs its periodic check
    live.work()
    live.work()
    # then one reminder sequence started, and its first SMS is due (sent, or waiting for the send window)
    [run] = cart_runs(live)
    assert run.subject_key == "cart-1"
    [first] = cart_messages(live)
    assert first.kind == "marketing" and first.to_phone == PHONE and first.status in ("scheduled", "sent")
    assert "/checkouts/" in first.body or "votre panier" in first.body
    # when the order arrives during the sequence
    emit(live, "orders/create", order_for("cart-1"))
    live.work()
    # then the sequence ends at once, and nothing more is sent
    [run] = cart_runs(live)
    assert (run.status, run.exit_reason) == ("exited", "order placed")
    with live.runtime.db.transaction() as s:
        engine.advance_flows(s, utcnow() + timedelta(days=2))
    assert len(cart_messages(live)) == 1


def test_an_order_before_the_delay_means_nothing_is_sent(shop_with_cart_flow):
    live = shop_with_cart_flow
    # given a checkout created ten minutes ago
    emit(live, "checkouts/create", checkout("cart-2", timedelta(minutes=10)))
    live.work()
    # when its order arrives before the hour is up
    emit(live, "orders/create", order_for("cart-2"))
    live.work()
    # then, hours later, the checkout is not abandoned: no sequence, no SMS
    with live.runtime.db.transaction() as s:
        assert sweeps.raise_abandoned(s, utcnow() + timedelta(hours=3)) == []
    assert cart_runs(live) == [] and cart_messages(live) == []


def test_duplicate_and_out_of_order_checkout_updates_make_one_sequence(shop_with_cart_flow):
    live = shop_with_cart_flow
    # given the newest update first, then the older create, then the newest again under another
    # delivery id and once more under the same one
    newer, older = checkout("cart-3", timedelta(hours=2)), checkout("cart-3", timedelta(hours=3))
    newer["total_price"] = "99.00"
    emit(live, "checkouts/update", newer, webhook_id="update-1")
    emit(live, "checkouts/create", older)
    emit(live, "checkouts/update", newer)
    assert emit(live, "checkouts/update", newer, webhook_id="update-1").json()["outcome"] == "duplicate"
    # when the worker processes them and checks for abandoned carts
    live.work()
    live.work()
    # then one sequence with one first reminder, and the checkout kept its newest state
    assert len(cart_runs(live)) == 1
    assert len(cart_messages(live)) == 1
    from automations.models import Checkout

    with live.runtime.db.session() as s:
        assert s.scalar(sa.select(Checkout.data).where(Checkout.token == "cart-3"))["total_price"] == "99.00"

