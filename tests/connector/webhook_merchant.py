"""A merchant's webhook receiver, served over real HTTP: it checks each delivery's signature as
the README tells merchants to, and answers what the test scripts (503 twice, then 200…)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field

from flask import Flask, request

from integrations.serving import RunningServer, serve


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> bool:
    """The README's verification: HMAC-SHA256 over "<timestamp>.<body>", a recent timestamp."""
    timestamp = headers.get("Parlons-Webhook-Timestamp", "")
    signature = headers.get("Parlons-Webhook-Signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, f"v1={expected}")


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Merchant:
    """Answers `script` in order (then `answer`), and keeps what it received."""

    script: list[int] = field(default_factory=list)
    answer: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    server: RunningServer | None = None

    @property
    def url(self) -> str:
        return f"{self.server.url}/hooks/parlons"

    def start(self) -> Merchant:
        app = Flask("merchant")
        lock = threading.Lock()

        @app.post("/hooks/parlons")
        def hook():  # noqa: ANN202
            with lock:
                self.received.append(Received(dict(request.headers), request.get_data()))
                status = self.script.pop(0) if self.script else self.answer
            return {"ok": status < 300}, status, self.headers

        self.server = serve(app)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def events(self, secret: str) -> list[dict]:
        """The events received with a valid signature, in order."""
        return [r.event for r in self.received if verify(secret, r.headers, r.body)]
