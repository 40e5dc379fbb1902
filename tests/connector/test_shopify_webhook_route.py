"""POST /webhooks/shopify: the fixed order of checks, dedupe, and one stored event per delivery."""

from __future__ import annotations

import json

import pytest

from automations.models import StoreEvent
from connector.worker.events import pending_events
from tests.connector.helpers import (
    FIXTURES,
    count,
    make_shop,
    post_shopify,
    shopify_headers,
    topic_of,
)

SECRET = "test-shopify-secret"


def queued_drains(app) -> list[str]:
    return [job.func_name for job in app.extensions["parlons"].queue("events").get_jobs()]
FIXTURE_FILES = sorted(FIXTURES.glob("*.json"))


@pytest.fixture
def shop_id(app):
    return make_shop(app.extensions["parlons"].db)


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[p.stem for p in FIXTURE_FILES])
def test_each_fixture_with_a_good_signature_is_stored_once_and_queued(client, app, shop_id, redis_conn, path):
    # given a documented payload signed over its exact bytes
    raw = path.read_bytes()
    # when Shopify delivers it three times with the same webhook id
    answers = [post_shopify(client, raw, topic_of(path), SECRET, webhook_id=f"wh-{path.stem}") for _ in range(3)]
    # then every delivery is acknowledged, one event is stored and queued once
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json["outcome"] for a in answers] == ["stored", "duplicate", "duplicate"]
    db = app.extensions["parlons"].db
    assert count(db, StoreEvent, StoreEvent.delivery_id == f"wh-{path.stem}") == 1
    with db.session() as session:
        assert pending_events(session, 10) == [answers[0].json["id"]]
    assert queued_drains(app) == ["connector.worker.jobs.drain_events"]


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[p.stem for p in FIXTURE_FILES])
def test_each_fixture_with_a_bad_signature_is_refused(client, app, shop_id, path):
    # given a payload signed with another secret
    raw = path.read_bytes()
    # when it is posted
    answer = post_shopify(client, raw, topic_of(path), "not-the-secret")
    # then it is refused with 401 and nothing is stored
    assert answer.status_code == 401
    assert count(app.extensions["parlons"].db, StoreEvent) == 0


def test_a_body_changed_after_signing_is_refused(client, app, shop_id):
    raw = (FIXTURES / "orders__create.json").read_bytes()
    headers = shopify_headers(raw, "orders/create", SECRET)
    answer = client.post("/webhooks/shopify", data=raw + b" ", headers=headers)
    assert answer.status_code == 401


def test_missing_signature_is_401_and_missing_topic_is_400(client, shop_id):
    raw = b"{}"
    headers = shopify_headers(raw, "orders/create", SECRET)
    del headers["X-Shopify-Hmac-Sha256"]
    assert client.post("/webhooks/shopify", data=raw, headers=headers).status_code == 401
    headers = shopify_headers(raw, "orders/create", SECRET)
    del headers["X-Shopify-Topic"]
    answer = client.post("/webhooks/shopify", data=raw, headers=headers)
    assert answer.status_code == 400
    assert answer.json["missing"] == ["X-Shopify-Topic"]


def test_unknown_topic_is_acknowledged_and_not_stored(client, app, shop_id):
    raw = b'{"id": 1}'
    answer = post_shopify(client, raw, "collections/create", SECRET)
    assert answer.status_code == 200
    assert answer.json["outcome"] == "unsupported_topic"
    assert count(app.extensions["parlons"].db, StoreEvent) == 0


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_400(client, app, shop_id, raw):
    answer = post_shopify(client, raw, "orders/create", SECRET)
    assert answer.status_code == 400
    assert answer.json["outcome"] == "bad_payload"
    assert count(app.extensions["parlons"].db, StoreEvent) == 0


def test_deliveries_for_an_unknown_shop_are_acknowledged_and_not_stored(client, app, shop_id):
    raw = json.dumps({"id": 1}).encode()
    answer = post_shopify(client, raw, "orders/create", SECRET, shop="other-shop.myshopify.com")
    assert answer.status_code == 200
    assert answer.json["outcome"] == "unknown_shop"
    assert count(app.extensions["parlons"].db, StoreEvent) == 0


def test_concurrent_deliveries_are_each_stored_once(app, shop_id, redis_conn):
    # given 40 deliveries, a quarter of them sent twice, posted from 8 threads at once
    import concurrent.futures
    import uuid

    raw = (FIXTURES / "orders__create.json").read_bytes()
    ids = [str(uuid.uuid4()) for _ in range(40)]
    sends = ids + ids[:10]

    def post(webhook_id: str) -> str:
        with app.test_client() as c:
            answer = post_shopify(c, raw, "orders/create", SECRET, webhook_id=webhook_id)
            assert answer.status_code == 200
            return answer.json["outcome"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(post, sends))
    # then every delivery is stored exactly once and each duplicate is answered as such
    assert outcomes.count("stored") == 40 and outcomes.count("duplicate") == 10
    assert count(app.extensions["parlons"].db, StoreEvent) == 40
    with app.extensions["parlons"].db.session() as session:
        assert len(pending_events(session, 100)) == 40
    # and one drain is on its way for all of them
    assert queued_drains(app) == ["connector.worker.jobs.drain_events"]


def test_one_event_delivered_under_two_webhook_ids_is_stored_once(client, app, shop_id):
    # given an order Shopify delivers twice, under two webhook ids but with one event id
    raw = (FIXTURES / "orders__create.json").read_bytes()
    first = post_shopify(client, raw, "orders/create", SECRET, webhook_id="wh-a", event_id="ev-1")
    again = post_shopify(client, raw, "orders/create", SECRET, webhook_id="wh-b", event_id="ev-1")
    # and another event of the same order, with an event id of its own
    other = post_shopify(client, raw, "orders/create", SECRET, webhook_id="wh-c", event_id="ev-2")
    # then the repeated event is acknowledged as a duplicate, and the other one stored
    assert [a.json["outcome"] for a in (first, again, other)] == ["stored", "duplicate", "stored"]
    assert count(app.extensions["parlons"].db, StoreEvent) == 2


def test_deliveries_of_one_event_arriving_together_are_stored_once(app, shop_id):
    import concurrent.futures

    from connector.local.devservers import free_port
    from integrations.serving import serve

    # given the web app on a real port and four deliveries of one event sent at the same moment
    server = serve(app, port=free_port())
    raw = (FIXTURES / "orders__create.json").read_bytes()
    try:
        import requests

        from tests.connector.helpers import shopify_headers

        def deliver(n: int) -> str:
            headers = shopify_headers(raw, "orders/create", SECRET, webhook_id=f"wh-{n}")
            headers["X-Shopify-Event-Id"] = "ev-together"
            return requests.post(f"{server.url}/webhooks/shopify", data=raw, headers=headers, timeout=10).json()["outcome"]

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            outcomes = sorted(pool.map(deliver, range(4)))
    finally:
        server.stop()
    # then one is stored and the others are duplicates
    assert outcomes == ["duplicate", "duplicate", "duplicate", "stored"]
    assert count(app.extensions["parlons"].db, StoreEvent) == 1
