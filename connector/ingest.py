"""Ingest: store a verified delivery once, and make sure a worker will process it.

The request path stores its delivery durably (group commit: one insert and one commit for every
delivery that arrived meanwhile in this process) and makes one Redis round trip; the worker
drains pending events in batches (never one job per event on this hot path).
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import redis
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from automations.models import StoreEvent, utcnow

log = logging.getLogger("parlons.ingest")

PENDING_KEY = "parlons:pending:{kind}"
DRAIN_FLAG = "parlons:draining:{kind}"
DRAIN_FLAG_TTL = 120


def record_delivery(
    session: Session, *, source: str, delivery_id: str, topic: str, shop_id: int | None, payload: str,
) -> int | None:
    """Insert the delivery in the session's transaction unless (source, delivery_id) is known
    (for a batch stored atomically, like HubSpot's). Returns the new id, or None."""
    values = dict(
        source=source, delivery_id=delivery_id, topic=topic, shop_id=shop_id, payload=payload,
        status="received", outcome={}, received_at=utcnow(),
    )
    return session.execute(_insert_once(session.get_bind().dialect.name), values).scalar_one_or_none()


@functools.cache
def _insert_once(dialect: str):  # noqa: ANN202 - a dialect-specific Insert
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = StoreEvent.__table__
    return insert(table).on_conflict_do_nothing(index_elements=["source", "delivery_id"]).returning(
        table.c.id, table.c.source, table.c.delivery_id
    )


class DeliveryWriter:
    """Stores deliveries from concurrent requests together (group commit).

    A durable commit costs a disk flush: one per request caps the ingest rate whatever the CPU.
    Requests hand their row to one writer thread per process, which inserts whatever arrived
    while its previous commit was being made in one statement and one commit, answers each
    request with its own outcome, then signals the workers once for the whole batch. A request
    still answers only once its row is durable; if the write fails, every request of that batch
    gets the error (and the sender retries).
    """

    def __init__(self, engine: sa.Engine, on_stored: Callable[[list[int]], None] | None = None,
                 max_batch: int = 500) -> None:
        self.engine = engine
        self.on_stored = on_stored
        self.max_batch = max_batch
        self._queue: queue.Queue[tuple[dict[str, Any], Future] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._conn: sa.Connection | None = None

    def record(self, *, source: str, delivery_id: str, topic: str, shop_id: int | None,
               payload: str, timeout: float = 30.0) -> int | None:
        """The new row's id, or None when (source, delivery_id) was already stored."""
        self._ensure_started()
        future: Future = Future()
        self._queue.put((dict(
            source=source, delivery_id=delivery_id, topic=topic, shop_id=shop_id, payload=payload,
            status="received", outcome={}, received_at=utcnow(),
        ), future))
        return future.result(timeout)

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="delivery-writer", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                if self._conn is not None:
                    self._conn.close()
                return
            batch = [item]
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(more)
            try:
                results = self._insert([row for row, _ in batch])
            except Exception as exc:  # noqa: BLE001 - handed to every waiting request
                log.exception("storing %d deliveries failed", len(batch))
                for _, future in batch:
                    future.set_exception(exc)
                continue
            self._signal([r for r in results if r is not None])
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)

    def _signal(self, ids: list[int]) -> None:
        """Tell the workers, once per batch. Stored events never depend on it: if Redis is
        unreachable, the periodic tick finds them (stale_received) and signals them again."""
        if ids and self.on_stored is not None:
            try:
                self.on_stored(ids)
            except Exception:  # noqa: BLE001
                log.exception("could not signal %d stored deliveries; the tick will", len(ids))

    def _insert(self, rows: list[dict[str, Any]]) -> list[int | None]:
        """Insert the rows not yet stored; each row's new id, None for one already stored (or
        repeated earlier in the same batch)."""
        first: dict[tuple[str, str], int] = {}
        for index, row in enumerate(rows):
            first.setdefault((row["source"], row["delivery_id"]), index)
        unique = [rows[i] for i in sorted(first.values())]
        if self._conn is None:  # the writer keeps one connection: no checkout and reset per batch
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            # executemany of one cached statement: sent as one multi-row INSERT … RETURNING
            result = self._conn.execute(_insert_once(self.engine.dialect.name), unique)
            ids = {(r.source, r.delivery_id): r.id for r in result}
        except Exception:
            self._conn.close()
            self._conn = None
            raise
        return [
            ids.get((row["source"], row["delivery_id"])) if first[(row["source"], row["delivery_id"])] == i else None
            for i, row in enumerate(rows)
        ]


def signal(conn: redis.Redis, kind: str, ids: list[int], enqueue_drain) -> None:  # noqa: ANN001
    """Queue ids for the `kind` drain job; enqueue that job unless one is already on its way.
    One round trip to Redis when a drain is already on its way."""
    pipe = conn.pipeline(transaction=False)
    if ids:
        pipe.rpush(PENDING_KEY.format(kind=kind), *ids)
    pipe.set(DRAIN_FLAG.format(kind=kind), 1, nx=True, ex=DRAIN_FLAG_TTL)
    if pipe.execute()[-1]:
        enqueue_drain()


def take_batch(conn: redis.Redis, kind: str, size: int) -> list[int]:
    raw = conn.lpop(PENDING_KEY.format(kind=kind), size) or []
    return [int(x) for x in raw]


def finish_drain(conn: redis.Redis, kind: str) -> bool:
    """Release the drain flag. True when more work arrived meanwhile and this drain should go on."""
    conn.delete(DRAIN_FLAG.format(kind=kind))
    if conn.llen(PENDING_KEY.format(kind=kind)) == 0:
        return False
    return bool(conn.set(DRAIN_FLAG.format(kind=kind), 1, nx=True, ex=DRAIN_FLAG_TTL))


def stale_received(session: Session, older_than_seconds: int = 120, limit: int = 1000) -> list[int]:
    """Events stored but never processed (a lost signal): the periodic tick re-signals them."""
    cutoff = utcnow().timestamp() - older_than_seconds
    from datetime import UTC, datetime

    rows = session.execute(
        sa.select(StoreEvent.id)
        .where(StoreEvent.status == "received", StoreEvent.received_at < datetime.fromtimestamp(cutoff, UTC))
        .order_by(StoreEvent.id)
        .limit(limit)
    )
    return [r[0] for r in rows]
