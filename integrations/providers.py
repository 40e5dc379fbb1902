"""The SMS providers Parlons can send through: one line each, name -> its package's factory.

Adding a provider is one package under `integrations/` (client, webhooks, schemas, install,
sandbox, and a `provider.py` implementing `integrations.sms.SmsProvider`) and one line here.
"""

from __future__ import annotations

from collections.abc import Callable

from integrations.brevo import provider as brevo
from integrations.sms import Capabilities, SmsProvider
from integrations.twilio import provider as twilio
from integrations.vonage import provider as vonage

PROVIDERS: dict[str, tuple[Callable[..., SmsProvider], Capabilities]] = {
    "twilio": (twilio.create, twilio.CAPABILITIES),
    "vonage": (vonage.create, vonage.CAPABILITIES),
    "brevo": (brevo.create, brevo.CAPABILITIES),
}


class UnknownProvider(KeyError):
    """No provider of that name."""


def _entry(name: str) -> tuple[Callable[..., SmsProvider], Capabilities]:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise UnknownProvider(f"unknown SMS provider {name!r}; one of {', '.join(PROVIDERS)}") from None


def create(name: str, **settings) -> SmsProvider:
    """The provider `name` built from its settings (credentials, base URL for a sandbox...)."""
    return _entry(name)[0](**settings)


def capabilities(name: str) -> Capabilities:
    return _entry(name)[1]
