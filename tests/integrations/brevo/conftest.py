"""A Brevo sandbox served over HTTP, the official SDK pointed at it by its `base_url`, and a
receiving app for the SMS events it posts."""

from __future__ import annotations

import pytest

from integrations.brevo.client import BrevoClient
from integrations.brevo.provider import BrevoProvider
from integrations.brevo.sandbox import BrevoSandbox
from integrations.serving import serve
from integrations.sms import OutboundSms, Sender, SenderKind
from tests.integrations.webhook_receiver import Receiver, Swappable

API_KEY = "xkeysib-sandbox-0123456789abcdef"
BASIC = ("parlons", "webhook-password-0123")
SENDER = Sender(SenderKind.ALPHANUMERIC, "PARLONS")
CUSTOMER = "+33612345678"


@pytest.fixture(scope="session")
def _sandbox_server():
    app = Swappable()
    running = serve(app)
    yield app, running.url
    running.stop()


@pytest.fixture(scope="session")
def _receiver_server():
    app = Swappable()
    running = serve(app)
    yield app, running.url
    running.stop()


@pytest.fixture
def receiver(_receiver_server) -> Receiver:
    receiver = Receiver(url=_receiver_server[1])
    _receiver_server[0].target = receiver.app()
    return receiver


@pytest.fixture
def sandbox(_sandbox_server):
    sandbox = BrevoSandbox(API_KEY)
    _sandbox_server[0].target = sandbox.app
    yield sandbox
    sandbox.close()


@pytest.fixture
def base_url(sandbox, _sandbox_server) -> str:
    return f"{_sandbox_server[1]}/v3"


@pytest.fixture
def client(base_url) -> BrevoClient:
    return BrevoClient(API_KEY, base_url=base_url, timeout=0.5)


@pytest.fixture
def provider(client) -> BrevoProvider:
    return BrevoProvider(client, webhook_basic=BASIC)


def message(receiver: Receiver | None = None, text: str = "Bonjour Camille, votre colis arrive demain",
            to: str = CUSTOMER, reference: str = "msg-1", **extra) -> OutboundSms:
    callback = f"{receiver.url}/webhooks/brevo/sms" if receiver else None
    return OutboundSms(to=to, body=text, sender=SENDER, reference=reference,
                       status_callback=callback, **extra)
