"""Import a store's customers and their SMS consent from Shopify, full or incremental.

Small stores are paged through GraphQL; above `BULK_THRESHOLD` customers a bulk operation runs
and its JSONL file is streamed line by line, so memory stays flat whatever the store size.
Customers are imported in batches, one transaction per batch, and the batch's cursor (page
cursor, or lines of the bulk file done) is committed with it: a sync that dies is resumed where
it stopped, without importing again what was done. Progress lives in `SyncState` (the admin
reads it); incremental runs take what changed since the last finished run started.

One batch of customers is imported by `shopify_import`.
"""
from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

import sqlalchemy as sa
from redis.exceptions import LockNotOwnedError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from automations.models import (
    ConsentEvent,
    Contact,
    Shop,
    SyncState,
    utcnow,
)
from connector.clients import shopify_for
from connector.runtime import Runtime, current
from connector.worker.bulk_rows import batches, read_ahead
from connector.worker.shopify_import import BatchOutcome, import_batch, parse_time
from integrations.shopify.client import ShopifyClient

log = logging.getLogger("parlons.sync.shopify")

SOURCE = "shopify"
BULK_THRESHOLD = 2_000
BATCH_SIZE = 1_000
PAGE_SIZE = 250
MAX_INVALID_KEPT = 200
LOCK_SECONDS = 900
ANALYSE_FIRST = 2_000  # customers imported before PostgreSQL's statistics are refreshed, then x4
_FINISHED_BULK = ("FAILED", "CANCELED", "CANCELLED", "EXPIRED")

Progress = Callable[[int, int | None], None]  # (processed so far, total)


class SyncError(RuntimeError):
    """The sync cannot run (unknown or uninstalled shop, one already running, bulk failed)."""


@dataclass
class SyncResult:
    mode: str
    total: int | None
    imported: int  # customers imported by this run
    processed: int  # customers done for the whole sync, resumed part included
    resumed: bool
    invalid_phones: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- one batch ------------------------------------------------------------------------------

class _Run:
    """One sync of one shop: its state row, cursor and client."""

    def __init__(self, runtime: Runtime, domain: str, progress: Progress | None, batch_size: int,
                 poll_interval: float, sleep: Callable[[float], None]) -> None:
        self.runtime, self.domain, self.progress = runtime, domain, progress
        self.batch_size, self.poll_interval, self.sleep = batch_size, poll_interval, sleep
        self.imported = 0
        self.invalid = 0
        self.analyse_at = ANALYSE_FIRST
        self.lock: Any = None  # the Redis lock held for this shop, kept alive batch after batch

    def client(self) -> ShopifyClient:
        with self.runtime.db.transaction() as session:
            shop = self._shop(session)
            client = shopify_for(self.runtime, session, shop)
        if client is None:
            raise SyncError(f"{self.domain} has no Shopify token")
        return client

    def _shop(self, session: Session) -> Shop:
        shop = session.scalar(sa.select(Shop).where(Shop.domain == self.domain))
        if shop is None or not shop.active:
            raise SyncError(f"{self.domain} is not an installed shop")
        return shop

    def begin(self, full: bool) -> tuple[dict, bool]:
        with self.runtime.db.transaction() as session:
            shop = self._shop(session)
            state = session.scalar(sa.select(SyncState).where(SyncState.shop_id == shop.id, SyncState.source == SOURCE))
            if state is None:
                state = SyncState(shop_id=shop.id, source=SOURCE, processed=0, invalid=[])
                session.add(state)
            if state.cursor and state.status in ("running", "failed") and not full:
                state.status, state.error = "running", None
                return json.loads(state.cursor), True
            since = None if full else state.since
            cursor = {"started": utcnow().isoformat(), "since": _iso(since), "mode": None}
            state.status, state.cursor, state.error = "running", json.dumps(cursor), None
            state.processed, state.total, state.invalid = 0, None, []
            state.started_at, state.finished_at = utcnow(), None
            return cursor, False

    def save(self, cursor: dict, *, total: int | None = None) -> None:
        with self.runtime.db.transaction() as session:
            state = self._state(session)
            state.cursor = json.dumps(cursor)
            if total is not None:
                state.total = total

    def _state(self, session: Session, shop: Shop | None = None) -> SyncState:
        shop = shop or self._shop(session)
        return session.scalar(sa.select(SyncState).where(SyncState.shop_id == shop.id, SyncState.source == SOURCE))

    def import_nodes(self, nodes: list[dict], cursor: dict) -> None:
        """One transaction: the batch, the cursor that says it is done, and the progress."""
        now = utcnow()
        try:
            with self.runtime.db.transaction() as session:
                outcome = self._import(session, nodes, cursor, now)
        except IntegrityError:
            # A webhook created one of these contacts meanwhile: take the batch one by one.
            log.info("sync %s: batch raced a webhook, importing it contact by contact", self.domain)
            with self.runtime.db.transaction() as session:
                outcome = self._import(session, nodes, cursor, now, one_by_one=True)
        self.imported += len(nodes)
        self.invalid += len(outcome.invalid or [])
        if self.imported >= self.analyse_at:
            self.analyse_at *= 4
            self._refresh_statistics()
        if self.lock is not None:
            self._keep_lock()
        if self.progress:
            self.progress(outcome.processed, outcome.total)

    def _refresh_statistics(self) -> None:
        """The shop's contacts grew faster than PostgreSQL's autovacuum notices: refresh the
        planner's statistics, or it keeps taking the shop's every contact as a few rows and looks
        a batch's emails up by scanning them all, each batch slower than the last."""
        engine = self.runtime.db.engine
        if engine.dialect.name != "postgresql":
            return
        with engine.connect() as connection:
            connection.exec_driver_sql(f"ANALYZE {Contact.__tablename__}, {ConsentEvent.__tablename__}")
            connection.commit()

    def _keep_lock(self) -> None:
        """Push the lock's expiry back; take it again if it expired, stop if another run has it."""
        try:
            self.lock.reacquire()
        except LockNotOwnedError:
            if not self.lock.acquire(blocking=False):
                raise SyncError(f"another sync of {self.domain} took over") from None

    def _import(self, session: Session, nodes: list[dict], cursor: dict, now: datetime,
                one_by_one: bool = False) -> BatchOutcome:
        shop = self._shop(session)
        if one_by_one:
            outcome = BatchOutcome(invalid=[])
            for node in nodes:
                part = import_batch(session, shop, [node], now)
                outcome.invalid += part.invalid or []
        else:
            outcome = import_batch(session, shop, nodes, now)
        state = self._state(session, shop)
        state.cursor = json.dumps(cursor)
        state.processed = (state.processed or 0) + len(nodes)
        if outcome.invalid and len(state.invalid or []) < MAX_INVALID_KEPT:
            state.invalid = (list(state.invalid or []) + outcome.invalid)[:MAX_INVALID_KEPT]
        outcome.processed, outcome.total = state.processed, state.total
        return outcome

    def finish(self, cursor: dict) -> SyncResult:
        with self.runtime.db.transaction() as session:
            state = self._state(session)
            state.status, state.cursor, state.finished_at = "done", None, utcnow()
            state.since = parse_time(cursor["started"])
            return SyncResult(cursor["mode"], state.total, self.imported, state.processed, False, self.invalid)

    def fail(self, exc: BaseException) -> None:
        with self.runtime.db.transaction() as session:
            state = self._state(session)
            if state is not None:
                state.status, state.error = "failed", f"{type(exc).__name__}: {exc}"[:1000]

    # --- modes -----------------------------------------------------------------------------

    def pages(self, cursor: dict) -> None:
        since = parse_time(cursor["since"])
        while True:
            nodes, after = self.client().customers_page(after=cursor.get("after"), updated_since=since,
                                                        first=PAGE_SIZE)
            cursor = {**cursor, "after": after}
            if nodes:
                self.import_nodes(nodes, cursor)
            if after is None:
                return

    def bulk(self, cursor: dict) -> None:
        client = self.client()
        node = client.bulk_operation(cursor["op"]) if cursor.get("op") else None
        if node is None or node["status"] in _FINISHED_BULK:
            if node is not None:
                log.warning("sync %s: bulk operation %s ended %s, starting a new one", self.domain,
                            node["id"], node["status"])
            cursor = {**cursor, "op": client.start_bulk_customers(parse_time(cursor["since"])), "done": 0}
            self.save(cursor)
        while True:
            node = client.bulk_operation(cursor["op"])
            if node["status"] == "COMPLETED":
                break
            if node["status"] in _FINISHED_BULK:
                raise SyncError(f"bulk operation {node['id']} ended {node['status']} ({node.get('errorCode')})")
            self.sleep(self.poll_interval)
        if not node.get("url"):
            return  # nothing matched
        lines = client.stream_bulk(node["url"])
        deque(islice(lines, int(cursor.get("done") or 0)), maxlen=0)  # imported before a crash
        for batch in read_ahead(batches(lines, self.batch_size)):
            cursor = {**cursor, "done": int(cursor.get("done") or 0) + len(batch)}
            self.import_nodes(batch, cursor)


def run_sync(
    runtime: Runtime,
    domain: str,
    *,
    full: bool = False,
    progress: Progress | None = None,
    bulk_threshold: int = BULK_THRESHOLD,
    batch_size: int = BATCH_SIZE,
    poll_interval: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncResult:
    """Import the shop's customers (changed since the last run, or all with `full`), resuming an
    interrupted run. One sync per shop at a time."""
    lock = runtime.redis.lock(f"parlons:sync:shopify:{domain}", timeout=LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        raise SyncError(f"a Shopify sync of {domain} is already running")
    run = _Run(runtime, domain, progress, batch_size, poll_interval, sleep)
    run.lock = lock
    try:
        cursor, resumed = run.begin(full)
        if cursor.get("mode") is None:
            since = parse_time(cursor["since"])
            total = run.client().customers_count(since)
            cursor["mode"] = "bulk" if total > bulk_threshold else "pages"
            run.save(cursor, total=total)
        log.info("sync %s: %s%s", domain, cursor["mode"], " (resumed)" if resumed else "")
        if progress:
            with runtime.db.session() as session:
                state = run._state(session)
                progress(state.processed, state.total)
        (run.bulk if cursor["mode"] == "bulk" else run.pages)(cursor)
        with runtime.db.session() as session:
            cursor = json.loads(run._state(session).cursor)
        result = run.finish(cursor)
        result.resumed = resumed
        log.info("sync %s done: %s", domain, result.as_dict())
        return result
    except Exception as exc:  # noqa: BLE001 - recorded on the sync state, then raised again
        log.warning("sync %s stopped: %s", domain, exc)
        run.fail(exc)
        raise
    finally:
        try:
            lock.release()
        except LockNotOwnedError:
            log.warning("sync %s: its lock had already expired", domain)


def sync_job(domain: str, full: bool = False) -> dict[str, Any]:
    """RQ job (queue "sync"): run the sync of one shop in a worker."""
    return run_sync(current(), domain, full=full).as_dict()


def enqueue_sync(runtime: Runtime, domain: str, full: bool = False):  # noqa: ANN201 - an rq Job
    """Queue the shop's sync (after install, or from the admin)."""
    return runtime.queue("sync").enqueue(sync_job, domain, full, job_timeout=6 * 3600,
                                         description=f"Shopify sync of {domain}")
