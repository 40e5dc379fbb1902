"""Consent: an append-only ledger, the newest statement wins, STOP stops everything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from automations import consent
from automations.events import ConsentData
from automations.models import (
    ConsentEvent,
    Contact,
    FlowRun,
    Message,
    OutboundWrite,
    Rule,
    TimelineEntry,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def make_contact(session, shop, **kw) -> Contact:
    contact = Contact(shop_id=shop.id, phone_e164="+33612345678", first_name="Léa", **kw)
    session.add(contact)
    session.flush()
    return contact


def ledger(session, contact):
    return session.scalars(sa.select(ConsentEvent).where(ConsentEvent.contact_id == contact.id)
                           .order_by(ConsentEvent.id)).all()


def writes(session, contact):
    return session.scalars(sa.select(OutboundWrite).where(OutboundWrite.contact_id == contact.id)
                           .order_by(OutboundWrite.id)).all()


def test_statement_is_recorded_and_becomes_current(session, shop):
    # given a Shopify customer without consent
    contact = make_contact(session, shop, shopify_customer_id="gid://shopify/Customer/1")
    # when HubSpot says they subscribed, with evidence
    entry = consent.record(session, contact, ConsentData(
        "subscribed", "hubspot", T0, {"form": "footer", "ip": "203.0.113.9"}), now=T0)
    # then the ledger has it with its evidence, and the contact is subscribed
    assert entry.evidence["form"] == "footer" and entry.occurred_at == T0
    assert contact.consent_status == "subscribed" and contact.consent_source == "hubspot"
    # and the change is queued for Shopify (not back to HubSpot, which told us) and the timeline
    assert [(w.target, w.key, w.payload["status"]) for w in writes(session, contact)] == [
        ("shopify", f"consent:{entry.id}:shopify", "subscribed")]
    timeline = session.scalars(sa.select(TimelineEntry)).all()
    assert [(t.kind, t.key) for t in timeline] == [("consent", f"consent:{entry.id}")]


def test_stale_statement_is_kept_but_changes_nothing(session, shop):
    contact = make_contact(session, shop)
    consent.record(session, contact, ConsentData("subscribed", "shopify", T0), now=T0)
    # when an older statement arrives late
    stale = consent.record(session, contact, ConsentData("unsubscribed", "hubspot", T0 - timedelta(days=1)),
                           now=T0)
    # then it is in the ledger, but the contact stays subscribed and nothing is queued for it
    assert stale is not None and len(ledger(session, contact)) == 2
    assert contact.consent_status == "subscribed"
    assert all(w.payload["consent_event_id"] != stale.id for w in writes(session, contact))


def test_identical_repeat_and_our_own_echo_are_not_recorded_twice(session, shop):
    contact = make_contact(session, shop, shopify_customer_id="gid://shopify/Customer/1")
    # given a STOP by SMS, pushed to Shopify and HubSpot
    consent.opt_out(session, contact, "sms", {"body": "STOP"}, T0)
    assert {w.target for w in writes(session, contact)} == {"shopify", "hubspot"}
    # when Shopify echoes our change back, and the same SMS source repeats
    echo = consent.record(session, contact, ConsentData("unsubscribed", "shopify", T0 + timedelta(minutes=1)),
                          now=T0 + timedelta(minutes=1))
    repeat = consent.record(session, contact, ConsentData("unsubscribed", "sms", T0 + timedelta(minutes=2)),
                            now=T0 + timedelta(minutes=2))
    # then neither is recorded again
    assert echo is None and repeat is None
    assert len(ledger(session, contact)) == 1


def test_opt_out_cancels_queued_messages_and_ends_flows(session, shop):
    # given a contact in a flow, with a marketing and a transactional message queued
    contact = make_contact(session, shop, consent_status="subscribed")
    rule = Rule(shop_id=shop.id, key="r", name="r", trigger="CartAbandoned", kind="marketing")
    session.add(rule)
    session.flush()
    run = FlowRun(shop_id=shop.id, rule_id=rule.id, contact_id=contact.id, subject_key="tok", status="active")
    session.add(run)
    session.flush()
    for kind in ("marketing", "transactional"):
        session.add(Message(shop_id=shop.id, contact_id=contact.id, flow_run_id=run.id, direction="outbound",
                            kind=kind, status="scheduled", idempotency_key=f"k-{kind}", send_at=T0))
    session.flush()
    # when they reply STOP
    entry = consent.opt_out(session, contact, "sms", {"body": "Stop"}, T0)
    # then they are opted out, nothing queued remains, and the flow ended
    assert contact.opted_out_at == T0 and contact.consent_status == "unsubscribed"
    statuses = session.execute(sa.select(Message.status, Message.status_reason)).all()
    assert statuses == [("cancelled", "opted out"), ("cancelled", "opted out")]
    assert run.status == "exited" and run.exit_reason == "opted out"
    # and the change goes to HubSpot (no Shopify id here) with the STOP flag
    assert [(w.target, w.key, w.payload["opted_out"]) for w in writes(session, contact)] == [
        ("hubspot", f"consent:{entry.id}:hubspot", True)]


def test_opt_in_clears_a_stop(session, shop):
    contact = make_contact(session, shop)
    consent.opt_out(session, contact, "sms", {"body": "STOP"}, T0)
    # when they text START later
    entry = consent.opt_in(session, contact, "sms", {"body": "START"}, T0 + timedelta(days=1))
    # then they may receive SMS again, and the change is queued
    assert contact.opted_out_at is None and contact.consent_status == "subscribed"
    assert writes(session, contact)[-1].key == f"consent:{entry.id}:hubspot"
