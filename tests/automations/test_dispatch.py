"""Dispatch: due messages claimed once, re-checked at send time, every one ending with a reason."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import consent, dispatch
from automations.models import Contact, FlowRun, Message, Rule, TimelineEntry

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Paris


def make_contact(session, shop, **kw) -> Contact:
    values = {"shop_id": shop.id, "phone_e164": "+33612345678", "consent_status": "subscribed"}
    values.update(kw)
    contact = Contact(**values)
    session.add(contact)
    session.flush()
    return contact


def make_message(session, shop, contact, n=0, kind="marketing", send_at=T0, **kw) -> Message:
    message = Message(shop_id=shop.id, contact_id=contact.id, direction="outbound", kind=kind,
                      to_phone=contact.phone_e164, body=f"Message {n}", status="scheduled",
                      idempotency_key=f"test:{contact.id}:{n}", send_at=send_at, **kw)
    session.add(message)
    session.flush()
    return message


def test_claim_due_takes_only_due_scheduled_messages(session, shop):
    contact = make_contact(session, shop)
    due = make_message(session, shop, contact, 1)
    make_message(session, shop, contact, 2, send_at=T0 + timedelta(minutes=5))
    make_message(session, shop, contact, 3, status_reason=None).status = "cancelled"
    session.commit()
    # when a worker claims at T0
    claimed = dispatch.claim_due(session, T0, limit=10)
    session.commit()
    # then it gets the due one only, now "sending", and a second claim gets nothing
    assert [m.id for m in claimed] == [due.id] and claimed[0].status == "sending"
    assert dispatch.claim_due(session, T0, limit=10) == []


def test_a_claim_made_elsewhere_first_is_not_claimed_again(session, shop, db_engine):
    contact = make_contact(session, shop)
    for n in range(4):
        make_message(session, shop, contact, n)
    session.commit()
    # given another worker that claimed and committed everything
    with Session(db_engine) as other:
        assert len(dispatch.claim_due(other, T0, limit=10)) == 4
        other.commit()
    # then this worker, even with a stale view, claims nothing
    assert dispatch.claim_due(session, T0, limit=10) == []


@pytest.fixture
def postgres(db_engine):
    if db_engine.dialect.name != "postgresql":
        pytest.skip("row locks (FOR UPDATE SKIP LOCKED) need PostgreSQL: set DATABASE_URL")
    return db_engine


def test_two_workers_racing_never_claim_the_same_message(session, shop, postgres):
    contact = make_contact(session, shop)
    ids = {make_message(session, shop, contact, n).id for n in range(60)}
    session.commit()
    claims: list[list[int]] = [[] for _ in range(4)]
    start = threading.Barrier(4)

    def worker(index: int) -> None:
        with Session(postgres) as own:
            start.wait()
            while batch := dispatch.claim_due(own, T0, limit=7):
                claims[index] += [m.id for m in batch]
                own.commit()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    every = [i for claim in claims for i in claim]
    assert sorted(every) == sorted(ids)  # each claimed once, none left behind
    # and while one worker holds its claim uncommitted, another skips those rows
    more = {make_message(session, shop, contact, 100 + n).id for n in range(6)}
    session.commit()
    with Session(postgres) as first, Session(postgres) as second:
        mine = {m.id for m in dispatch.claim_due(first, T0, limit=3)}
        theirs = {m.id for m in dispatch.claim_due(second, T0, limit=10)}
        first.commit()
        second.commit()
    assert mine | theirs == more and not mine & theirs


def test_opted_out_contact_gets_nothing_even_transactional(session, shop, redis_conn):
    contact = make_contact(session, shop)
    message = make_message(session, shop, contact, kind="transactional")
    session.commit()
    [claimed] = dispatch.claim_due(session, T0, 10)
    # given the contact replied STOP after the message was queued (and it escaped cancellation)
    contact.opted_out_at = T0 - timedelta(minutes=1)
    decision = dispatch.check_before_send(session, claimed, T0, redis_conn)
    assert not decision.send
    assert (message.status, message.status_reason) == ("suppressed", "contact opted out")


def test_marketing_consent_withdrawn_before_sending(session, shop, redis_conn):
    contact = make_contact(session, shop)
    message = make_message(session, shop, contact)
    contact.consent_status = "unsubscribed"
    decision = dispatch.check_before_send(session, message, T0, redis_conn)
    assert (decision.send, message.status, message.status_reason) == (False, "suppressed", "no marketing consent")


def test_exited_flow_cancels_its_message(session, shop, redis_conn):
    contact = make_contact(session, shop)
    rule = Rule(shop_id=shop.id, key="r", name="r", trigger="CartAbandoned", kind="marketing")
    session.add(rule)
    session.flush()
    run = FlowRun(shop_id=shop.id, rule_id=rule.id, contact_id=contact.id, subject_key="tok",
                  status="exited", exit_reason="order placed")
    session.add(run)
    session.flush()
    message = make_message(session, shop, contact, flow_run_id=run.id)
    dispatch.check_before_send(session, message, T0, redis_conn)
    assert (message.status, message.status_reason) == ("cancelled", "flow exited: order placed")


def test_human_handoff_pauses_automated_messages_only(session, shop, redis_conn):
    contact = make_contact(session, shop, paused_until=T0 + timedelta(hours=2))
    marketing = make_message(session, shop, contact, 1)
    reply = make_message(session, shop, contact, 2, kind="conversational")
    paused = dispatch.check_before_send(session, marketing, T0, redis_conn)
    assert not paused.send and marketing.status == "scheduled"
    assert marketing.send_at == T0 + timedelta(hours=2) and "person" in marketing.status_reason
    assert dispatch.check_before_send(session, reply, T0, redis_conn).send


def test_marketing_outside_the_window_is_deferred_not_dropped(session, shop, redis_conn):
    contact = make_contact(session, shop)
    # given a marketing message due on Sunday 15 March, 11:00 in Paris
    sunday = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
    message = make_message(session, shop, contact, send_at=sunday)
    decision = dispatch.check_before_send(session, message, sunday, redis_conn)
    # then it goes back to scheduled for Monday 08:00 Paris, saying why
    assert not decision.send and decision.status == "scheduled"
    assert message.send_at == datetime(2026, 3, 16, 7, 0, tzinfo=UTC) and message.status_reason
    # while a transactional one goes now
    shipping = make_message(session, shop, contact, 2, kind="transactional", send_at=sunday)
    assert dispatch.check_before_send(session, shipping, sunday, redis_conn).send


def test_caps_suppress_the_second_marketing_sms_within_24_hours(session, shop, redis_conn):
    contact = make_contact(session, shop)
    first = make_message(session, shop, contact, 1)
    second = make_message(session, shop, contact, 2, send_at=T0 + timedelta(hours=3))
    assert dispatch.check_before_send(session, first, T0, redis_conn).send
    decision = dispatch.check_before_send(session, second, T0 + timedelta(hours=3), redis_conn)
    assert not decision.send and second.status == "suppressed" and second.status_reason
    # and a day later the next one may go
    third = make_message(session, shop, contact, 3, send_at=T0 + timedelta(hours=25))
    assert dispatch.check_before_send(session, third, T0 + timedelta(hours=25), redis_conn).send


def test_uninstalled_shop_sends_nothing(session, shop, redis_conn):
    contact = make_contact(session, shop)
    message = make_message(session, shop, contact, kind="transactional")
    shop.status = "uninstalled"
    dispatch.check_before_send(session, message, T0, redis_conn)
    assert (message.status, message.status_reason) == ("suppressed", "shop uninstalled")


def test_results_and_status_callbacks_never_move_backwards(session, shop):
    contact = make_contact(session, shop)
    message = make_message(session, shop, contact)
    message.status = "sending"
    # when the provider accepts it
    dispatch.record_result(session, message, provider="twilio", provider_message_id="SM1",
                           status="queued", now=T0)
    assert message.status == "sent" and message.sent_at == T0
    # then callbacks move it on: delivered is final, a late "sent" does not undo it
    dispatch.apply_status(session, "twilio", "SM1", "delivered", None, T0 + timedelta(seconds=5))
    dispatch.apply_status(session, "twilio", "SM1", "sent", None, T0 + timedelta(seconds=6))
    dispatch.apply_status(session, "twilio", "SM1", "failed", "30003", T0 + timedelta(seconds=7))
    assert message.status == "delivered" and message.delivered_at == T0 + timedelta(seconds=5)
    assert message.error_code is None
    # and one timeline entry follows the message, with its latest status
    entry = session.scalars(sa.select(TimelineEntry)).one()
    assert entry.kind == "sms_out" and entry.key == f"sms_out:{message.id}"
    assert entry.body.startswith("SMS delivered")
    assert dispatch.apply_status(session, "twilio", "SM-unknown", "delivered", None, T0) is None


def test_failed_send_says_why(session, shop):
    contact = make_contact(session, shop)
    message = make_message(session, shop, contact)
    dispatch.record_result(session, message, provider="twilio", status="failed", error_code="21211",
                           reason="invalid 'To' phone number", now=T0)
    assert (message.status, message.error_code, message.status_reason) == (
        "failed", "21211", "invalid 'To' phone number")
    assert session.scalars(sa.select(TimelineEntry)).one().body.startswith("SMS failed")


def test_stop_cancels_what_is_still_scheduled(session, shop):
    contact = make_contact(session, shop)
    message = make_message(session, shop, contact, kind="transactional")
    consent.opt_out(session, contact, "sms", {"body": "STOP"}, T0)
    assert (message.status, message.status_reason) == ("cancelled", "opted out")
