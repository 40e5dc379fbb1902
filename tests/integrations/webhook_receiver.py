"""Our side of provider webhooks in tests: a served app that keeps every request it gets, as
the provider protocol's `WebhookRequest`, and one server per session whose app each test swaps."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from flask import Flask, request

from integrations.sms import WebhookRequest


class Swappable:
    """A WSGI app whose target each test replaces (stopping a server takes its poll interval)."""

    def __init__(self) -> None:
        self.target = None

    def __call__(self, environ, start_response):
        return self.target(environ, start_response)


@dataclass
class Receiver:
    url: str = ""
    requests: list[WebhookRequest] = field(default_factory=list)
    answer: int = 204

    def wait_for(self, count: int, timeout: float = 5.0) -> list[WebhookRequest]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.requests)

    def app(self) -> Flask:
        app = Flask("receiver")
        lock = threading.Lock()

        @app.post("/<path:path>")
        def webhook(path):
            with lock:
                self.requests.append(WebhookRequest(
                    url=request.url, headers=dict(request.headers), body=request.get_data(),
                    form=request.form.to_dict()))
            return "", self.answer

        return app
