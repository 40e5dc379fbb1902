"""The events drain reads pending events from the database; signals only make sure a drain will
look. A web process that signalled a moment ago skips its next signals, counting on the look a
drain takes after releasing its flag."""

from __future__ import annotations

import time
import types

import pytest

from automations.models import StoreEvent
from connector import signals
from connector.deliveries import DeliveryWriter
from connector.signals import Signal
from connector.worker import jobs
from connector.worker.events import stale_received
from connector.worker.rq_workers import InProcessWorker
from tests.connector.helpers import FIXTURES, make_shop

RAW = (FIXTURES / "customers__create.json").read_text()


@pytest.fixture
def runtime(app):
    return app.extensions["parlons"]


def store(runtime, shop_id: int, delivery_id: str, on_stored=None) -> int:  # noqa: ANN001
    writer = DeliveryWriter(runtime.db.engine, on_stored=on_stored)
    try:
        return writer.record(source="shopify", delivery_id=delivery_id, topic="customers/create",
                             shop_id=shop_id, payload=RAW)
    finally:
        writer.stop()


def statuses(runtime) -> dict[str, str]:  # noqa: ANN001
    with runtime.db.session() as session:
        return {e.delivery_id: e.status for e in session.query(StoreEvent)}


def work_events(runtime) -> None:  # noqa: ANN001
    InProcessWorker([runtime.queue("events")], connection=runtime.redis).work(burst=True)


def test_an_event_whose_signal_was_lost_is_processed_by_the_next_drain(runtime):
    # given an event stored while Redis was unreachable (its signal failed)
    shop_id = make_shop(runtime.db)

    def redis_down(ids):  # noqa: ANN001
        raise ConnectionError("redis is down")

    store(runtime, shop_id, "lost", on_stored=redis_down)
    # when a later delivery is stored and signalled as usual, and a worker runs
    store(runtime, shop_id, "later", on_stored=lambda ids: runtime.signal("events"))
    work_events(runtime)
    # then both are processed, without waiting for the periodic sweep
    assert statuses(runtime) == {"lost": "processed", "later": "processed"}
    # and the drain has released its flag
    assert not runtime.redis.exists(signals.DRAIN_FLAG.format(kind="events"))


def test_an_event_committed_during_a_drains_grace_is_processed_by_that_drain(runtime, monkeypatch):
    # given a drain under way for a first event
    shop_id = make_shop(runtime.db)
    store(runtime, shop_id, "first", on_stored=lambda ids: runtime.signal("events"))

    # and a web process that commits a second event without signalling (it signalled a moment
    # ago) just after the drain has released its flag, while the drain waits its grace period
    waits: list[float] = []

    def sleep_and_meanwhile_commit(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:
            assert not runtime.redis.exists(signals.DRAIN_FLAG.format(kind="events"))
            store(runtime, shop_id, "during-grace")
        time.sleep(seconds)

    monkeypatch.setattr(signals, "time", types.SimpleNamespace(sleep=sleep_and_meanwhile_commit,
                                                              monotonic=time.monotonic))
    # when the worker runs
    work_events(runtime)
    # then the same drain looked again after its grace and processed the second event too
    assert statuses(runtime) == {"first": "processed", "during-grace": "processed"}
    assert waits == [signals.GRACE_SECONDS, signals.GRACE_SECONDS]
    assert len(runtime.queue("events")) == 0


def test_a_signal_is_sent_at_most_once_per_half_grace_and_a_failed_one_covers_nothing():
    sent: list[float] = []
    failing = [True]

    def send() -> None:
        if failing[0]:
            raise ConnectionError("redis is down")
        sent.append(time.monotonic())

    signal = Signal(send)
    # a failed send covers nothing: the next signal tries again
    with pytest.raises(ConnectionError):
        signal()
    failing[0] = False
    signal()
    signal()
    signal()
    assert len(sent) == 1
    # once half the grace period is over, the next signal goes out
    time.sleep(signals.GRACE_SECONDS / 2 + 0.01)
    signal()
    assert len(sent) == 2


def test_a_drain_that_cannot_move_its_events_stops_and_leaves_them_to_the_sweep(runtime, monkeypatch):
    # given an event that processing leaves as it found it (a defect in a handler, say)
    shop_id = make_shop(runtime.db)
    store(runtime, shop_id, "stuck", on_stored=lambda ids: runtime.signal("events"))
    monkeypatch.setattr(jobs, "process_store_events", lambda runtime, ids: 0)
    # when the worker runs, then the drain ends instead of reading the same events forever
    work_events(runtime)
    assert statuses(runtime) == {"stuck": "received"}
    assert not runtime.redis.exists(signals.DRAIN_FLAG.format(kind="events"))
    # and the periodic sweep signals it again once it is old enough
    with runtime.db.session() as session:
        assert stale_received(session, older_than_seconds=-1) == [session.query(StoreEvent.id).scalar()]
