"""Vonage's signed webhooks as the sandbox posts them: status webhooks to our one status enum,
inbound messages (STOP included), and signatures we refuse."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time

import jwt
import pytest

from integrations.sms import Refusal, Status, WebhookError, WebhookRequest
from tests.integrations.vonage.conftest import CUSTOMER, SIGNATURE_SECRET, message


def _statuses(provider, receiver, count):
    posted = receiver.wait_for(count)
    assert all(provider.verify(r) for r in posted)
    return [u for r in posted for u in provider.parse_status(r)]


def test_delivery_webhooks_map_to_sent_then_delivered_with_our_reference(provider, sandbox, receiver):
    # given a message Vonage accepted  # when its status webhooks arrive
    accepted = provider.send(message(reference="order-1001-shipped"))
    sandbox.deliver_pending()
    updates = _statuses(provider, receiver, 2)
    # then they read as sent then delivered, for that message, with our reference echoed
    assert [(u.provider_id, u.status, u.provider_status) for u in updates] == [
        (accepted.provider_id, Status.SENT, "submitted"),
        (accepted.provider_id, Status.DELIVERED, "delivered")]
    assert {u.reference for u in updates} == {"order-1001-shipped"} and updates[0].to == CUSTOMER


def test_a_recipient_who_sent_stop_is_rejected_as_opted_out(provider, sandbox, receiver):
    # given a customer who opted out with the carrier (Vonage error 1240)
    sandbox.opt_out(CUSTOMER)
    provider.send(message())
    # when the status webhook arrives
    sandbox.deliver_pending()
    [update] = _statuses(provider, receiver, 1)
    # then the message failed and the error says the contact opted out
    assert update.status is Status.FAILED and update.error is Refusal.OPTED_OUT
    assert update.error_code == "1240"


def test_an_unknown_number_ends_undelivered_as_invalid(provider, sandbox, receiver):
    # given a number the network does not know (1170)
    sandbox.unreachable(CUSTOMER, code=1170)
    provider.send(message())
    sandbox.deliver_pending()
    updates = _statuses(provider, receiver, 2)
    # then the final status is undelivered, and the number is invalid
    assert updates[-1].status is Status.UNDELIVERED and updates[-1].error is Refusal.INVALID_NUMBER


def test_inbound_stop_is_read(provider, sandbox, receiver):
    # given the customer texts STOP to our number
    sandbox.send_inbound(CUSTOMER, "+33757000001", "STOP")
    [request] = receiver.wait_for(1)
    # when we verify and read it  # then it is a signed STOP from that phone, in E.164
    assert provider.verify(request)
    inbound = provider.parse_inbound(request)
    assert (inbound.from_, inbound.to, inbound.text) == (CUSTOMER, "+33757000001", "STOP")
    assert inbound.provider_id and inbound.received_at is not None


def test_inbound_mms_carries_its_image(provider, sandbox, receiver):
    sandbox.send_inbound("+14155550100", "+14155550199", "ma photo", media_url="https://m.example/1.jpg")
    [request] = receiver.wait_for(1)
    assert provider.parse_inbound(request).media == ("https://m.example/1.jpg",)


def _signed(body: bytes, secret: str = SIGNATURE_SECRET, **claims) -> WebhookRequest:
    payload = {"iat": int(time.time()), "jti": "x", "iss": "Vonage",
               "payload_hash": hashlib.sha256(body).hexdigest(), **claims}
    token = jwt.encode(payload, secret, algorithm="HS256")
    return WebhookRequest("https://parlons.example/webhooks/vonage/status",
                          {"Authorization": f"Bearer {token}"}, body)


@pytest.mark.parametrize("forge", ["other body", "wrong secret", "no header", "old token", "not bearer"])
def test_bad_signatures_are_refused(provider, sandbox, receiver, forge):
    # given a genuine status webhook
    provider.send(message())
    sandbox.deliver_pending()
    genuine = receiver.wait_for(2)[0]
    assert provider.verify(genuine)
    # when it is altered or forged  # then verification fails
    forged = {
        "other body": dataclasses.replace(genuine, body=genuine.body.replace(b"submitted", b"delivered")),
        "wrong secret": _signed(genuine.body, secret="not-the-signature-secret-of-this-account"),
        "no header": dataclasses.replace(genuine, headers={}),
        "old token": _signed(genuine.body, iat=int(time.time()) - 3600),
        "not bearer": dataclasses.replace(genuine, headers={"Authorization": "Basic abc"}),
    }[forge]
    assert not provider.verify(forged)


def test_a_body_without_required_fields_is_a_clear_error(provider):
    body = json.dumps({"message_uuid": "u-1", "status": "delivered"}).encode()
    with pytest.raises(WebhookError, match="timestamp"):
        provider.parse_status(_signed(body))
