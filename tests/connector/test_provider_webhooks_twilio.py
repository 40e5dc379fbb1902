"""Twilio's delivery reports through the app over HTTP, posted and signed by the Twilio sandbox:
their error codes feed back into the contact (21610, the recipient unsubscribed: a STOP; 30006,
a landline or unreachable carrier: the phone marked invalid); an error that says nothing of the
contact changes nothing but the message."""

from __future__ import annotations

import pytest

from integrations.serving import serve
from integrations.twilio.sandbox import TwilioSandbox
from tests.connector.sms_world import PHONE, SmsWorld, start, stop

SID, TOKEN = "AC" + "f" * 32, "provider-webhooks-token"
NUMBER = "+33757000031"
LANDLINE, OFF = "+33187654321", "+33698765432"


@pytest.fixture
def world(config, database, redis_conn):
    sandbox = TwilioSandbox(SID, TOKEN)
    running = serve(sandbox.app)
    world = start(config, sandbox, "twilio", NUMBER, twilio_account_sid=SID, twilio_auth_token=TOKEN,
                  twilio_base_url=running.url)
    yield world
    stop(world)
    sandbox.close()
    running.stop()


def test_report_errors_become_a_carrier_stop_or_an_invalid_phone(world: SmsWorld):
    # given three recipients: one who unsubscribed with the carrier, a landline, a phone switched off
    world.sandbox.fail_delivery(PHONE, "failed", 21610)
    world.sandbox.fail_delivery(LANDLINE, "undelivered", 30006)
    world.sandbox.fail_delivery(OFF, "undelivered", 30003)
    stopped, landline, off = (world.send(phone=p, key=f"t:{p}") for p in (PHONE, LANDLINE, OFF))
    # when Twilio reports each of them, signed
    posted = world.sandbox.deliver_pending()
    assert posted and all(p.http_status == 200 for p in posted)
    world.drain()
    # then the first is a STOP from the carrier, the landline is marked invalid
    assert (world.message(stopped.id).status, world.message(stopped.id).error_code) == ("failed", "21610")
    assert world.contact().opted_out_at is not None and world.consent_sources() == ["carrier"]
    assert world.message(landline.id).status == "undelivered"
    assert "30006" in world.contact(LANDLINE).phone_error and world.contact(LANDLINE).opted_out_at is None
    # and a phone switched off (30003) is neither: its next message may arrive
    assert world.message(off.id).status == "undelivered" and world.message(off.id).error_code == "30003"
    assert world.contact(OFF).phone_error is None and world.contact(OFF).opted_out_at is None
