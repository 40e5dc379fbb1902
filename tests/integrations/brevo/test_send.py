"""Sending through the official Brevo SDK against the served sandbox, with every outcome."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.brevo.client import BrevoClient
from integrations.brevo.provider import BrevoProvider
from integrations.sandbox_faults import FaultMode
from integrations.sms import Accepted, Refusal, Refused, Unknown
from tests.integrations.brevo.conftest import CUSTOMER, message


def test_send_is_accepted_with_our_reference_as_its_tag(provider, sandbox):
    # given a reachable customer  # when we send
    outcome = provider.send(message(reference="order-1001-shipped"))
    # then Brevo accepted it, counted its parts, and the phone got it once under our tag
    assert isinstance(outcome, Accepted) and outcome.segments == 1
    [sent] = sandbox.inbox(CUSTOMER)
    assert str(sent.message_id) == outcome.provider_id and sent.tags == ("order-1001-shipped",)
    assert sent.sender == "PARLONS" and sandbox.ledger.duplicates == 0


@pytest.mark.parametrize("number", ["12345", "+33 6 12 34 56 78", "bonjour"])
def test_a_recipient_brevo_refuses_is_an_invalid_number(provider, sandbox, number):
    outcome = provider.send(message(to=number))
    assert isinstance(outcome, Refused) and outcome.reason is Refusal.INVALID_NUMBER
    assert sandbox.messages() == []


def test_a_bad_api_key_is_unauthorized(base_url, sandbox):
    outcome = BrevoProvider(BrevoClient("xkeysib-wrong", base_url=base_url)).send(message())
    assert isinstance(outcome, Refused) and outcome.reason is Refusal.UNAUTHORIZED
    assert sandbox.messages() == []


def test_a_429_is_rate_limited_with_the_wait_brevo_gives(provider, sandbox):
    # given Brevo throttles the endpoint  # when we send
    sandbox.throttle_next(1)
    outcome = provider.send(message())
    # then the wait comes from x-sib-ratelimit-reset and nothing was sent (the SDK did not retry)
    assert isinstance(outcome, Refused) and outcome.reason is Refusal.RATE_LIMITED
    assert outcome.retry_after == 1.0 and outcome.may_retry and sandbox.messages() == []


@pytest.mark.parametrize("mode", [FaultMode.ACCEPT_THEN_TIMEOUT, FaultMode.ACCEPT_THEN_5XX])
def test_an_accepted_send_without_answer_is_unknown_then_found(provider, sandbox, mode):
    # given Brevo takes the SMS but its answer is lost
    before = datetime.now(UTC)
    sandbox.faults.next(1, mode, seconds=2)
    # when we send
    outcome = provider.send(message(reference="flash-7-contact-42"))
    # then it is unknown, sent once (the SDK's own retries are off), and the events report finds it
    assert isinstance(outcome, Unknown) and len(sandbox.inbox(CUSTOMER)) == 1
    found = provider.find(message(reference="flash-7-contact-42"), before)
    assert found is not None and found.provider_id == str(sandbox.messages()[0].message_id)
    assert provider.find(message(reference="another-message"), before) is None


def test_a_5xx_before_accepting_is_unknown_and_not_found(provider, sandbox):
    before = datetime.now(UTC)
    sandbox.faults.next(1, FaultMode.FAIL, status=502)
    assert isinstance(provider.send(message(reference="m-9")), Unknown)
    assert provider.find(message(reference="m-9"), before) is None and sandbox.ledger.accepted == 0


def test_brevo_says_what_it_cannot_do(provider, sandbox):
    # given Brevo has no MMS  # when asked to send an image  # then it is refused, not dropped silently
    outcome = provider.send(message(media_urls=("https://shop.example/p.jpg",)))
    assert isinstance(outcome, Refused) and outcome.reason is Refusal.REJECTED_CONTENT
    assert not provider.capabilities.mms and not provider.capabilities.rcs
    assert sandbox.messages() == []
