"""A served Twilio sandbox, the official client pointed at it, and a receiving app."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest
from flask import Flask, request

from integrations.retry import RetryPolicy
from integrations.serving import serve
from integrations.twilio.client import TwilioClient
from integrations.twilio.sandbox import TwilioSandbox
from integrations.twilio.webhooks import SIGNATURE_HEADER, public_url, verify_signature

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "sandbox-auth-token-0123456789ab"
SENDER = "+33757000001"
FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)


@dataclass
class Received:
    path: str
    form: dict[str, str]
    headers: dict[str, str]
    valid: bool
    valid_as_seen: bool


@dataclass
class Receiver:
    """Our side of the webhooks: checks each signature against the URL Twilio called."""

    url: str = ""
    posts: list[Received] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.posts)


def receiving_app(receiver: Receiver, auth_token: str = AUTH_TOKEN) -> Flask:
    app = Flask("receiver")
    lock = threading.Lock()

    @app.post("/<path:path>")
    def webhook(path):
        signature = request.headers.get(SIGNATURE_HEADER)
        valid = verify_signature(public_url(request.url, request.headers), request.form,
                                 signature, auth_token)
        with lock:
            receiver.posts.append(Received(
                path="/" + path,
                form=request.form.to_dict(),
                headers=dict(request.headers),
                valid=valid,
                valid_as_seen=verify_signature(request.url, request.form, signature, auth_token),
            ))
        return ("", 204) if valid else ("bad signature", 403)

    return app


class Swappable:
    """A WSGI app whose target each test replaces: one server per session, fresh state per test
    (stopping a server takes its half-second poll interval)."""

    def __init__(self) -> None:
        self.target = None

    def __call__(self, environ, start_response):
        return self.target(environ, start_response)


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
def sandbox(_sandbox_server):
    sandbox = TwilioSandbox(ACCOUNT_SID, AUTH_TOKEN)
    _sandbox_server[0].target = sandbox.app
    yield sandbox
    sandbox.close()


@pytest.fixture
def sandbox_url(sandbox, _sandbox_server) -> str:
    return _sandbox_server[1]


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the client asked for between attempts (recorded instead of slept)."""
    return []


@pytest.fixture
def client(sandbox_url, sleeps) -> TwilioClient:
    return TwilioClient(ACCOUNT_SID, AUTH_TOKEN, from_number=SENDER, base_url=sandbox_url,
                        retry_policy=FAST, sleep=sleeps.append)


@pytest.fixture
def receiver(_receiver_server) -> Receiver:
    receiver = Receiver(url=_receiver_server[1])
    _receiver_server[0].target = receiving_app(receiver)
    return receiver
