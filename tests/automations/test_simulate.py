"""Simulation: a rule replayed over stored events says what would have gone out, and writes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from automations import rules, shops
from automations.events import ConsentData, ContactData, DomainEvent
from automations.models import Checkout, Contact, FlowRun, Link, Message, Rule, StoreEvent
from automations.simulate import simulate_rule

SINCE = datetime(2026, 3, 9, 0, 0, tzinfo=UTC)
UNTIL = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
TUESDAY = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # 10:00 in Paris


def translate(row: StoreEvent) -> list[DomainEvent]:
    """A stand-in translator: these stored payloads are domain events written as JSON."""
    raw = json.loads(row.payload)
    consent = raw.get("consent")
    return [DomainEvent(
        raw["type"], occurred_at=row.received_at, subject_key=raw.get("subject_key"),
        contact=ContactData(**raw["contact"]) if raw.get("contact") else None,
        consent=ConsentData(consent["status"], consent["source"], row.received_at) if consent else None,
        data=raw.get("data", {}), source_updated_at=row.received_at,
    )]


def store(session, shop, at, n, **payload) -> None:
    session.add(StoreEvent(shop_id=shop.id, source="test", delivery_id=f"d{n}", topic=payload["type"],
                           payload=json.dumps(payload), received_at=at))


def checkout(session, shop, at, n, token, phone):
    store(session, shop, at, n, type="CheckoutUpdated", subject_key=token, contact={"phone": phone},
          data={"abandoned_checkout_url": f"https://boutique.example/c/{token}", "total_price": "40.00"})


def counts(session) -> tuple[int, ...]:
    return tuple(session.scalar(sa.select(sa.func.count()).select_from(m))
                 for m in (Message, FlowRun, Link, Checkout, Contact))


def test_abandoned_checkout_replayed_over_a_week(session, shop):
    # given the ready-made rules (the cart flow still off) and two known contacts
    shops.install_default_rules(session, shop)
    session.add_all([
        Contact(shop_id=shop.id, phone_e164="+33611111111", first_name="Ana", consent_status="subscribed"),
        Contact(shop_id=shop.id, phone_e164="+33622222222", first_name="Bo"),
    ])
    # and a week of store events
    checkout(session, shop, TUESDAY, 1, "tok-a", "+33611111111")            # abandoned: 2 reminders
    checkout(session, shop, TUESDAY + timedelta(hours=2), 2, "tok-a2", "+33611111111")  # capped
    checkout(session, shop, TUESDAY, 3, "tok-b", "+33622222222")            # no consent
    checkout(session, shop, TUESDAY, 4, "tok-c", "+33633333333")            # ordered in time
    store(session, shop, TUESDAY + timedelta(minutes=30), 5, type="OrderPlaced",
          subject_key="gid://shopify/Order/1", data={"checkout_token": "tok-c", "order_name": "#1"})
    checkout(session, shop, TUESDAY, 6, "tok-d", "555-555-SHIP")            # invalid phone
    checkout(session, shop, SINCE - timedelta(days=1), 7, "tok-old", "+33611111111")  # outside
    session.commit()
    before = counts(session)
    rule = session.scalars(sa.select(Rule).where(Rule.key == "abandoned_checkout")).one()
    # when the rule is simulated
    report = simulate_rule(session, rule, SINCE, UNTIL, translate)
    # then two reminders would have gone to one contact at 11:00 Paris time, with their cost
    assert report["store_events"] == 6 and report["triggers"] == 4
    assert report["messages"] == 2 and report["contacts"] == 1
    assert report["by_hour"][11] == 2 and sum(report["by_hour"].values()) == 2
    assert report["segments"] >= 2 and float(report["cost"]) > 0 and report["currency"] == "EUR"
    # and six would have been suppressed, each with its reason
    reasons = report["suppressed_reasons"]
    assert report["suppressed"] == 6
    assert reasons["no marketing consent"] == 2
    assert reasons["frequency cap: 1 marketing SMS per 24 h"] == 2
    assert [n for r, n in reasons.items() if r.startswith("no valid phone:")] == [2]
    # and nothing was written
    assert counts(session) == before and not session.new and not session.dirty


def test_marketing_outside_the_window_counts_at_the_next_opening(session, shop):
    shops.install_default_rules(session, shop)
    rule = rules.set_enabled(session, shop, "welcome", True)
    # given an opt-in on Saturday 21:00 in Paris
    store(session, shop, datetime(2026, 3, 14, 20, 0, tzinfo=UTC), 1, type="ConsentChanged",
          contact={"phone": "+33644444444", "first_name": "Cyd"},
          consent={"status": "subscribed", "source": "shopify"})
    session.commit()
    report = simulate_rule(session, rule, SINCE, UNTIL, translate)
    # then the welcome counts at Monday 08:00, deferred by the window
    assert report["messages"] == 1 and report["by_hour"][8] == 1
    assert report["deferred_by_window"] == 1 and report["suppressed"] == 0
