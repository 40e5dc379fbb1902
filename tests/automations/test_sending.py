"""Delivery reports whose error says something of the contact: a carrier STOP, a dead number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from automations import sending
from automations.models import Message
from tests.automations.test_dispatch import make_contact, make_message

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def _sent(session, shop, contact, n: int) -> Message:
    message = make_message(session, shop, contact, n, kind="transactional", provider="vonage",
                           provider_message_id=f"uuid-{n}")
    message.status = "sent"
    session.flush()
    return message


def test_a_report_of_a_carrier_opt_out_is_a_stop_that_cancels_what_waits(session, shop):
    contact = make_contact(session, shop)
    _sent(session, shop, contact, 1)
    waiting = make_message(session, shop, contact, 2, send_at=T0 + timedelta(hours=1))
    # when the provider reports the message rejected because the recipient opted out
    message = sending.apply_report(session, "vonage", "uuid-1", "failed", "1240", "opted_out", T0)
    # then the message failed, the contact is opted out and the waiting message is cancelled
    assert message.status == "failed" and contact.opted_out_at == T0
    assert waiting.status == "cancelled"


def test_a_report_of_an_invalid_number_marks_the_phone_and_later_sends_are_suppressed(session, shop, redis_conn):
    from automations import dispatch

    contact = make_contact(session, shop)
    _sent(session, shop, contact, 1)
    sending.apply_report(session, "vonage", "uuid-1", "undelivered", "1170", "invalid_number", T0)
    assert contact.phone_error.startswith("invalid number")
    later = make_message(session, shop, contact, 2, kind="transactional")
    decision = dispatch.check_before_send(session, later, T0, redis_conn)
    assert not decision.send and later.status == "suppressed"
    assert later.status_reason == "phone marked invalid by the provider"


def test_a_report_without_an_error_changes_nothing_of_the_contact(session, shop):
    contact = make_contact(session, shop)
    _sent(session, shop, contact, 1)
    message = sending.apply_report(session, "vonage", "uuid-1", "delivered", None, None, T0)
    assert message.status == "delivered" and contact.opted_out_at is None and contact.phone_error is None
