"""Answers a scenario flags for the merchant (a visit cancelled, a slot booked) reach the
merchant's own webhook, signed; without one they stay in the admin, and say so."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from flask import Flask, request

from automations.models import Contact, OutboundWrite, Shop
from connector.worker.crm import write_pending
from integrations.serving import serve


@pytest.fixture
def receiver():
    app = Flask("merchant")
    app.received = []
    app.fail = [0]

    @app.post("/hook")
    def hook():
        if app.fail[0]:
            app.fail[0] -= 1
            return "busy", 503
        app.received.append((request.get_data(), dict(request.headers)))
        return "", 204

    server = serve(app)
    yield app, server.url
    server.stop()


def _write(db, settings: dict) -> int:
    with db.transaction() as s:
        shop = Shop(domain="agence.myshopify.com", name="Agence", settings=settings)
        s.add(shop)
        s.flush()
        contact = Contact(shop_id=shop.id, phone_e164="+33612345678")
        s.add(contact)
        s.flush()
        row = OutboundWrite(shop_id=shop.id, contact_id=contact.id, target="shop_webhook",
                            action="visit_cancelled", key="shop_webhook:1",
                            payload={"conversation_id": 7, "answer": "non", "reply": "NON"})
        s.add(row)
        s.flush()
        return row.id


def test_the_merchant_webhook_gets_the_answer_signed(app, receiver):
    merchant, url = receiver
    runtime = app.extensions["parlons"]
    row_id = _write(runtime.db, {"webhook_url": f"{url}/hook", "webhook_secret": "s3cret"})
    merchant.fail[0] = 1  # the first try meets a busy server
    write_pending(runtime)
    with runtime.db.session() as s:
        row = s.get(OutboundWrite, row_id)
        assert row.status == "pending" and "503" in row.last_error
        row.updated_at = row.updated_at.replace(year=2000)  # its backoff has passed
        s.commit()
    write_pending(runtime)
    [(body, headers)] = merchant.received
    expected = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    assert headers["X-Parlons-Hmac-Sha256"] == expected
    assert json.loads(body) == {"event": "visit_cancelled", "shop": "agence.myshopify.com",
                                "conversation_id": 7, "answer": "non", "reply": "NON"}
    with runtime.db.session() as s:
        assert s.get(OutboundWrite, row_id).status == "done"


def test_without_a_webhook_url_the_notification_is_skipped_with_its_reason(app):
    runtime = app.extensions["parlons"]
    row_id = _write(runtime.db, {})
    write_pending(runtime)
    with runtime.db.session() as s:
        row = s.get(OutboundWrite, row_id)
    assert row.status == "skipped"
    assert "webhook_url" in row.last_error
