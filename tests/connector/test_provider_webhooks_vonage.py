"""Vonage's webhooks through the app over HTTP, posted and signed by the Vonage sandbox: a sent
message's status reports, an inbound STOP, a carrier refusal fed back into the contact, and a
webhook with a bad signature or body refused before anything is stored."""

from __future__ import annotations

import json

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from integrations.local_tls import local_certificate, serve_tls
from integrations.vonage.sandbox import VonageSandbox
from tests.connector.sms_world import PHONE, SmsWorld, start, stop

API_KEY, API_SECRET = "a1b2c3d4", "vonage-api-secret"
APPLICATION_ID = "6f5e4d3c-2b1a-4098-8765-43210fedcba9"
SIGNATURE_SECRET = "vonage-signature-secret-0123456789abcdef"
NUMBER = "+33757000021"


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@pytest.fixture
def world(config, database, redis_conn, keys, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", local_certificate().cert_file)
    sandbox = VonageSandbox(api_key=API_KEY, api_secret=API_SECRET, application_id=APPLICATION_ID,
                            public_key=keys[1], signature_secret=SIGNATURE_SECRET)
    running = serve_tls(sandbox.app)
    world = start(config, sandbox, "vonage", NUMBER, vonage_api_key=API_KEY, vonage_api_secret=API_SECRET,
                  vonage_application_id=APPLICATION_ID, vonage_private_key=keys[0],
                  vonage_signature_secret=SIGNATURE_SECRET,
                  vonage_base_url=f"127.0.0.1:{running.server.server_port}")
    sandbox.inbound_url = f"{world.url}/webhooks/vonage/inbound"
    yield world
    stop(world)
    sandbox.close()
    running.stop()


def test_a_message_sent_through_vonage_is_delivered_by_its_status_webhooks(world: SmsWorld):
    # given a message Vonage accepted, with its status webhooks pointed at us
    message = world.send()
    assert message.status == "sent" and message.provider == "vonage"
    (sent,) = world.sandbox.messages()
    assert sent.webhook_url == f"{world.url}/webhooks/vonage/status"
    # when Vonage posts "submitted" then "delivered", signed
    posted = world.sandbox.deliver_pending()
    assert [(p.status, p.http_status) for p in posted] == [("submitted", 200), ("delivered", 200)]
    world.drain()
    # then the message is delivered, under Vonage's id
    assert world.message(message.id).status == "delivered"
    assert world.message(message.id).provider_message_id == sent.message_uuid


def test_a_status_webhook_posted_twice_is_stored_once(world: SmsWorld):
    world.send()
    (sent,) = world.sandbox.messages()
    payload = {"message_uuid": sent.message_uuid, "to": sent.to, "from": sent.from_,
               "timestamp": "2026-12-05T10:00:00.000Z", "status": "delivered", "channel": "sms"}
    first = world.sandbox.post_signed(f"{world.url}/webhooks/vonage/status", payload)
    again = world.sandbox.post_signed(f"{world.url}/webhooks/vonage/status", payload)
    assert (first.json()["outcome"], again.json()["outcome"]) == ("stored", "duplicate")
    assert len(world.stored("vonage")) == 1


def test_an_inbound_stop_opts_the_contact_out(world: SmsWorld):
    world.send()
    # when the customer texts STOP to the shop's Vonage number
    answer = world.sandbox.send_inbound(PHONE, NUMBER, "STOP")
    assert answer.status_code == 200
    world.drain()
    # then the contact is opted out by SMS and the text is in their conversation
    contact = world.contact()
    assert contact.opted_out_at is not None and world.consent_sources() == ["sms"]
    (inbound,) = world.inbound()
    assert (inbound.body, inbound.provider, inbound.to_phone) == ("STOP", "vonage", NUMBER)


def test_a_carrier_opt_out_in_a_report_is_a_stop_and_an_invalid_number_marks_the_phone(world: SmsWorld):
    # given one number that sent STOP to the carrier, another that no longer exists
    world.sandbox.opt_out(PHONE)
    world.sandbox.unreachable("+33687654321", code=1170)
    first = world.send()
    second = world.send(phone="+33687654321", key="t:2")
    # when Vonage reports them rejected (1240) and undeliverable (1170)
    assert all(p.http_status == 200 for p in world.sandbox.deliver_pending())
    world.drain()
    # then the first contact is opted out by the carrier, the second's phone is marked invalid
    assert world.message(first.id).status == "failed" and world.message(first.id).error_code == "1240"
    assert world.contact().opted_out_at is not None and world.consent_sources() == ["carrier"]
    assert world.message(second.id).status == "undelivered"
    assert "1170" in world.contact("+33687654321").phone_error
    assert world.contact("+33687654321").opted_out_at is None


def test_a_bad_signature_is_401_and_a_bad_body_400_and_neither_is_stored(world: SmsWorld):
    url = f"{world.url}/webhooks/vonage/inbound"
    payload = {"channel": "sms", "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "to": NUMBER[1:],
               "from": PHONE[1:], "timestamp": "2026-12-05T10:00:00.000Z", "message_type": "text",
               "text": "STOP"}
    body = json.dumps(payload).encode()
    # unsigned; signed with another secret; a token signed for another body
    forged = jwt.encode({"iat": 2_000_000_000, "payload_hash": "0" * 64}, "another-signature-secret-0123456789abcdef",
                        algorithm="HS256")
    other = world.sandbox.signed_headers(b'{"text": "hello"}')
    for headers in ({"Content-Type": "application/json"},
                    {"Content-Type": "application/json", "Authorization": f"Bearer {forged}"}, other):
        answer = requests.post(url, data=body, headers=headers, timeout=10)
        assert answer.status_code == 401 and answer.json()["outcome"] == "bad_signature"
    # a well-signed body missing its sender
    broken = json.dumps({k: v for k, v in payload.items() if k != "from"}).encode()
    answer = requests.post(url, data=broken, headers=world.sandbox.signed_headers(broken), timeout=10)
    assert answer.status_code == 400 and answer.json()["outcome"] == "bad_payload"
    assert world.stored("vonage") == [] and world.inbound() == []


def test_a_status_posted_to_the_inbound_url_is_stored_as_a_status(world: SmsWorld):
    # given an application whose two URLs were set the same (Vonage allows it)
    message = world.send()
    (sent,) = world.sandbox.messages()
    payload = {"message_uuid": sent.message_uuid, "to": sent.to, "from": sent.from_,
               "timestamp": "2026-12-05T10:00:00.000Z", "status": "delivered", "channel": "sms"}
    answer = world.sandbox.post_signed(f"{world.url}/webhooks/vonage/inbound", payload)
    assert answer.status_code == 200
    world.drain()
    assert world.message(message.id).status == "delivered" and world.inbound() == []
