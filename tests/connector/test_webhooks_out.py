"""Outgoing webhooks: a merchant subscribes an endpoint through the API and receives signed events
from real flows (SMS sent and delivered, a reply, STOP, a handoff); failed deliveries are retried
with backoff for a day, logged, and replayable."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from automations import webhooks
from automations.models import WebhookDelivery, WebhookEvent, utcnow
from connector.worker.webhooks import deliver_due
from tests.connector.api_helpers import OPERATOR, bearer, new_key, seed_shop
from tests.connector.conftest import SHOP
from tests.connector.helpers import count
from tests.connector.webhook_merchant import Merchant, verify

A = "alpha.myshopify.com"
PHONE = "+33612345678"


@pytest.fixture
def merchant():
    receiver = Merchant().start()
    yield receiver
    receiver.stop()


def subscribe(client, headers: dict, url: str, events: list[str], **extra) -> dict:
    made = client.post("/api/v1/webhook-endpoints", headers=headers, json={"url": url, "events": events, **extra})
    assert made.status_code == 201, made.json
    return made.json


def test_a_merchant_receives_signed_events_from_real_flows(live, merchant):
    # given an endpoint subscribed through the API
    live.runtime.config.webhooks_allow_private = True
    client = live.app.test_client()
    endpoint = subscribe(client, OPERATOR, merchant.url, ["message.sent", "message.delivered", "reply.received",
                                                          "consent.changed", "conversation.handoff"], shop=SHOP)
    secret = endpoint["secret"]
    assert secret.startswith("whsec_")
    assert "secret" not in client.get(f"/api/v1/webhook-endpoints/{endpoint['id']}?shop={SHOP}",
                                      headers=OPERATOR).json
    # when a conversation starts (an SMS goes out and is delivered), the customer asks for a
    # person, and then texts STOP
    started = client.post("/api/v1/conversations", headers=OPERATOR, json={
        "shop": SHOP, "to": PHONE, "scenario": "visit_reminder",
        "variables": {"property": "le T3 rue Victor Hugo", "visit_time": "demain 10h"}})
    assert started.status_code == 201, started.json
    live.work()
    live.boxes.twilio.deliver_pending()
    live.work()
    for body in ("?", "je ne sais pas", "STOP"):
        assert live.boxes.twilio.send_inbound(PHONE, "+33757000001", body).status_code == 200
        live.work()
    # then every event arrived signed with the endpoint's secret, in the shape documented
    events = merchant.events(secret)
    assert len(events) == len(merchant.received)
    types = [e["type"] for e in events]
    assert {"message.sent", "message.delivered", "reply.received", "conversation.handoff",
            "consent.changed"} <= set(types), types
    sent = next(e for e in events if e["type"] == "message.sent")
    assert sent["shop"] == SHOP and sent["data"]["message"]["to"] == PHONE
    assert sent["data"]["message"]["id"] == started.json["message_id"]
    stop = next(e for e in events if e["type"] == "consent.changed")
    assert stop["data"]["consent"]["opted_out"] is True and stop["data"]["consent"]["source"] == "sms"
    replies = [e["data"]["message"]["body"] for e in events if e["type"] == "reply.received"]
    assert replies == ["?", "je ne sais pas", "STOP"]
    first = merchant.received[0]
    assert first.headers["Parlons-Event-Type"] == events[0]["type"]
    assert first.headers["Parlons-Webhook-Id"] == str(events[0]["id"])
    # and a delivery signed with another secret, or replayed an hour later, does not verify
    assert not verify("whsec_other", first.headers, first.body)
    late = {**first.headers, "Parlons-Webhook-Timestamp": str(int(first.headers["Parlons-Webhook-Timestamp"]) - 3600)}
    assert not verify(secret, late, first.body)


def emit_one(db, shop_id: int, type: str = "message.sent") -> int:
    with db.transaction() as s:
        event = webhooks.emit(s, shop_id, type, {"message": {"id": 1, "body": "Bonjour"}})
        assert event is not None
        s.flush()
        return s.scalar(sa.select(WebhookDelivery.id).where(WebhookDelivery.event_id == event.id))


@pytest.fixture
def alpha(app, merchant):
    app.extensions["parlons"].config.webhooks_allow_private = True
    db = app.extensions["parlons"].db
    seeded = seed_shop(db, A, "+33611111111", "Alice")
    return db, seeded, new_key(db, A)


def test_a_failing_endpoint_is_retried_with_backoff_until_it_answers(app, client, alpha, merchant):
    db, seeded, key = alpha
    endpoint = subscribe(client, bearer(key), merchant.url, ["message.sent"])
    runtime = app.extensions["parlons"]
    merchant.script = [503, 503]  # down twice, then 200
    delivery = emit_one(db, seeded.shop_id)
    t0 = utcnow()
    # when the worker tries, the endpoint answers 503: it is tried again 30 s later (±10 %)
    assert deliver_due(runtime, now=t0) == 1
    row = client.get(f"/api/v1/webhook-deliveries/{delivery}", headers=bearer(key)).json
    assert row["status"] == "pending" and row["last_status_code"] == 503
    wait = (_at(row["next_attempt_at"]) - t0).total_seconds()
    assert 27 <= wait <= 33
    assert deliver_due(runtime, now=t0 + timedelta(seconds=20)) == 0  # not before
    # then twice as long after the second failure, and delivered at the third try
    t1 = _at(row["next_attempt_at"])
    deliver_due(runtime, now=t1)
    row = client.get(f"/api/v1/webhook-deliveries/{delivery}", headers=bearer(key)).json
    assert 54 <= (_at(row["next_attempt_at"]) - t1).total_seconds() <= 66
    deliver_due(runtime, now=_at(row["next_attempt_at"]))
    row = client.get(f"/api/v1/webhook-deliveries/{delivery}", headers=bearer(key)).json
    assert row["status"] == "delivered" and row["attempts"] == 3 and row["last_status_code"] == 200
    # and each attempt is logged with its answer, how long it took and what came next
    log = row["log"]
    assert [a["status_code"] for a in log] == [503, 503, 200]
    assert all(a["duration_ms"] >= 0 for a in log) and log[0]["next_attempt_at"] and log[2]["next_attempt_at"] is None
    assert len(merchant.received) == 3
    assert len({r.headers["Parlons-Webhook-Id"] for r in merchant.received}) == 1  # one event, three tries
    assert row["event"]["type"] == "message.sent" and row["endpoint_id"] == endpoint["id"]


def _at(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


def test_what_is_retried_and_what_is_not(app, client, alpha, merchant):
    db, seeded, key = alpha
    subscribe(client, bearer(key), merchant.url, ["message.sent"])
    runtime = app.extensions["parlons"]
    # a 4xx other than 408/429 fails at once; a 429 waits at least its Retry-After
    merchant.script = [410]
    gone = emit_one(db, seeded.shop_id)
    deliver_due(runtime)
    assert client.get(f"/api/v1/webhook-deliveries/{gone}", headers=bearer(key)).json["status"] == "failed"
    merchant.script, merchant.headers = [429], {"Retry-After": "600"}
    busy = emit_one(db, seeded.shop_id)
    now = utcnow()
    deliver_due(runtime, now=now)
    row = client.get(f"/api/v1/webhook-deliveries/{busy}", headers=bearer(key)).json
    assert row["status"] == "pending" and (_at(row["next_attempt_at"]) - now).total_seconds() >= 600
    # a connection refused is retried; after a day of failures the delivery is failed for good
    merchant.headers = {}
    merchant.stop()
    later = now + timedelta(hours=23, minutes=59, seconds=50)
    with db.transaction() as s:
        s.execute(sa.update(WebhookDelivery).where(WebhookDelivery.id == busy).values(next_attempt_at=later))
    deliver_due(runtime, now=later)
    row = client.get(f"/api/v1/webhook-deliveries/{busy}", headers=bearer(key)).json
    assert row["status"] == "failed" and row["log"][-1]["error"].startswith("connection failed")
    assert client.get("/api/v1/webhook-deliveries?status=failed", headers=bearer(key)).json["data"][0]["id"] == busy


def test_a_failed_delivery_is_replayed_through_the_api(app, client, alpha, merchant):
    db, seeded, key = alpha
    endpoint = subscribe(client, bearer(key), merchant.url, ["message.sent"])
    runtime = app.extensions["parlons"]
    merchant.script = [400]
    failed = emit_one(db, seeded.shop_id)
    deliver_due(runtime)
    # when the merchant fixed their side and replays the delivery
    again = client.post(f"/api/v1/webhook-deliveries/{failed}/replay", headers=bearer(key))
    assert again.status_code == 202 and again.json["replay_of"] == failed and again.json["status"] == "pending"
    deliver_due(runtime)
    # then the same event arrives again, signed, and both deliveries are kept
    events = merchant.events(endpoint["secret"])
    assert len(events) == 2 and events[0] == events[1]
    listed = client.get(f"/api/v1/webhook-deliveries?endpoint_id={endpoint['id']}", headers=bearer(key)).json["data"]
    assert [(d["id"], d["status"]) for d in listed] == [(again.json["id"], "delivered"), (failed, "failed")]


def test_nothing_is_written_for_events_no_endpoint_wants(app, client, alpha, merchant):
    db, seeded, key = alpha
    before = count(db, WebhookEvent)
    with db.transaction() as s:
        assert webhooks.emit(s, seeded.shop_id, "message.sent", {}) is None
    endpoint = subscribe(client, bearer(key), merchant.url, ["consent.changed"])
    with db.transaction() as s:
        assert webhooks.emit(s, seeded.shop_id, "message.sent", {}) is None
    client.patch(f"/api/v1/webhook-endpoints/{endpoint['id']}", headers=bearer(key), json={"enabled": False})
    with db.transaction() as s:
        assert webhooks.emit(s, seeded.shop_id, "consent.changed", {}) is None
    assert count(db, WebhookEvent) == before


def test_private_and_plain_http_endpoints_are_refused_by_default(app, client, alpha, merchant):
    db, seeded, key = alpha
    endpoint = subscribe(client, bearer(key), merchant.url, ["message.sent"])
    app.extensions["parlons"].config.webhooks_allow_private = False
    for url in ("http://example.com/hook", "https://127.0.0.1/hook", "https://localhost/hook",
                "https://10.0.0.8/hook", "ftp://example.com/"):
        answer = client.post("/api/v1/webhook-endpoints", headers=bearer(key), json={"url": url, "events": ["message.sent"]})
        assert answer.status_code == 400 and "url" in answer.json["messages"], url
    # and one made while it was allowed is not called once it is not
    delivery = emit_one(db, seeded.shop_id)
    deliver_due(app.extensions["parlons"])
    row = client.get(f"/api/v1/webhook-deliveries/{delivery}", headers=bearer(key)).json
    assert row["status"] == "failed" and "non-public address" in row["last_error"]
    assert merchant.received == [] and endpoint["id"] == row["endpoint_id"]
