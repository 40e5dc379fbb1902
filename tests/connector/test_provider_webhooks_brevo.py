"""Brevo's webhooks through the app over HTTP, posted by the Brevo sandbox to a message's webUrl
(Basic credentials in the URL) and to the SMS webhook registered with a bearer token: delivery
events, a STOP reply, blocked and hard-bounced numbers fed back into the contact, and webhooks
without the right credentials or body refused before anything is stored."""

from __future__ import annotations

import pytest
import requests

from integrations.brevo.client import BrevoClient
from integrations.brevo.install import SMS_EVENTS
from integrations.brevo.sandbox import BrevoSandbox
from integrations.brevo.webhooks import basic_authorization
from integrations.serving import serve
from tests.connector.sms_world import PHONE, SmsWorld, start, stop

API_KEY, TOKEN = "xkeysib-provider-webhooks", "brevo-webhook-token-0123456789"
SENDER = "BOUTIQUE"


@pytest.fixture
def world(config, database, redis_conn):
    sandbox = BrevoSandbox(API_KEY)
    running = serve(sandbox.app)
    world = start(config, sandbox, "brevo", SENDER, brevo_api_key=API_KEY, brevo_webhook_token=TOKEN,
                  brevo_base_url=f"{running.url}/v3")
    yield world
    stop(world)
    sandbox.close()
    running.stop()


def register_webhook(world: SmsWorld) -> None:
    """The account's SMS webhook, created through Brevo's API as the install does."""
    client = BrevoClient(API_KEY, base_url=world.runtime.config.brevo_base_url)
    client.create_sms_webhook(f"{world.url}/webhooks/brevo/inbound", TOKEN, SMS_EVENTS)


def test_a_message_sent_through_brevo_is_delivered_by_its_events(world: SmsWorld):
    # given a message Brevo accepted, its webUrl carrying our credentials
    message = world.send()
    assert message.status == "sent" and message.provider == "brevo"
    (sent,) = world.sandbox.messages()
    assert sent.web_url.startswith("http://parlons:") and sent.web_url.endswith("/webhooks/brevo/status")
    # when Brevo posts "sent" then "delivered", to the webUrl and to the registered webhook
    register_webhook(world)
    posted = world.sandbox.deliver_pending()
    assert [(p.msg_status, p.http_status) for p in posted] == [("sent", 200)] * 2 + [("delivered", 200)] * 2
    world.drain()
    # then each event is stored once and the message is delivered, under Brevo's id
    assert len(world.stored("brevo")) == 2
    assert world.message(message.id).status == "delivered"
    assert world.message(message.id).provider_message_id == str(sent.message_id)


def test_a_stop_reply_opts_the_contact_out_once(world: SmsWorld):
    register_webhook(world)
    world.send()
    world.sandbox.deliver_pending()
    # when the customer answers STOP: Brevo posts the reply, then the unsubscription, twice each
    posted = world.sandbox.send_reply(PHONE, "STOP")
    assert [(p.msg_status, p.http_status) for p in posted] == [("replied", 200)] * 2 + [("unsubscribed", 200)] * 2
    world.drain()
    # then the contact is opted out once, by SMS, and the STOP is in their conversation
    assert world.contact().opted_out_at is not None and world.consent_sources() == ["sms"]
    (inbound,) = world.inbound()
    assert (inbound.body, inbound.provider, inbound.to_phone) == ("STOP", "brevo", SENDER)


def test_an_unsubscription_alone_opts_the_contact_out(world: SmsWorld):
    world.send()
    (sent,) = world.sandbox.messages()
    event = {"id": 7, "to": sent.to, "messageId": sent.message_id, "msg_status": "unsubscribed",
             "date": "2026-12-05 11:00:00", "type": "Transactional"}
    answer = requests.post(f"{world.url}/webhooks/brevo/inbound", json=event,
                           headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert answer.status_code == 200
    world.drain()
    assert world.contact().opted_out_at is not None and world.consent_sources() == ["sms"]
    assert world.inbound() == []


def test_a_blocked_number_is_a_stop_and_a_hard_bounce_marks_the_phone(world: SmsWorld):
    # given a blacklisted number and one that does not exist
    world.sandbox.blacklist(PHONE)
    world.sandbox.unknown_number("+33687654321")
    first = world.send()
    second = world.send(phone="+33687654321", key="t:2")
    # when Brevo reports them blocked and hard-bounced
    assert all(p.http_status == 200 for p in world.sandbox.deliver_pending())
    world.drain()
    # then the first contact is opted out by the carrier, the second's phone is marked invalid
    assert world.message(first.id).status == "failed" and world.message(first.id).error_code == "blocked"
    assert world.contact().opted_out_at is not None and world.consent_sources() == ["carrier"]
    assert world.message(second.id).status == "undelivered"
    assert "hard_bounce" in world.contact("+33687654321").phone_error
    assert world.contact("+33687654321").opted_out_at is None


def test_wrong_credentials_are_401_and_a_bad_body_400_and_neither_is_stored(world: SmsWorld):
    event = {"id": 1, "to": PHONE[1:], "messageId": 1511882900176220, "msg_status": "delivered",
             "date": "2026-12-05 11:00:00", "type": "Transactional"}
    for headers in ({}, {"Authorization": "Bearer another-token"},
                    {"Authorization": basic_authorization("parlons", "another-token")}):
        for route in ("status", "inbound"):
            answer = requests.post(f"{world.url}/webhooks/brevo/{route}", json=event, headers=headers, timeout=10)
            assert answer.status_code == 401 and answer.json()["outcome"] == "bad_signature"
    answer = requests.post(f"{world.url}/webhooks/brevo/status", json={"msg_status": "delivered"},
                           headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert answer.status_code == 400 and answer.json()["outcome"] == "bad_payload"
    assert world.stored("brevo") == []


def test_an_event_that_is_neither_a_report_nor_a_message_is_answered_200_and_not_stored(world: SmsWorld):
    # a subscription is no delivery report and no text: Brevo would retry anything but a 2xx
    event = {"id": 1, "to": PHONE[1:], "messageId": 1511882900176220, "msg_status": "subscribe",
             "date": "2026-12-05 11:00:00", "type": "Transactional"}
    for route in ("status", "inbound"):
        answer = requests.post(f"{world.url}/webhooks/brevo/{route}", json=event,
                               headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert answer.status_code == 200 and answer.json()["outcome"] == "ignored"
    assert world.stored("brevo") == []
