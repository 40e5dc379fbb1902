"""A chunk of store events handled together (rows loaded up front, written in one flush) ends
exactly as the same events handled one per transaction: same contacts, consent, checkouts,
orders, flow runs and messages, and outcomes that name the rows they made."""

from __future__ import annotations

import copy
import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from automations import chunk, rules, shops, sweeps
from automations.models import (
    Checkout,
    ConsentEvent,
    Contact,
    FlowRun,
    Message,
    Order,
    OutboundWrite,
    Rule,
    Shop,
    StoreEvent,
    TimelineEntry,
    utcnow,
)
from connector.runtime import Runtime
from connector.worker import events as pipeline
from tests.connector.helpers import FIXTURES

SHOP = "chunks.myshopify.com"


def _fixture(topic: str) -> dict:
    return json.loads((FIXTURES / f"{topic.replace('/', '__')}.json").read_text())


def stories() -> list[tuple[str, str]]:
    """Three customers' stories, interleaved, one customer coming back: consent, checkout,
    order (one cancelled, one checkout abandoned with no order), shipping and delivery."""
    out: list[tuple[str, str]] = []

    def make(topic: str, **changes: object) -> None:
        payload = copy.deepcopy(_fixture(topic))
        payload.update(changes)
        out.append((topic, json.dumps(payload)))

    def customer(n: int) -> dict:
        phone = f"+3361200000{n}"
        address = {"first_name": f"Client{n}", "last_name": "Martin", "phone": phone, "country_code": "FR"}
        return {"id": 7_000_000 + n, "admin_graphql_api_id": f"gid://shopify/Customer/{7_000_000 + n}",
                "first_name": f"Client{n}", "last_name": "Martin", "phone": phone,
                "email": f"client{n}@example.fr", "default_address": address}

    def order(n: int, story: int) -> dict:
        c = customer(n)
        return {"id": 9_000_000 + story, "admin_graphql_api_id": f"gid://shopify/Order/{9_000_000 + story}",
                "name": f"#10{story:02d}", "checkout_token": f"tok-{story}", "phone": c["phone"],
                "email": c["email"], "customer": c, "total_price": "42.50", "currency": "EUR",
                "customer_locale": "fr", "order_status_url": f"https://{SHOP}/orders/{story}"}

    def checkout(n: int, story: int, updated: str) -> None:
        c = customer(n)
        make("checkouts/update", token=f"tok-{story}", phone=c["phone"], email=c["email"], customer=c,
             total_price="42.50", currency="EUR", customer_locale="fr", updated_at=updated,
             abandoned_checkout_url=f"https://{SHOP}/checkouts/tok-{story}/recover")

    def shipped(story: int, status: str | None) -> None:
        fulfillment = {"id": 8_000_000 + story, "order_id": 9_000_000 + story, "status": "success",
                       "admin_graphql_api_id": f"gid://shopify/Fulfillment/{8_000_000 + story}",
                       "tracking_company": "La Poste", "tracking_number": f"6A{story:011d}",
                       "destination": customer(1)["default_address"], "email": customer(1)["email"]}
        if status is None:
            make("fulfillments/create", **fulfillment)
        else:
            make("fulfillments/update", **fulfillment, shipment_status=status)

    for n in (1, 2, 3):
        make("customers/create", **customer(n), locale="fr")
    for n in (1, 3):
        make("customers_marketing_consent/update", id=7_000_000 + n, phone=customer(n)["phone"],
             sms_marketing_consent={"state": "subscribed", "opt_in_level": "single_opt_in",
                                    "consent_updated_at": "2026-01-10T10:00:00+01:00",
                                    "consent_collected_from": "SHOPIFY"})
    checkout(1, 1, "2026-01-10T10:05:00+01:00")
    checkout(2, 2, "2026-01-10T10:06:00+01:00")
    checkout(1, 1, "2026-01-10T10:04:00+01:00")  # older, arriving late: changes nothing
    make("orders/create", **order(1, 1))
    checkout(3, 3, "2026-01-10T10:07:00+01:00")  # never ordered: stays a cart
    make("orders/create", **order(2, 2))
    make("orders/paid", **order(1, 1), financial_status="paid")
    make("orders/cancelled", **order(2, 2), cancel_reason="customer", cancelled_at="2026-01-10T12:00:00+01:00")
    shipped(1, None)
    shipped(1, "out_for_delivery")
    make("customers_marketing_consent/update", id=7_000_001, phone=customer(1)["phone"],
         sms_marketing_consent={"state": "unsubscribed", "opt_in_level": "single_opt_in",
                                "consent_updated_at": "2026-01-11T10:00:00+01:00",
                                "consent_collected_from": "SHOPIFY"})
    make("customers_marketing_consent/update", id=7_000_003, phone=customer(3)["phone"],  # said again
         sms_marketing_consent={"state": "subscribed", "opt_in_level": "single_opt_in",
                                "consent_updated_at": "2026-01-10T10:00:00+01:00",
                                "consent_collected_from": "SHOPIFY"})
    shipped(1, "delivered")
    make("orders/fulfilled", **order(1, 1), fulfillment_status="fulfilled")
    checkout(1, 4, "2026-01-12T10:05:00+01:00")  # the first customer comes back
    make("orders/create", **order(1, 4))
    make("orders/create", **order(3, 5))  # ends the cart flow `abandoned_cart` started
    return out


def abandoned_cart(runtime: Runtime) -> None:
    """Before the chunk: a checkout of the third customer, abandoned, its reminders waiting."""
    payload = copy.deepcopy(_fixture("checkouts/update"))
    payload.update(token="tok-5", phone="+33612000003", customer_locale="fr", total_price="42.50",
                   updated_at="2026-01-10T09:00:00+01:00", customer={"id": 7_000_003, "phone": "+33612000003"},
                   abandoned_checkout_url=f"https://{SHOP}/checkouts/tok-5/recover")
    consent = copy.deepcopy(_fixture("customers_marketing_consent/update"))
    consent.update(id=7_000_003, phone="+33612000003", sms_marketing_consent={
        "state": "subscribed", "opt_in_level": "single_opt_in",
        "consent_updated_at": "2026-01-09T10:00:00+01:00", "consent_collected_from": "SHOPIFY"})
    pipeline._one_by_one(runtime, store(runtime, [
        ("customers_marketing_consent/update", json.dumps(consent)),
        ("checkouts/update", json.dumps(payload))], "cart"))
    with runtime.db.transaction() as session:
        assert sweeps.raise_abandoned(session, utcnow() + timedelta(days=2))


@pytest.fixture
def runtime(config, database, redis_conn):
    rt = Runtime(config)
    with rt.db.transaction() as session:
        shop = Shop(domain=SHOP, name="Boutique", currency="EUR", country="FR", sms_number="+33757000001",
                    installed_at=utcnow(), settings={"public_url": "https://sms.example.org"})
        session.add(shop)
        session.flush()
        for rule in shops.install_default_rules(session, shop):
            if not rule.enabled:
                rules.set_enabled(session, shop, rule.key, True)
    yield rt
    rt.close()


def store(runtime: Runtime, deliveries: list[tuple[str, str]], tag: str) -> list[int]:
    with runtime.db.transaction() as session:
        shop_id = session.scalar(sa.select(Shop.id).where(Shop.domain == SHOP))
        rows = [StoreEvent(source="shopify", delivery_id=f"{tag}-{i}", topic=topic, shop_id=shop_id,
                           payload=payload, status="received", outcome={}, received_at=utcnow())
                for i, (topic, payload) in enumerate(deliveries)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def _sorted(rows) -> list[tuple]:  # noqa: ANN001 - rows or tuples, with None in places
    return sorted((tuple(r) for r in rows), key=repr)


def snapshot(runtime: Runtime) -> dict[str, list]:
    """Everything the events changed, without ids, times of processing or random link codes."""
    link = re.compile(r"https://sms\.example\.org/\S+")
    with runtime.db.session() as s:
        rule_key = dict(s.execute(sa.select(Rule.id, Rule.key)).all())
        phone = dict(s.execute(sa.select(Contact.id, Contact.phone_e164)).all())
        return {
            "contacts": _sorted(s.execute(sa.select(
                Contact.shopify_customer_id, Contact.phone_e164, Contact.email, Contact.first_name,
                Contact.consent_status, Contact.last_order_at)).all()),
            "consent": _sorted(s.execute(sa.select(ConsentEvent.status, ConsentEvent.source)).all()),
            "writes": _sorted(s.execute(sa.select(OutboundWrite.target, OutboundWrite.action)).all()),
            "timeline": _sorted(s.execute(sa.select(TimelineEntry.kind, TimelineEntry.body)).all()),
            "checkouts": _sorted(s.execute(sa.select(Checkout.token, Checkout.order_gid, Checkout.source_updated_at,
                                                    Checkout.abandon_check_at.is_(None))).all()),
            "orders": _sorted(s.execute(sa.select(Order.gid, Order.status, Order.checkout_token)).all()),
            "runs": _sorted((rule_key[r.rule_id], r.subject_key, phone[r.contact_id], r.status, r.step,
                            r.exit_reason or "") for r in s.scalars(sa.select(FlowRun))),
            "messages": _sorted((rule_key.get(m.rule_id), m.to_phone, link.sub("<link>", m.body or ""), m.status,
                                m.status_reason or "", m.kind, m.segments) for m in s.scalars(sa.select(Message))),
            "events": _sorted((e.topic, e.status) for e in s.scalars(sa.select(StoreEvent))),
        }


def test_a_chunk_ends_exactly_as_one_event_per_transaction(runtime, database, caplog):
    deliveries = stories()
    abandoned_cart(runtime)
    # one event per transaction, each on its own (the path a failed chunk is replayed through)
    ids = store(runtime, deliveries, "one")
    assert pipeline._one_by_one(runtime, ids) == len(ids)
    one_by_one = snapshot(runtime)
    # the same events again, on a fresh copy of the shop, as one chunk
    with runtime.db.transaction() as s:
        for model in (Message, FlowRun, Checkout, Order, TimelineEntry, OutboundWrite, ConsentEvent, Contact):
            s.execute(sa.delete(model))
        s.execute(sa.delete(StoreEvent))
    abandoned_cart(runtime)
    ids = store(runtime, deliveries, "chunk")
    assert pipeline.process_store_events(runtime, ids) == len(ids)
    assert "replaying" not in caplog.text  # handled as one chunk indeed
    together = snapshot(runtime)
    assert together == one_by_one
    assert together["messages"] and together["runs"]  # the stories did make messages and runs
    runs = {(rule, status, reason) for rule, _, _, status, _, reason in together["runs"]}
    assert ("abandoned_checkout", "exited", "order placed") in runs  # an order ended a cart flow
    assert {("order_shipped", "completed", ""), ("delivered", "completed", "")} <= runs
    assert len([c for c in together["consent"] if c == ("subscribed", "shopify")]) == 2  # a repeat is not kept
    cancelled = {reason for _, _, _, status, reason, _, _ in together["messages"] if status == "cancelled"}
    assert cancelled == {"order placed", "marketing consent withdrawn"}


def test_outcomes_name_the_rows_written_at_the_end_of_the_chunk(runtime):
    ids = store(runtime, stories(), "ids")
    pipeline.process_store_events(runtime, ids)
    with runtime.db.session() as s:
        named = [m for e in s.scalars(sa.select(StoreEvent)) for o in e.outcome["events"] for m in o["messages"]]
        made = set(s.scalars(sa.select(Message.id)))
        started = [r for e in s.scalars(sa.select(StoreEvent)) for o in e.outcome["events"]
                   for r in o["flows_started"]]
        runs = set(s.scalars(sa.select(FlowRun.id)))
    assert named and set(named) <= made and None not in named
    assert started and set(started) == runs


def test_a_run_started_elsewhere_meanwhile_makes_the_chunk_replay_without_a_second_run(runtime, monkeypatch, caplog):
    # given another worker that starts the same flow run once this chunk has loaded its rows
    ids = store(runtime, stories(), "race")
    begin = chunk.begin

    def begin_then_race(session, wanted):
        loaded = begin(session, wanted)
        with runtime.db.transaction() as other:
            shop = other.scalar(sa.select(Shop).where(Shop.domain == SHOP))
            rule = other.scalar(sa.select(Rule).where(Rule.shop_id == shop.id, Rule.key == "order_confirmation"))
            contact = Contact(shop_id=shop.id, phone_e164="+33699999999", consent_status="not_subscribed")
            other.add(contact)
            other.flush()
            other.add(FlowRun(shop_id=shop.id, rule_id=rule.id, contact_id=contact.id,
                              subject_key="gid://shopify/Order/9000001", status="completed", step=1))
        monkeypatch.setattr(chunk, "begin", begin)  # once
        return loaded

    monkeypatch.setattr(chunk, "begin", begin_then_race)
    # when the chunk is handled, then its flush fails on the run's unique key, and the events are
    # replayed one per transaction: every event ends processed, and that order has one run
    assert pipeline.process_store_events(runtime, ids) == len(ids)
    assert "replaying them one by one" in caplog.text
    with runtime.db.session() as s:
        assert set(s.scalars(sa.select(StoreEvent.status))) == {"processed"}
        runs = s.scalars(sa.select(FlowRun).where(FlowRun.subject_key == "gid://shopify/Order/9000001",
                                                  FlowRun.rule_id == sa.select(Rule.id).where(
                                                      Rule.key == "order_confirmation").scalar_subquery())).all()
    assert len(runs) == 1


def test_a_flush_during_a_chunk_writes_its_new_contacts_before_the_rows_that_refer_to_them(runtime):
    from automations import contacts
    from automations.events import ContactData

    with runtime.db.transaction() as session:
        shop = session.scalar(sa.select(Shop).where(Shop.domain == SHOP))
        chunk.begin(session, {shop.id: chunk.Wanted()})
        try:
            with session.no_autoflush:
                made = contacts.upsert_contact(session, shop, ContactData(phone="+33612000042"), source="shopify")
                rule = session.scalar(sa.select(Rule).where(Rule.shop_id == shop.id))
                session.add(FlowRun(shop_id=shop.id, rule_id=rule.id, contact_id=made.contact.id,
                                    subject_key="mid-chunk", status="active", step=0))
                session.flush()  # as a consent look-up for a contact the chunk did not load would
        finally:
            chunk.end(session)
    with runtime.db.session() as s:
        run = s.scalar(sa.select(FlowRun).where(FlowRun.subject_key == "mid-chunk"))
        assert s.get(Contact, run.contact_id).phone_e164 == "+33612000042"
