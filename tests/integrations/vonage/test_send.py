"""Sending through the official Vonage SDK against the served sandbox, with every outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from integrations.errors import ApiError
from integrations.sandbox_faults import FaultMode
from integrations.sms import Accepted, Refusal, Refused, Unknown
from integrations.vonage.client import VonageClient
from integrations.vonage.provider import VonageProvider
from tests.integrations.vonage.conftest import (
    API_KEY,
    API_SECRET,
    APPLICATION_ID,
    CUSTOMER,
    message,
)


def test_send_is_accepted_and_the_phone_has_it_with_our_reference(provider, sandbox):
    # given a reachable customer  # when we send
    outcome = provider.send(message(reference="order-1001-shipped"))
    # then Vonage accepted it under its own id, and the phone got it once, carrying our reference
    assert isinstance(outcome, Accepted)
    [sent] = sandbox.inbox(CUSTOMER)
    assert sent.message_uuid == outcome.provider_id and sent.client_ref == "order-1001-shipped"
    assert sent.from_ == "33757000001" and sent.channel == "sms"
    assert sandbox.ledger.count("33612345678", "Bonjour Camille, votre commande est en route") == 1


@pytest.mark.parametrize("number", ["0612345678", "+33 6 12 34 56 78", "+1", "bonjour"])
def test_a_number_vonage_cannot_take_is_refused_as_invalid(provider, sandbox, number):
    # given a number that is not E.164  # when we send to it
    outcome = provider.send(message(to=number))
    # then it is refused as an invalid number, and nothing was sent
    assert isinstance(outcome, Refused) and outcome.reason is Refusal.INVALID_NUMBER
    assert not outcome.may_retry and sandbox.messages() == []


def test_a_rate_limited_send_is_refused_and_may_be_retried_later(provider, sandbox):
    # given Vonage throttles the account (429)
    sandbox.throttle_next(1)
    # when we send
    outcome = provider.send(message())
    # then the refusal says so (Vonage documents no Retry-After) and nothing was accepted
    assert isinstance(outcome, Refused) and outcome.reason is Refusal.RATE_LIMITED
    assert outcome.may_retry and outcome.retry_after is None and sandbox.messages() == []


def test_wrong_private_key_is_unauthorized(host, sandbox):
    # given a client signing its JWT with a key that is not the application's
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    client = VonageClient(api_key=API_KEY, api_secret=API_SECRET, application_id=APPLICATION_ID,
                          private_key=other, api_host=host, timeout=1)
    # when we send  # then Vonage's 401 is an unauthorized refusal
    outcome = VonageProvider(client, "secret").send(message())
    assert isinstance(outcome, Refused) and outcome.reason is Refusal.UNAUTHORIZED
    assert sandbox.messages() == []


@pytest.mark.parametrize("mode", [FaultMode.ACCEPT_THEN_TIMEOUT, FaultMode.ACCEPT_THEN_5XX])
def test_an_accepted_send_without_answer_is_unknown_then_found(provider, sandbox, mode):
    # given Vonage accepts the message but its answer never comes back (timeout or 5xx)
    before = datetime.now(UTC)
    sandbox.faults.next(1, mode, seconds=3)
    # when we send
    outcome = provider.send(message(reference="flash-7-contact-42"))
    # then the outcome is unknown, the SDK sent it once, and find settles it from the Reports API
    assert isinstance(outcome, Unknown)
    [sent] = sandbox.inbox(CUSTOMER)
    found = provider.find(message(reference="flash-7-contact-42"), before)
    assert found is not None and found.provider_id == sent.message_uuid
    assert sandbox.ledger.duplicates == 0


def test_a_5xx_before_accepting_is_unknown_and_find_finds_nothing(provider, sandbox):
    # given Vonage fails the request without taking the message
    before = datetime.now(UTC)
    sandbox.faults.next(1, FaultMode.FAIL, status=503)
    # when we send  # then we cannot tell: unknown; find shows it was not taken, so it may be sent
    assert isinstance(provider.send(message(reference="m-9")), Unknown)
    assert provider.find(message(reference="m-9"), before) is None
    assert sandbox.ledger.accepted == 0


def test_find_reads_every_page_of_records(provider, sandbox):
    # given more messages than the Reports API returns in one answer
    before = datetime.now(UTC)
    sandbox.records_page_size = 2
    for index in range(5):
        assert isinstance(provider.send(message(reference=f"bulk-{index}", text=f"Promo {index}")), Accepted)
    # when we look the last one up  # then it is found on the third page
    found = provider.find(message(reference="bulk-4", text="Promo 4"), before)
    assert found is not None and found.provider_id == sandbox.messages()[-1].message_uuid


def test_reports_refuse_a_window_over_24_hours(client, sandbox):
    # given the Reports API's limit on synchronous queries  # when asked for 25 hours
    start = datetime.now(UTC) - timedelta(hours=25)
    with pytest.raises(ApiError) as caught:
        list(client.records(start, datetime.now(UTC)))
    # then it answers 422 as Vonage does
    assert caught.value.status == 422


def test_mms_goes_to_us_numbers_only(provider, sandbox):
    # given an image URL  # when sent to a US number, then to a French one
    us = provider.send(message(to="+14155550100", media_urls=("https://shop.example/p.jpg",)))
    fr = provider.send(message(media_urls=("https://shop.example/p.jpg",)))
    # then the US one is an MMS, the French one is refused for its content, not its number
    assert isinstance(us, Accepted) and sandbox.messages()[0].channel == "mms"
    assert isinstance(fr, Refused) and fr.reason is Refusal.REJECTED_CONTENT
