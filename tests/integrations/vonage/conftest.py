"""A Vonage sandbox served over HTTPS, the official SDK pointed at it by its host options, and a
receiving app for the webhooks it posts."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from integrations.local_tls import local_certificate, serve_tls
from integrations.serving import serve
from integrations.sms import OutboundSms, Sender, SenderKind
from integrations.vonage.client import VonageClient
from integrations.vonage.provider import VonageProvider
from integrations.vonage.sandbox import VonageSandbox
from tests.integrations.webhook_receiver import Receiver, Swappable

API_KEY = "a1b2c3d4"
API_SECRET = "sandbox-api-secret"
APPLICATION_ID = "6f5e4d3c-2b1a-4098-8765-43210fedcba9"
SIGNATURE_SECRET = "sandbox-signature-secret-0123456789abcdef"
SENDER = Sender(SenderKind.NUMBER, "+33757000001")
CUSTOMER = "+33612345678"


@pytest.fixture(scope="session")
def keys() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@pytest.fixture(scope="session")
def _sandbox_server():
    app = Swappable()
    running = serve_tls(app)
    yield app, f"127.0.0.1:{running.server.server_port}"
    running.stop()


@pytest.fixture(scope="session")
def _receiver_server():
    app = Swappable()
    running = serve(app)
    yield app, running.url
    running.stop()


@pytest.fixture(autouse=True)
def _trust_the_sandbox(monkeypatch):
    # requests' documented way to trust a certificate authority: the sandbox's own certificate
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", local_certificate().cert_file)


@pytest.fixture
def receiver(_receiver_server) -> Receiver:
    receiver = Receiver(url=_receiver_server[1])
    _receiver_server[0].target = receiver.app()
    return receiver


@pytest.fixture
def sandbox(_sandbox_server, keys, receiver):
    sandbox = VonageSandbox(api_key=API_KEY, api_secret=API_SECRET, application_id=APPLICATION_ID,
                            public_key=keys[1], signature_secret=SIGNATURE_SECRET,
                            status_url=f"{receiver.url}/webhooks/vonage/status",
                            inbound_url=f"{receiver.url}/webhooks/vonage/inbound")
    _sandbox_server[0].target = sandbox.app
    yield sandbox
    sandbox.close()


@pytest.fixture
def host(sandbox, _sandbox_server) -> str:
    return _sandbox_server[1]


@pytest.fixture
def client(host, keys) -> VonageClient:
    return VonageClient(api_key=API_KEY, api_secret=API_SECRET, application_id=APPLICATION_ID,
                        private_key=keys[0], api_host=host, timeout=1)


@pytest.fixture
def provider(client) -> VonageProvider:
    return VonageProvider(client, SIGNATURE_SECRET)


def message(text: str = "Bonjour Camille, votre commande est en route", to: str = CUSTOMER,
            reference: str = "msg-1", **extra) -> OutboundSms:
    return OutboundSms(to=to, body=text, sender=SENDER, reference=reference, **extra)
