"""Sending through the official library against the served sandbox."""

from __future__ import annotations

import re
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest

from integrations.errors import ApiError, RateLimited, Unauthorized
from integrations.outcome import OutcomeUnknown
from integrations.twilio.client import InvalidNumber, OptedOut, TwilioClient
from tests.integrations.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, FAST, SENDER

CUSTOMER = "+33612345678"


def test_send_queues_the_message_and_the_phone_receives_it(client, sandbox):
    # given a configured client and a reachable customer
    # when we send a short French SMS
    result = client.send(CUSTOMER, "Bonjour Émile, votre commande est expédiée. STOP au 36180")

    # then Twilio answers with a queued message resource
    assert re.fullmatch(r"SM[0-9a-f]{32}", result.sid)
    assert result.status == "queued"
    assert result.segments == 1
    assert result.price is None and result.error_code is None
    # and the customer's phone has it, from our sender
    inbox = sandbox.inbox(CUSTOMER)
    assert [(m["sid"], m["from"], m["body"]) for m in inbox] == [
        (result.sid, SENDER, "Bonjour Émile, votre commande est expédiée. STOP au 36180")
    ]


@pytest.mark.parametrize(
    ("body", "segments"),
    [("a" * 160, 1), ("a" * 161, 2), ("€" * 80, 1), ("€" * 81, 2), ("ç" * 70, 1), ("ç" * 71, 2)],
)
def test_segments_follow_the_encoding(client, body, segments):
    # given a body in GSM-7 (€ costs two) or in UCS-2 (ç is not GSM-7)
    # when it is sent
    result = client.send(CUSTOMER, body)
    # then the reported segment count is the one the customer is billed for
    assert result.segments == segments


def test_messaging_service_picks_a_sender_from_the_account(sandbox, sandbox_url):
    # given a client sending through a messaging service, and a number on the account
    sandbox.add_number("+33757000009")
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, messaging_service_sid="MG" + "1" * 32,
                          base_url=sandbox_url, retry_policy=FAST)
    # when it sends
    result = client.send(CUSTOMER, "Hello")
    # then the message goes out from the service's number
    assert client.fetch(result.sid)["from_"] == "+33757000009"
    assert client.fetch(result.sid)["messaging_service_sid"] == "MG" + "1" * 32


def test_opted_out_recipient_raises_opted_out_and_is_not_retried(client, sandbox, sleeps):
    # given a customer who replied STOP to our number
    sandbox.opt_out(CUSTOMER)
    # when we try to send
    with pytest.raises(OptedOut) as caught:
        client.send(CUSTOMER, "Promo -20%")
    # then the error says why, is final, and nothing reached the phone
    assert caught.value.code == "21610" and caught.value.status == 400
    assert not caught.value.retryable and sleeps == []
    assert sandbox.inbox(CUSTOMER) == []


@pytest.mark.parametrize("number", ["0612345678", "+33 6 12 34 56 78", "+1", "hello"])
def test_invalid_number_raises_invalid_number(client, sandbox, number):
    # given a number that is not E.164
    # when we send to it
    with pytest.raises(InvalidNumber) as caught:
        client.send(number, "Bonjour")
    # then Twilio's 21211 becomes InvalidNumber, never retried
    assert caught.value.code == "21211" and not caught.value.retryable
    assert sandbox.messages() == []


def test_rate_limited_send_is_retried_then_succeeds(client, sandbox, sleeps):
    # given Twilio answers 429 (it did not take the message) to the next two requests
    sandbox.fail_next(2, status=429)
    # when we send
    result = client.send(CUSTOMER, "Votre colis arrive demain")
    # then the third attempt succeeds after two waits, and exactly one SMS went out
    assert result.status == "queued" and len(sleeps) == 2
    assert [m["sid"] for m in sandbox.inbox(CUSTOMER)] == [result.sid]


def test_rate_limit_that_persists_raises_rate_limited(client, sandbox, sleeps):
    # given Twilio keeps answering 429 (error 20429)
    sandbox.fail_next(10, status=429)
    # when we send
    with pytest.raises(RateLimited) as caught:
        client.send(CUSTOMER, "Bonjour")
    # then after the policy's attempts we get RateLimited, still marked retryable for later
    assert caught.value.code == "20429" and caught.value.retryable
    assert len(sleeps) == FAST.attempts - 1 and sandbox.messages() == []


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_on_a_send_is_an_unknown_outcome_never_retried(client, sandbox, sleeps, status):
    # given Twilio creates the message but answers a 5xx (its answer is lost)
    sandbox.fail_next(1, status=status, after_create=True)
    # when we send
    with pytest.raises(OutcomeUnknown) as caught:
        client.send(CUSTOMER, "Votre code: 4242")
    # then the client says the outcome is unknown, does not try again, and the phone has one SMS
    assert caught.value.status == status and not caught.value.retryable and sleeps == []
    assert len(sandbox.inbox(CUSTOMER)) == 1


def test_timeout_after_sending_is_an_unknown_outcome_and_find_sent_settles_it(sandbox, sandbox_url):
    # given a client with a short timeout and Twilio answering too late (the message is created)
    before = datetime.now(UTC) - timedelta(seconds=1)
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, from_number=SENDER, base_url=sandbox_url,
                          timeout=0.2, retry_policy=FAST)
    sandbox.stall_next(1, seconds=0.6)
    # when we send
    with pytest.raises(OutcomeUnknown):
        client.send(CUSTOMER, "Rappel: rendez-vous demain 10h")
    # then nothing was sent a second time, and the Messages list finds the one that went out
    time.sleep(0.5)
    [sent] = sandbox.inbox(CUSTOMER)
    found = client.find_sent(CUSTOMER, "Rappel: rendez-vous demain 10h", before)
    assert [m["sid"] for m in found] == [sent["sid"]]
    assert client.find_sent(CUSTOMER, "another text", before) == []


def test_the_same_send_twice_is_two_sms(client, sandbox):
    # given a message already sent (Twilio documents no de-duplication of message creations)
    client.send(CUSTOMER, "Panier en attente", idempotency_key="cart-7-step-1")
    # when the same request is made again, even with the same key
    client.send(CUSTOMER, "Panier en attente", idempotency_key="cart-7-step-1")
    # then the phone gets it twice: only reconciling before resending prevents a duplicate
    assert len(sandbox.inbox(CUSTOMER)) == 2


def test_connection_refused_is_retried_because_nothing_was_sent(sleeps):
    # given no server at all on the address (the request can never leave)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, from_number=SENDER,
                          base_url=f"http://127.0.0.1:{port}", retry_policy=FAST, sleep=sleeps.append)
    # when we send
    with pytest.raises(ApiError) as caught:
        client.send(CUSTOMER, "Bonjour")
    # then every attempt was made (safe: none reached Twilio) and the error stays retryable
    assert not isinstance(caught.value, OutcomeUnknown) and caught.value.retryable
    assert len(sleeps) == FAST.attempts - 1


def test_bad_credentials_raise_unauthorized_without_retry(sandbox_url, sandbox, sleeps):
    # given a wrong auth token
    client = TwilioClient(ACCOUNT_SID, "wrong-token", from_number=SENDER, base_url=sandbox_url,
                          retry_policy=FAST, sleep=sleeps.append)
    # when we send
    with pytest.raises(Unauthorized) as caught:
        client.send(CUSTOMER, "Bonjour")
    # then Twilio's 20003 becomes Unauthorized at once
    assert caught.value.status == 401 and caught.value.code == "20003" and sleeps == []
    assert sandbox.messages() == []


def test_fetch_reports_the_delivered_status(client, sandbox):
    # given a sent message whose delivery receipts came in
    result = client.send(CUSTOMER, "Bonjour")
    sandbox.deliver_pending()
    # when we fetch it
    message = client.fetch(result.sid)
    # then it is delivered, with its send date
    assert message["sid"] == result.sid and message["status"] == "delivered"
    assert message["date_sent"] is not None and message["to"] == CUSTOMER


def test_fetch_unknown_message_is_a_final_error(client):
    # given no such message  # when we fetch it  # then a 404 ApiError, not retried
    with pytest.raises(ApiError) as caught:
        client.fetch("SM" + "0" * 32)
    assert caught.value.status == 404 and not caught.value.retryable
