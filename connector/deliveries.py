"""Ingest: store a verified delivery once; `connector.signals` then makes sure a worker looks.

The request path stores its delivery durably (group commit: one insert and one commit for every
delivery that arrived meanwhile in this process) and makes sure an events drain will look for it;
the drain reads pending events from the database in batches (never one job per event on this hot
path). A Redis flag per kind of drain says one is on its way or running.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from automations.models import StoreEvent, utcnow

log = logging.getLogger("parlons.ingest")

GATHER_LIMIT = 0.005  # seconds a batch waits at most for the requests already received (gevent)
SQLITE_LOCK_WAIT = 30  # seconds a delivery waits for SQLite's write lock, as the app's busy_timeout


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
    return insert(table).on_conflict_do_nothing().returning(
        table.c.id, table.c.source, table.c.delivery_id
    )


class _Pending:
    """One request's delivery, waiting for a batch to store it."""

    __slots__ = ("row", "result", "error", "lead", "_wake")

    def __init__(self, row: tuple) -> None:
        self.row = row
        self.result: int | None = None
        self.error: BaseException | None = None
        self.lead = False  # woken to store the next batch rather than with its outcome
        self._wake = threading.Lock()
        self._wake.acquire()

    def wait(self) -> None:
        self._wake.acquire()

    def wake(self) -> None:
        self._wake.release()


class DeliveryWriter:
    """Stores deliveries from concurrent requests together (group commit, leader and followers).

    A durable commit costs a disk flush, and every round trip to the database or Redis costs
    system calls: one per request caps the ingest rate whatever the CPU. A request that finds
    no batch being stored stores one itself: its own delivery and every delivery that arrived
    meanwhile in this process, in one multi-row insert and one commit, then signals the workers
    once for the batch and wakes each waiting request with its own outcome. Requests arriving
    during that write wait; the first of them stores the next batch. No thread hand-off for the
    request that writes, one wake-up for each that waits.

    A request still answers only once its row is durable; if the write fails, every request of
    that batch gets the error (and the sender retries); if the signal fails, the rows are
    stored all the same and the periodic tick signals them.
    """

    def __init__(self, engine: sa.Engine, on_stored: Callable[[list[int]], None] | None = None,
                 max_batch: int = 500) -> None:
        self.engine = engine
        self.on_stored = on_stored
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._waiting: list[_Pending] = []
        self._writing = False
        self._conn: Any = None  # one DBAPI connection for the writes, kept between batches
        self._gather = _gather_under_gevent()
        self._statements = _BatchInsert(engine.dialect)
        self._write_batch = self._write_sqlite if engine.dialect.name == "sqlite" else self._write

    def record(self, *, source: str, delivery_id: str, topic: str, shop_id: int | None,
               payload: str, event_id: str | None = None) -> int | None:
        """The new row's id, or None when (source, delivery_id), or (source, event_id) when
        given, was already stored."""
        mine = _Pending((source, delivery_id, topic, shop_id, payload, event_id))
        with self._lock:
            self._waiting.append(mine)
            lead = not self._writing
            self._writing = True
        if not lead:
            mine.wait()  # every batch wakes all its requests, whatever happens to it
            lead = mine.lead
        if lead:
            self._write_batches(mine)
        if mine.error is not None:
            raise mine.error
        return mine.result

    def stop(self) -> None:
        """Close the writes' connection (a later record opens a new one)."""
        with self._lock:
            if not self._writing:
                self._close()

    def _write_batches(self, mine: _Pending) -> None:
        """Store batches until this request's own delivery is stored, then hand the writing on
        to the next waiting request, if any."""
        try:
            while True:
                if self._gather is not None:
                    self._gather()
                with self._lock:
                    batch, self._waiting = self._waiting[:self.max_batch], self._waiting[self.max_batch:]
                try:
                    self._store(batch)
                finally:
                    for pending in batch:
                        if pending is not mine:
                            pending.wake()
                if mine in batch:
                    break
        finally:
            with self._lock:
                if self._waiting:
                    self._waiting[0].lead = True
                    self._waiting[0].wake()
                else:
                    self._writing = False

    def _store(self, batch: list[_Pending]) -> None:
        try:
            results = self._insert([p.row for p in batch])
        except Exception as exc:  # noqa: BLE001 - handed to every request of the batch
            log.exception("storing %d deliveries failed", len(batch))
            for pending in batch:
                pending.error = exc
            return
        self._signal([r for r in results if r is not None])
        for pending, result in zip(batch, results, strict=True):
            pending.result = result

    def _signal(self, ids: list[int]) -> None:
        """Tell the workers. Stored events never depend on it: if Redis is unreachable, the
        periodic tick finds them (stale_received) and signals them again."""
        if ids and self.on_stored is not None:
            try:
                self.on_stored(ids)
            except Exception:  # noqa: BLE001
                log.exception("could not signal %d stored deliveries; the tick will", len(ids))

    def _insert(self, rows: list[tuple]) -> list[int | None]:
        """Insert the rows not yet stored; each row's new id, None for one already stored (or
        repeated earlier in the same batch)."""
        first: dict[tuple[str, str], int] = {}
        for index, row in enumerate(rows):
            first.setdefault((row[0], row[1]), index)
        unique = [rows[i] for i in sorted(first.values())]
        try:
            if self._conn is None:  # one connection for the writer: no checkout and reset per batch
                self._conn = self.engine.raw_connection()
                if self.engine.dialect.name == "postgresql":
                    self._conn.driver_connection.autocommit = True  # one round trip a batch
                else:
                    self._conn.driver_connection.execute("PRAGMA busy_timeout = 0")  # see _write_sqlite
            ids = self._write_batch(*self._statements.build(unique))
        except Exception:
            self._close()
            raise
        return [
            ids.get((row[0], row[1])) if first[(row[0], row[1])] == i else None
            for i, row in enumerate(rows)
        ]

    def _write(self, sql: str, params: list[Any]) -> dict[tuple[str, str], int]:
        cursor = self._conn.cursor()
        try:
            cursor.execute(sql, params)
            ids = {(source, delivery_id): new_id for new_id, source, delivery_id in cursor.fetchall()}
        finally:
            cursor.close()
        self._conn.commit()
        return ids

    def _write_sqlite(self, sql: str, params: list[Any]) -> dict[tuple[str, str], int]:
        """SQLite has one writer at a time. Its own wait for the lock sleeps inside the library,
        which stalls every request of a gevent worker; this one waits with the server's sleep
        instead (a greenlet switch), from 0.2 ms doubling up to 10 ms, for SQLITE_LOCK_WAIT
        seconds in all."""
        pause, deadline = 0.0002, time.monotonic() + SQLITE_LOCK_WAIT
        while True:
            try:
                return self._write(sql, params)
            except sqlite3.OperationalError as exc:
                busy = (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
                if not busy or time.monotonic() > deadline:
                    raise
            self._conn.rollback()
            time.sleep(pause)
            pause = min(pause * 2, 0.01)

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
            except Exception:  # noqa: BLE001 - it is being thrown away
                log.debug("closing the writer's connection failed", exc_info=True)
            self._conn = None


def _gather_under_gevent() -> Callable[[], None] | None:
    """Under gevent (the web server's workers), what a request that is about to write a batch
    calls first: wait until the worker's event loop has nothing else ready to run (GATHER_LIMIT
    at most), so that every request already received gets to the writer and joins this batch.
    Fewer, larger batches (one insert and one commit each) at no fixed delay; it was the largest
    single gain in bench/ingest.py. Under threads nothing: holding a batch open there only added
    hand-offs."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("threading"):
        return None
    import gevent

    def gather() -> None:
        with gevent.Timeout(GATHER_LIMIT, False):  # a flood of new requests never stalls a batch
            gevent.idle()

    return gather


class _BatchInsert:
    """One multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING` in the driver's own terms: the
    hot path skips statement compilation, and the driver prepares each batch size's text once."""

    COLUMNS = ("source", "delivery_id", "topic", "shop_id", "payload", "event_id", "received_at", "status",
               "outcome")

    def __init__(self, dialect: sa.Dialect) -> None:
        self.placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
        self.to_db = StoreEvent.__table__.c.received_at.type.bind_processor(dialect) or (lambda v: v)
        one = ", ".join([self.placeholder] * 7)
        self.row = f"({one}, 'received', '{{}}')"
        self.head = f"INSERT INTO {StoreEvent.__tablename__} ({', '.join(self.COLUMNS)}) VALUES "
        # no conflict target: a repeat of (source, delivery_id) or of (source, event_id) is skipped
        self.tail = " ON CONFLICT DO NOTHING RETURNING id, source, delivery_id"
        self._sql: dict[int, str] = {}

    def build(self, rows: list[tuple]) -> tuple[str, list[Any]]:
        sql = self._sql.get(len(rows))
        if sql is None:
            sql = self._sql.setdefault(len(rows), self.head + ", ".join([self.row] * len(rows)) + self.tail)
        received_at = self.to_db(utcnow())
        params: list[Any] = []
        for row in rows:
            params.extend(row)
            params.append(received_at)
        return sql, params


