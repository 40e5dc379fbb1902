"""The delivery writer: durable before answering, exactly once, and never dependent on Redis."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from automations.models import StoreEvent
from connector.deliveries import DeliveryWriter
from connector.worker.events import stale_received
from tests.connector.helpers import count


def _record(writer: DeliveryWriter, delivery_id: str) -> int | None:
    return writer.record(source="shopify", delivery_id=delivery_id, topic="orders/create", shop_id=None,
                         payload="{}")


def test_an_unreachable_redis_loses_nothing(database):
    # given a writer whose signal to the workers fails (Redis down)
    def broken(ids):
        raise ConnectionError("redis is down")

    writer = DeliveryWriter(database.engine, on_stored=broken)
    try:
        # when a delivery is recorded, then it is stored and answered all the same
        new_id = _record(writer, "d-1")
        assert new_id is not None
    finally:
        writer.stop()
    # and the periodic sweep will find it and signal it again
    with database.session() as session:
        assert stale_received(session, older_than_seconds=-1) == [new_id]


def test_a_batch_answers_each_request_and_signals_once(database):
    signalled: list[list[int]] = []
    writer = DeliveryWriter(database.engine, on_stored=signalled.append)
    try:
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda i: _record(writer, f"d-{i % 30}"), range(60)))
    finally:
        writer.stop()
    stored = [a for a in answers if a is not None]
    assert len(stored) == 30 and len(set(stored)) == 30  # each delivery id stored once
    assert sorted(i for batch in signalled for i in batch) == sorted(stored)
    assert count(database, StoreEvent) == 30


def test_a_failed_write_answers_every_waiting_request_and_the_next_batch_still_stores(tmp_path):
    # given a database the writer cannot write to yet (its tables are missing)
    from connector.db import Database

    db = Database(f"sqlite:///{tmp_path / 'writer.db'}")
    writer = DeliveryWriter(db.engine)
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            attempts = [pool.submit(_record, writer, f"d-{i}") for i in range(24)]
        # then every request of every batch gets the error (the sender will retry)
        assert all(a.exception() is not None for a in attempts)
        # and once the database is ready, the same deliveries are stored, each once
        db.upgrade("heads")
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda i: _record(writer, f"d-{i}"), range(24)))
        assert len(set(answers)) == 24 and None not in answers
    finally:
        writer.stop()
        db.dispose()


def _sqlite(tmp_path):
    from connector.db import Database

    db = Database(f"sqlite:///{tmp_path / 'writer.db'}")
    db.upgrade("heads")
    return db


@contextlib.contextmanager
def _write_lock_held(tmp_path, seconds: float):
    """A SQLite database and a writer for it, while another process's write transaction (as
    SQLite sees it) holds the write lock for `seconds`."""
    db = _sqlite(tmp_path)
    writer = DeliveryWriter(db.engine)
    held = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(db.engine.url.database, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()

    other = threading.Thread(target=hold)
    other.start()
    held.wait()
    try:
        yield db, writer, other
    finally:
        other.join()
        writer.stop()
        db.dispose()


def test_on_sqlite_a_delivery_waits_for_the_write_lock_and_is_stored(tmp_path):
    # given another writer holding SQLite's write lock for 0.3 s
    with _write_lock_held(tmp_path, 0.3) as (db, writer, _):
        # when a delivery arrives meanwhile
        started = time.monotonic()
        new_id = _record(writer, "during-lock")
        # then it is stored once the lock is released, not refused
        assert new_id is not None and time.monotonic() - started >= 0.25
        assert count(db, StoreEvent) == 1


def test_on_sqlite_a_lock_held_too_long_fails_the_request_and_stores_nothing(tmp_path, monkeypatch):
    # given a lock held longer than a delivery waits for it
    from connector import deliveries

    monkeypatch.setattr(deliveries, "SQLITE_LOCK_WAIT", 0.1)
    with _write_lock_held(tmp_path, 0.5) as (db, writer, other):
        # then the request gets the error (the sender retries later) and nothing is half-written
        with pytest.raises(sqlite3.OperationalError):
            _record(writer, "too-long")
        other.join()
        assert count(db, StoreEvent) == 0
        # and the next delivery, once the lock is free, is stored
        assert _record(writer, "after") is not None


GEVENT_SCRIPT = """
from gevent import monkey
monkey.patch_all()
import json, sys, threading
sys.path.insert(0, sys.argv[2])
from connector.db import Database
from connector.deliveries import DeliveryWriter
db = Database(sys.argv[1])
db.upgrade("heads")
batches = []
writer = DeliveryWriter(db.engine, on_stored=lambda ids: batches.append(len(ids)))
requests = [threading.Thread(target=writer.record, kwargs=dict(
    source="shopify", delivery_id=f"d-{i}", topic="orders/create", shop_id=None, payload="{}"))
    for i in range(8)]
for r in requests:
    r.start()
for r in requests:
    r.join()
print(json.dumps(batches))
"""


def test_under_gevent_the_requests_already_received_are_stored_in_one_write(tmp_path):
    # given the web server's gevent workers and 8 requests received at once
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", GEVENT_SCRIPT, f"sqlite:///{tmp_path / 'g.db'}", str(root)],
                         capture_output=True, text=True, check=True, cwd=root)
    # then the first to write waits for the others to reach the writer: one insert, one commit
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [8]
