"""The engine: conditions, steps (send, wait, branch), exits, idempotency and why nothing was sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from automations import engine, rules
from automations.events import ConsentData, ContactData, DomainEvent
from automations.models import Contact, FlowRun, Link, Message

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Paris
PHONE = "+33612345678"


def save(session, shop, key="r", trigger="OrderPlaced", kind="transactional", steps=None, **kw):
    return rules.save_rule(session, shop, {
        "key": key, "name": key, "trigger": trigger, "kind": kind,
        "steps": steps or [{"type": "send", "template": "Commande {{ order_name }}"}], **kw})


def placed(session, shop, at=T0, gid="gid://shopify/Order/1", contact=None, consent=None, **data):
    payload = {"order_name": "#1001", "total_price": "80.00"}
    payload.update(data)
    return engine.handle_event(session, shop, DomainEvent(
        "OrderPlaced", occurred_at=at, subject_key=gid,
        contact=contact or ContactData(phone=PHONE, first_name="Léa", tags=["vip"]),
        consent=consent, data=payload), now=at)


def bodies(session):
    return [m.body for m in session.scalars(sa.select(Message).order_by(Message.send_at, Message.id))]


def test_conditions_decide_which_rules_start(session, shop):
    save(session, shop, "big", conditions={"all": [{"field": "event.total_price", "op": "gte", "value": 100}]},
         steps=[{"type": "send", "template": "Grosse commande"}])
    save(session, shop, "vip", conditions={"any": [{"field": "contact.tags", "op": "contains", "value": "VIP"}]},
         steps=[{"type": "send", "template": "Merci VIP"}])
    outcome = placed(session, shop)
    assert bodies(session) == ["Merci VIP"] and len(outcome.flows_started) == 1


def test_the_same_event_twice_creates_one_flow_and_one_message(session, shop):
    save(session, shop)
    first = placed(session, shop)
    again = placed(session, shop, at=T0 + timedelta(minutes=1))
    assert len(first.messages) == 1 and again.messages == []
    assert any("already started" in reason for reason in again.skipped)
    assert session.scalar(sa.select(sa.func.count()).select_from(Message)) == 1
    message = session.scalars(sa.select(Message)).one()
    assert message.idempotency_key == f"rule:{message.rule_id}:gid://shopify/Order/1:step:0"


def test_wait_then_branch_on_fresh_contact_data(session, shop):
    # given a rule: wait 2 days, then VIPs get one text and the others another
    save(session, shop, steps=[
        {"type": "wait", "duration": "2d"},
        {"type": "branch", "if": {"field": "contact.tags", "op": "contains", "value": "gold"},
         "then": [{"type": "send", "template": "Or"}],
         "else": [{"type": "send", "template": "Standard"}, {"type": "wait", "duration": "1h"},
                  {"type": "send", "template": "Relance"}]},
    ])
    outcome = placed(session, shop)
    # then nothing is sent yet and the run waits
    run = session.scalars(sa.select(FlowRun)).one()
    assert outcome.messages == [] and run.next_at == T0 + timedelta(days=2) and run.status == "active"
    # when the contact becomes gold meanwhile and the flows advance late (3 days on)
    session.get(Contact, run.contact_id).tags = ["gold"]
    assert engine.advance_flows(session, T0 + timedelta(days=3)) == 1
    # then the gold branch ran, at the time the wait ended, and the run is complete
    [message] = session.scalars(sa.select(Message)).all()
    assert message.body == "Or" and message.send_at == T0 + timedelta(days=2)
    assert run.status == "completed" and run.next_at is None


def test_else_branch_with_its_own_wait(session, shop):
    save(session, shop, steps=[
        {"type": "branch", "if": {"field": "contact.tags", "op": "contains", "value": "gold"},
         "then": [{"type": "send", "template": "Or"}],
         "else": [{"type": "send", "template": "Standard"}, {"type": "wait", "duration": "1h"},
                  {"type": "send", "template": "Relance"}]},
    ])
    placed(session, shop)
    engine.advance_flows(session, T0 + timedelta(hours=1))
    assert bodies(session) == ["Standard", "Relance"]


def test_exit_event_for_the_contact_ends_the_flow_and_cancels_its_messages(session, shop):
    # given a marketing rule started by a customer creation that a first order ends
    save(session, shop, "nurture", trigger="CustomerCreated", kind="marketing",
         exit_on=[{"event": "OrderPlaced"}],
         steps=[{"type": "send", "template": "Bienvenue"}, {"type": "wait", "duration": "2d"},
                {"type": "send", "template": "Toujours là ?"}])
    contact = ContactData(phone=PHONE, first_name="Léa")
    engine.handle_event(session, shop, DomainEvent(
        "CustomerCreated", occurred_at=T0, contact=contact,
        consent=ConsentData("subscribed", "shopify", T0)), now=T0)
    assert len(bodies(session)) == 1
    # when they order the next day
    outcome = placed(session, shop, at=T0 + timedelta(days=1), contact=contact)
    # then the flow exited and the second message never exists
    run = session.scalars(sa.select(FlowRun)).one()
    assert run.status == "exited" and run.exit_reason == "exit event OrderPlaced"
    assert outcome.flows_exited == [run.id]
    engine.advance_flows(session, T0 + timedelta(days=5))
    assert len(bodies(session)) == 1


def test_skipped_reasons_say_why(session, shop):
    save(session, shop, "promo", kind="marketing", steps=[{"type": "send", "template": "Promo"}])
    save(session, shop, "notice", steps=[{"type": "send", "template": "Avis"}])
    # a contact with the fixtures' invalid phone
    bad = placed(session, shop, contact=ContactData(phone="555-555-SHIP", email="bob@example.com", country="US"))
    assert bad.messages == [] and bad.contact_id is not None
    assert bad.skipped[0].startswith("no valid phone: not a valid phone number")
    # a contact without marketing consent gets the transactional notice only
    ok = placed(session, shop, gid="gid://shopify/Order/2")
    assert ok.skipped == ["no marketing consent"] and bodies(session) == ["Avis"]
    # an uninstalled shop does nothing at all
    shop.status = "uninstalled"
    gone = placed(session, shop, gid="gid://shopify/Order/3")
    assert gone.skipped == ["shop uninstalled"] and gone.contact_id is None


def test_consent_granted_starts_welcome_rules(session, shop):
    save(session, shop, "hello", trigger="ConsentGranted", kind="marketing",
         steps=[{"type": "send", "template": "Bienvenue {{ first_name }} !"}])
    outcome = engine.handle_event(session, shop, DomainEvent(
        "CustomerUpdated", occurred_at=T0, contact=ContactData(phone=PHONE, first_name="Léa"),
        consent=ConsentData("subscribed", "shopify", T0)), now=T0)
    assert len(outcome.messages) == 1
    assert bodies(session)[0].startswith("Boutique Lumière: Bienvenue Léa !")


def test_links_in_marketing_bodies_go_through_the_callers_shortener(session, shop):
    save(session, shop, "promo", kind="marketing",
         steps=[{"type": "send", "template": "Soldes : https://boutique.example/soldes"}])
    seen = []

    def shorten(url: str) -> str:
        seen.append(url)
        return "https://s.example/abc"

    engine.handle_event(session, shop, DomainEvent(
        "OrderPlaced", occurred_at=T0, subject_key="o1", contact=ContactData(phone=PHONE),
        consent=ConsentData("subscribed", "shopify", T0)), now=T0, shorten=shorten)
    assert seen == ["https://boutique.example/soldes"]
    assert "https://s.example/abc" in bodies(session)[0]
    assert session.scalar(sa.select(sa.func.count()).select_from(Link)) == 0


def test_transactional_links_are_left_alone(session, shop):
    save(session, shop, steps=[{"type": "send", "template": "Suivi : {{ order_status_url }}"}])
    placed(session, shop, order_status_url="https://boutique.example/orders/1")
    assert bodies(session) == ["Suivi : https://boutique.example/orders/1"]


def test_disabling_a_rule_ends_its_waiting_runs(session, shop):
    save(session, shop, steps=[{"type": "wait", "duration": "1h"}, {"type": "send", "template": "Plus tard"}])
    placed(session, shop)
    rules.set_enabled(session, shop, "r", False)
    engine.advance_flows(session, T0 + timedelta(hours=2))
    run = session.scalars(sa.select(FlowRun)).one()
    assert (run.status, run.exit_reason) == ("exited", "rule disabled") and bodies(session) == []


def test_a_run_keeps_the_version_it_started_with(session, shop):
    save(session, shop, steps=[{"type": "wait", "duration": "1h"}, {"type": "send", "template": "Version 1"}])
    placed(session, shop)
    save(session, shop, steps=[{"type": "wait", "duration": "1h"}, {"type": "send", "template": "Version 2"}])
    engine.advance_flows(session, T0 + timedelta(hours=1))
    assert bodies(session) == ["Version 1"]
