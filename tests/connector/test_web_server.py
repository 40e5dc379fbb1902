"""The web process as the Procfile runs it: gunicorn with the project's gunicorn.conf.py (gevent
workers), over real HTTP, against the test database and Redis."""

from __future__ import annotations

import concurrent.futures
import http.client
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from automations.models import StoreEvent
from connector.local.devservers import free_port, wait_for_http
from connector.worker.events import pending_events
from tests.connector.helpers import FIXTURES, count, make_shop, shopify_headers

ROOT = Path(__file__).resolve().parents[2]
SECRET = "web-server-secret"


@pytest.fixture(scope="module")
def server(migrated_database, database_url, tmp_path_factory):
    """One server for this module's tests (starting gevent workers takes seconds)."""
    from tests.conftest import REDIS_URL

    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL,
           "PARLONS_SHOPIFY_API_SECRET": SECRET, "PARLONS_INSTANCE_DIR": str(tmp_path_factory.mktemp("web"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level",
         "warning", "connector:create_app()"],
        cwd=ROOT, env=env,
    )
    wait_for_http(port, process=proc)
    yield port
    proc.terminate()
    proc.wait(timeout=30)


def test_the_production_server_stores_concurrent_deliveries_once_each(server, database, redis_conn, config):
    # given a shop, and 60 deliveries of which 20 are sent twice, from 16 connections at once
    make_shop(database)
    raw = (FIXTURES / "orders__create.json").read_bytes()
    ids = [str(uuid.uuid4()) for _ in range(60)]

    def post(webhook_id: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
        conn.request("POST", "/webhooks/shopify", body=raw,
                     headers=shopify_headers(raw, "orders/create", SECRET, webhook_id=webhook_id))
        answer = conn.getresponse()
        return answer.status, answer.read()

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        first = list(pool.map(post, ids))
        again = list(pool.map(post, ids[:20]))
    # then each is answered 200, stored once, repeats answered as duplicates
    assert all(status == 200 and b'"stored"' in body for status, body in first)
    assert all(status == 200 and b'"duplicate"' in body for status, body in again)
    assert count(database, StoreEvent) == 60
    with database.session() as session:
        assert len(pending_events(session, 100)) == 60
    # and a drain is on its way for them
    from connector.runtime import Runtime

    runtime = Runtime(config)
    try:
        assert [job.func_name for job in runtime.queue("events").get_jobs()] == ["connector.worker.jobs.drain_events"]
    finally:
        runtime.close()


def test_a_bad_signature_and_a_body_that_is_not_json_are_refused(server, database, redis_conn):
    make_shop(database)
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
    raw = b'{"id": 1'
    headers = shopify_headers(raw, "orders/create", SECRET)
    conn.request("POST", "/webhooks/shopify", body=raw, headers={**headers, "X-Shopify-Hmac-Sha256": "x"})
    answer = conn.getresponse()
    assert answer.status == 401 and b"bad_signature" in answer.read()
    conn.request("POST", "/webhooks/shopify", body=raw, headers=headers)
    answer = conn.getresponse()
    assert answer.status == 400 and b"bad_payload" in answer.read()
    assert count(database, StoreEvent) == 0
