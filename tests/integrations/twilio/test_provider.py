"""Twilio through the SMS provider protocol, against the served sandbox."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from twilio.request_validator import RequestValidator

from integrations.sms import (
    Accepted,
    OutboundSms,
    Refusal,
    Refused,
    Sender,
    SenderKind,
    Status,
    Unknown,
    WebhookRequest,
)
from integrations.twilio.provider import TwilioProvider
from tests.integrations.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, FAST, SENDER

CUSTOMER = "+33612345678"
CALLBACK = "https://parlons.example/webhooks/twilio/status"


@pytest.fixture
def provider(sandbox, sandbox_url, sleeps) -> TwilioProvider:
    return TwilioProvider(ACCOUNT_SID, AUTH_TOKEN, base_url=sandbox_url, retry_policy=FAST,
                          sleep=sleeps.append)


def message(text="Bonjour, votre commande est en route", to=CUSTOMER, reference="msg-1"):
    return OutboundSms(to=to, body=text, sender=Sender(SenderKind.NUMBER, SENDER),
                       reference=reference)


def signed(form: dict[str, str], url: str = CALLBACK) -> WebhookRequest:
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, form)
    return WebhookRequest(url, {"X-Twilio-Signature": signature}, form=form)


def test_send_is_accepted(provider, sandbox):
    outcome = provider.send(message())
    assert isinstance(outcome, Accepted) and outcome.segments == 1
    assert [m["sid"] for m in sandbox.inbox(CUSTOMER)] == [outcome.provider_id]


def test_opted_out_and_invalid_numbers_are_refused_with_their_reasons(provider, sandbox):
    sandbox.opt_out(CUSTOMER)
    opted_out = provider.send(message())
    invalid = provider.send(message(to="0612345678"))
    assert isinstance(opted_out, Refused) and opted_out.reason is Refusal.OPTED_OUT
    assert opted_out.code == "21610" and not opted_out.may_retry
    assert isinstance(invalid, Refused) and invalid.reason is Refusal.INVALID_NUMBER


def test_a_persistent_429_is_rate_limited(provider, sandbox):
    sandbox.fail_next(10, status=429)
    outcome = provider.send(message())
    assert isinstance(outcome, Refused) and outcome.reason is Refusal.RATE_LIMITED and outcome.may_retry


def test_a_lost_answer_is_unknown_and_find_finds_the_message(provider, sandbox, sleeps):
    # given Twilio created the message and answered 500
    before = datetime.now(UTC)
    sandbox.fail_next(1, status=500, after_create=True)
    outcome = provider.send(message(reference="flash-7-contact-42"))
    # then it is unknown, never resent, and the Messages list finds it by To, From and body
    assert isinstance(outcome, Unknown) and sleeps == []
    [sent] = sandbox.inbox(CUSTOMER)
    found = provider.find(message(reference="flash-7-contact-42"), before)
    assert found is not None and found.provider_id == sent["sid"] and found.status is Status.QUEUED
    assert provider.find(message(text="un autre texte"), before) is None


@pytest.mark.parametrize(("twilio_status", "ours"), [
    ("queued", Status.QUEUED), ("sent", Status.SENT), ("delivered", Status.DELIVERED),
    ("undelivered", Status.UNDELIVERED), ("failed", Status.FAILED),
    ("partially_delivered", Status.PARTIALLY_DELIVERED)])
def test_status_callbacks_map_to_the_one_enum(provider, twilio_status, ours):
    form = {"MessageSid": "SM" + "1" * 32, "MessageStatus": twilio_status, "To": CUSTOMER,
            "From": SENDER, "AccountSid": ACCOUNT_SID}
    request = signed(form)
    assert provider.verify(request)
    [update] = provider.parse_status(request)
    assert (update.status, update.provider_status) == (ours, twilio_status)


def test_a_carrier_opt_out_error_in_a_callback_names_the_reason(provider):
    form = {"MessageSid": "SM" + "2" * 32, "MessageStatus": "failed", "ErrorCode": "21610",
            "To": CUSTOMER, "From": SENDER}
    [update] = provider.parse_status(signed(form))
    assert update.error is Refusal.OPTED_OUT and update.error_code == "21610"


def test_inbound_stop_is_read_and_a_forged_one_refused(provider):
    form = {"MessageSid": "SM" + "3" * 32, "From": CUSTOMER, "To": SENDER, "Body": "STOP",
            "NumMedia": "0", "OptOutType": "STOP", "AccountSid": ACCOUNT_SID}
    request = signed(form, "https://parlons.example/webhooks/twilio/inbound")
    assert provider.verify(request)
    inbound = provider.parse_inbound(request)
    assert (inbound.from_, inbound.text, inbound.opt_out) == (CUSTOMER, "STOP", True)
    forged = dataclasses.replace(request, form={**form, "Body": "START"})
    assert not provider.verify(forged)
    assert not provider.verify(dataclasses.replace(request, headers={}))
