"""The provider protocol as a developer adding or choosing a provider sees it: the registry,
honest capabilities, and the sandboxes' fault switches and duplicate counts."""

from __future__ import annotations

from collections import Counter

import pytest

from integrations import providers
from integrations.sandbox_faults import FaultMode, Faults, SendLedger
from integrations.sms import SenderKind, SmsProvider


def test_the_registry_lists_the_three_providers():
    assert sorted(providers.PROVIDERS) == ["brevo", "twilio", "vonage"]


@pytest.mark.parametrize(("name", "settings"), [
    ("twilio", {"account_sid": "AC" + "0" * 32, "auth_token": "token"}),
    ("vonage", {"api_key": "a1b2c3d4", "api_secret": "s", "application_id": "app",
                "private_key": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----",
                "signature_secret": "sig"}),
    ("brevo", {"api_key": "xkeysib-1", "webhook_token": "t"}),
])
def test_each_provider_is_built_from_its_settings_and_speaks_the_protocol(name, settings):
    provider = providers.create(name, **settings)
    assert isinstance(provider, SmsProvider) and provider.name == name
    assert provider.capabilities is providers.capabilities(name)


def test_an_unknown_provider_is_a_clear_error():
    with pytest.raises(providers.UnknownProvider, match="one of twilio, vonage, brevo"):
        providers.create("sendinblue")


def test_capabilities_say_what_each_provider_can_do():
    twilio, vonage, brevo = (providers.capabilities(n) for n in ("twilio", "vonage", "brevo"))
    assert twilio.mms and twilio.rcs and vonage.mms and vonage.rcs
    assert not brevo.mms and not brevo.rcs
    assert all(c.alphanumeric_sender and c.can_find for c in (twilio, vonage, brevo))
    # default messages per second per sender type and country, as each provider documents them
    assert twilio.mps(SenderKind.SHORT_CODE, "US") == 100 and twilio.mps(SenderKind.NUMBER, "US") == 1
    assert twilio.mps(SenderKind.NUMBER, "FR") == 10
    assert vonage.account_mps == 30 and brevo.account_mps == 150
    assert brevo.mps(SenderKind.ALPHANUMERIC, "FR") is None


def test_faults_play_the_next_n_first_then_a_reproducible_rate():
    faults = Faults(seed=7)
    faults.next(2, FaultMode.ACCEPT_THEN_5XX, status=503)
    faults.rate(0.05, FaultMode.ACCEPT_THEN_TIMEOUT)
    first = [faults.draw() for _ in range(2)]
    assert [(f.mode, f.status) for f in first] == [(FaultMode.ACCEPT_THEN_5XX, 503)] * 2
    drawn = Counter(f.mode if f else None for f in (faults.draw() for _ in range(2000)))
    assert 60 <= drawn[FaultMode.ACCEPT_THEN_TIMEOUT] <= 140
    again = Faults(seed=7)
    again.next(2, FaultMode.ACCEPT_THEN_5XX, status=503)
    again.rate(0.05, FaultMode.ACCEPT_THEN_TIMEOUT)
    [again.draw() for _ in range(2)]
    assert Counter(f.mode if f else None for f in (again.draw() for _ in range(2000))) == drawn


def test_faults_refuse_settings_that_make_no_sense():
    with pytest.raises(ValueError):
        Faults().rate(1.5, FaultMode.FAIL)
    with pytest.raises(ValueError):
        Faults().next(1, FaultMode.FAIL, status=429)


def test_the_ledger_counts_duplicates_per_phone_and_text():
    ledger = SendLedger()
    for to, body in [("336", "a"), ("336", "a"), ("336", "b"), ("337", "a"), ("336", "a")]:
        ledger.record(to, body)
    assert (ledger.accepted, ledger.duplicates, ledger.count("336", "a")) == (5, 2, 3)
