"""Brevo's SMS events as the sandbox posts them: statuses, replies and STOP, and the webhook
authentication Brevo offers (Basic credentials in the URL, or a bearer token)."""

from __future__ import annotations

import dataclasses

import pytest

from integrations.brevo import install
from integrations.brevo.provider import BrevoProvider
from integrations.sms import Refusal, Status, WebhookError
from tests.integrations.brevo.conftest import CUSTOMER, message


def test_delivery_events_map_to_sent_then_delivered(provider, sandbox, receiver):
    # given a message sent with our callback (Brevo's webUrl, with Basic credentials)
    accepted = provider.send(message(receiver, reference="order-1001-shipped"))
    # when Brevo reports it
    sandbox.deliver_pending()
    posted = receiver.wait_for(2)
    # then each event is authenticated and reads as sent then delivered, with our reference
    assert all(provider.verify(r) for r in posted)
    updates = [u for r in posted for u in provider.parse_status(r)]
    assert [(u.provider_id, u.status) for u in updates] == [
        (accepted.provider_id, Status.SENT), (accepted.provider_id, Status.DELIVERED)]
    assert {u.reference for u in updates} == {"order-1001-shipped"} and updates[0].to == CUSTOMER


def test_a_blacklisted_number_is_blocked_as_opted_out(provider, sandbox, receiver):
    sandbox.blacklist(CUSTOMER)
    provider.send(message(receiver))
    sandbox.deliver_pending()
    [update] = provider.parse_status(receiver.wait_for(1)[0])
    assert update.status is Status.FAILED and update.error is Refusal.OPTED_OUT


def test_a_number_that_does_not_exist_hard_bounces_as_invalid(provider, sandbox, receiver):
    sandbox.unknown_number(CUSTOMER)
    provider.send(message(receiver))
    sandbox.deliver_pending()
    updates = [u for r in receiver.wait_for(2) for u in provider.parse_status(r)]
    assert updates[-1].status is Status.UNDELIVERED and updates[-1].error is Refusal.INVALID_NUMBER


def test_a_stop_reply_is_read_as_a_reply_and_an_opt_out(provider, sandbox, receiver):
    # given a customer who got our message answers STOP
    provider.send(message(receiver))
    sandbox.send_reply(CUSTOMER, "STOP")
    reply, unsubscription = receiver.wait_for(2)
    # then the reply carries the text, the unsubscription says opt-out, neither is a status
    assert provider.verify(reply) and provider.verify(unsubscription)
    read = provider.parse_inbound(reply)
    assert (read.from_, read.text, read.opt_out) == (CUSTOMER, "STOP", False)
    assert provider.parse_inbound(unsubscription).opt_out
    assert provider.parse_status(reply) == [] and provider.parse_status(unsubscription) == []
    # and a later message to that number is blocked
    provider.send(message(receiver))
    sandbox.deliver_pending()
    assert provider.parse_status(receiver.wait_for(5)[-1])[0].error is Refusal.OPTED_OUT


def test_the_account_webhook_uses_its_bearer_token(client, sandbox, receiver):
    # given the SMS webhook registered at install time, with a token Parlons made
    registered = install.register_sms_webhook(client, f"{receiver.url}/webhooks/brevo/sms")
    provider = BrevoProvider(client, webhook_token=registered["token"])
    # when a message sent without its own callback is delivered
    provider.send(message())
    sandbox.deliver_pending()
    posted = receiver.wait_for(2)
    # then the events come to the webhook, carrying the token
    assert [provider.parse_status(r)[0].status for r in posted] == [Status.SENT, Status.DELIVERED]
    assert all(provider.verify(r) for r in posted)
    assert not BrevoProvider(client, webhook_token="another-token").verify(posted[0])


@pytest.mark.parametrize("authorization", [None, "Basic cGFybG9uczp3cm9uZw==", "Bearer guess"])
def test_unauthenticated_webhooks_are_refused(provider, sandbox, receiver, authorization):
    provider.send(message(receiver))
    sandbox.deliver_pending()
    genuine = receiver.wait_for(1)[0]
    headers = {k: v for k, v in genuine.headers.items() if k.lower() != "authorization"}
    if authorization:
        headers["Authorization"] = authorization
    assert not provider.verify(dataclasses.replace(genuine, headers=headers))


def test_a_provider_without_webhook_credentials_trusts_nothing(client, sandbox, receiver):
    provider = BrevoProvider(client)
    provider.send(message(receiver))
    sandbox.deliver_pending()
    assert not provider.verify(receiver.wait_for(1)[0])


def test_install_reads_the_account(client, sandbox):
    assert install.verify_credentials(client)["email"] == "boutique@parlons.example"


def test_an_unreadable_event_is_a_clear_error(provider, receiver, sandbox):
    provider.send(message(receiver))
    sandbox.deliver_pending()
    genuine = receiver.wait_for(1)[0]
    with pytest.raises(WebhookError, match="msg_status"):
        provider.parse_status(dataclasses.replace(genuine, body=b'{"to": "336", "messageId": 1}'))
