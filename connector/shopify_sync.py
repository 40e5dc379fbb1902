"""Import a store's customers and their SMS consent from Shopify, full or incremental.

Small stores are paged through GraphQL; above `BULK_THRESHOLD` customers a bulk operation runs
and its JSONL file is streamed line by line, so memory stays flat whatever the store size.
Customers are imported in batches, one transaction per batch, and the batch's cursor (page
cursor, or lines of the bulk file done) is committed with it: a sync that dies is resumed where
it stopped, without importing again what was done. Progress lives in `SyncState` (the admin
reads it); incremental runs take what changed since the last finished run started.

Per batch, customers we do not know yet (no contact with their customer id, phone or email) are
inserted together, with the same values `contacts.upsert_contact` and `consent.record` would
give them; any customer that matches an existing contact goes through those two functions one
by one, so merging and stale-update rules stay in one place.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from operator import itemgetter
from queue import Full, Queue
from typing import Any

import sqlalchemy as sa
from redis.exceptions import LockNotOwnedError
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from automations import consent as consent_ledger
from automations.contacts import normalise_phone, upsert_contact
from automations.events import NOT_SUBSCRIBED, ContactData
from automations.models import (
    ConsentEvent,
    Contact,
    OutboundWrite,
    Shop,
    SyncState,
    TimelineEntry,
    UTCDateTime,
    utcnow,
)
from connector.clients import shopify_for
from connector.runtime import Runtime, current
from integrations.shopify.client import ShopifyClient, customer_to_contact

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


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


# --- one batch ------------------------------------------------------------------------------


@dataclass
class BatchOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: list[dict] | None = None
    processed: int = 0  # for the whole sync, after this batch
    total: int | None = None


def import_batch(session: Session, shop: Shop, nodes: Iterable[dict], now: datetime) -> BatchOutcome:
    """Import GraphQL Customer nodes (page nodes or bulk lines) into contacts and the ledger."""
    rows, invalid = [], []
    for node in nodes:
        if "__parentId" in node:
            continue  # a nested connection's line: not a customer
        contact, consent = customer_to_contact(node)
        phone = normalise_phone(contact.phone, contact.country, shop.default_region)
        if phone.error:
            invalid.append({"customer": contact.shopify_customer_id, "phone": contact.phone, "error": phone.error})
        rows.append((contact, consent, phone, _when(node.get("updatedAt"))))
    outcome = BatchOutcome(invalid=invalid)
    known, held = _known_keys(session, shop, rows)
    fresh, matched, seen = [], [], set()
    for row in rows:
        if _unchanged(row, held):
            outcome.unchanged += 1
            continue
        keys = _keys(row[0], row[2].e164)
        new = row[0].shopify_customer_id and keys.isdisjoint(known) and keys.isdisjoint(seen)
        (fresh if new else matched).append(row)
        seen |= keys
    _insert_new(session, shop, fresh, now)
    outcome.created = len(fresh)
    for contact, consent, _, updated_at in matched:
        result = upsert_contact(session, shop, contact, source=SOURCE, source_updated_at=updated_at)
        if consent is not None:
            consent_ledger.record(session, result.contact, consent, now)
        outcome.created += int(result.created)
        outcome.updated += int(not result.created)
    session.flush()
    return outcome


def _keys(contact: ContactData, e164: str | None) -> set[tuple[str, str]]:
    keys = set()
    if contact.shopify_customer_id:
        keys.add(("gid", contact.shopify_customer_id))
    if e164:
        keys.add(("phone", e164))
    if contact.email and contact.email.strip():
        keys.add(("email", contact.email.strip().lower()))
    return keys


def among(dialect: sa.Dialect, column: sa.ColumnElement, values: list) -> sa.ColumnElement[bool]:
    """`column IN values` with the values bound as one array, so the statement is the same
    whatever their number (compiled and prepared once, no chunks): `= ANY(array)` on
    PostgreSQL, the elements of a JSON array elsewhere (SQLite's json_each)."""
    if dialect.name == "postgresql":
        return column == sa.any_(sa.literal(values, postgresql.ARRAY(column.type)))
    listed = sa.func.json_each(sa.literal(json.dumps(values), sa.Text)).table_valued("value")
    return column.in_(sa.select(listed.c.value))


def _known_keys(session: Session, shop: Shop, rows: list) -> tuple[set[tuple[str, str]], dict[str, tuple]]:
    """Which of the batch's customer ids, phones and emails an existing contact already has, and
    for known customer ids, what we hold (source_updated_at, consent status)."""
    gids = [c.shopify_customer_id for c, _, _, _ in rows if c.shopify_customer_id]
    phones = [p.e164 for _, _, p, _ in rows if p.e164]
    emails = [c.email.strip().lower() for c, _, _, _ in rows if c.email and c.email.strip()]
    known: set[tuple[str, str]] = set()
    held: dict[str, tuple] = {}
    dialect = session.get_bind().dialect
    if gids:
        found = session.execute(
            sa.select(Contact.shopify_customer_id, Contact.source_updated_at, Contact.consent_status)
            .where(Contact.shop_id == shop.id, among(dialect, Contact.shopify_customer_id, gids))
        )
        for gid, updated_at, status in found:
            known.add(("gid", gid))
            held[gid] = (updated_at, status)
    for kind, column, values in (("phone", Contact.phone_e164, phones), ("email", Contact.email, emails)):
        if values:
            found = session.scalars(sa.select(column).where(Contact.shop_id == shop.id,
                                                            among(dialect, column, values)))
            known |= {(kind, value) for value in found}
    return known, held


def _unchanged(row: tuple, held: dict[str, tuple]) -> bool:
    """A customer we already hold as it is now (not updated since, same consent): nothing to do."""
    contact, consent, _, updated_at = row
    ours = held.get(contact.shopify_customer_id or "")
    if ours is None or ours[0] is None or updated_at is None or updated_at > ours[0]:
        return False
    return consent is None or consent.status == ours[1]


_CONTACT_COLUMNS = (
    "shop_id", "phone_e164", "phone_raw", "phone_error", "email", "first_name", "last_name", "locale", "tags",
    "orders_count", "total_spent", "last_order_at", "shopify_customer_id", "properties", "consent_status",
    "consent_source", "consent_updated_at", "source_updated_at", "created_at", "updated_at",
)
_LEDGER_COLUMNS = ("shop_id", "contact_id", "status", "source", "evidence", "occurred_at", "recorded_at")
_WRITE_COLUMNS = ("shop_id", "contact_id", "target", "action", "key", "payload", "status", "attempts",
                  "created_at", "updated_at")
_TIMELINE_COLUMNS = ("shop_id", "contact_id", "kind", "key", "occurred_at", "body", "status", "attempts",
                     "created_at", "updated_at")
_CREATED_FROM = json.dumps({"created_from": SOURCE})


def _insert_new(session: Session, shop: Shop, rows: list, now: datetime) -> None:
    """Insert contacts nobody knows yet, with their first consent statement, in a few statements.
    Values are built once, in the form the columns store (see `write_rows`)."""
    if not rows:
        return
    connection = session.connection()
    stored = stored_time(connection.dialect)
    at = stored(now)
    contacts = ((
        shop.id, phone.e164, contact.phone[:64] if contact.phone else None, phone.error,
        contact.email.strip().lower() if contact.email else None, contact.first_name or None,
        contact.last_name or None, contact.locale or None, json.dumps(contact.tags) if contact.tags else "[]",
        contact.orders_count, contact.total_spent or None, stored(contact.last_order_at),
        contact.shopify_customer_id, _CREATED_FROM,
        consent.status if consent is not None else NOT_SUBSCRIBED,
        consent.source if consent is not None else None,
        stored(consent.occurred_at or now) if consent is not None else None,
        stored(updated_at), at, at,
    ) for contact, consent, phone, updated_at in rows)
    write_rows(connection, Contact.__table__, _CONTACT_COLUMNS, contacts)
    gids = [contact.shopify_customer_id for contact, _, _, _ in rows]
    id_of = dict(connection.execute(
        sa.select(Contact.shopify_customer_id, Contact.id)
        .where(Contact.shop_id == shop.id, among(connection.dialect, Contact.shopify_customer_id, gids))
    ).all())
    stated = [(id_of[contact.shopify_customer_id], contact, consent, phone.e164, consent.occurred_at or now)
              for contact, consent, phone, _ in rows if consent is not None]
    if not stated:
        return
    write_rows(connection, ConsentEvent.__table__, _LEDGER_COLUMNS, (
        (shop.id, contact_id, consent.status, consent.source, json.dumps(consent.evidence or {}),
         stored(occurred_at), at) for contact_id, _, consent, _, occurred_at in stated))
    entry_of = dict(connection.execute(
        sa.select(ConsentEvent.contact_id, ConsentEvent.id)
        .where(among(connection.dialect, ConsentEvent.contact_id, [entry[0] for entry in stated]))
    ).all())
    # A new contact starts not subscribed: that statement changes nothing, nothing to tell.
    told = [(entry_of[entry[0]], *entry) for entry in stated if entry[2].status != NOT_SUBSCRIBED]
    write_rows(connection, OutboundWrite.__table__, _WRITE_COLUMNS, (
        (shop.id, contact_id, "hubspot", "consent", f"consent:{entry_id}:hubspot", json.dumps({
            "status": consent.status, "opted_out": False, "source": consent.source,
            "occurred_at": occurred_at.isoformat(), "phone": e164,
            "email": contact.email.strip().lower() if contact.email else None,
            "shopify_customer_id": contact.shopify_customer_id, "hubspot_contact_id": None,
            "consent_event_id": entry_id,
        }), "pending", 0, at, at) for entry_id, contact_id, contact, consent, e164, occurred_at in told))
    write_rows(connection, TimelineEntry.__table__, _TIMELINE_COLUMNS, (
        (shop.id, contact_id, "consent", f"consent:{entry_id}", stored(occurred_at),
         f"SMS consent: {consent.status} — source {consent.source}", "pending", 0, at, at)
        for entry_id, contact_id, _, consent, _, occurred_at in told))


def insert_plain(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """INSERT `rows` (dicts with the same keys) in the connection's transaction, through the
    driver itself (see `write_rows`). Values are bound as the column's SQLAlchemy type would
    bind them (aware datetimes as naive UTC text on SQLite, JSON as `json.dumps` text) without
    its per-value processing, most of an import's time. No Python-side default applies: give
    every NOT NULL column."""
    if not rows:
        return
    names = list(rows[0])
    time = stored_time(connection.dialect)
    converters = [time if isinstance(table.c[name].type, UTCDateTime)
                  else _json if isinstance(table.c[name].type, sa.JSON) else None for name in names]
    pick = itemgetter(*names)
    plain = [list(pick(row)) for row in rows]
    for column, convert in enumerate(converters):
        if convert is not None:
            for values in plain:
                values[column] = convert(values[column])
    write_rows(connection, table, names, plain)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def write_rows(connection: sa.Connection, table: sa.Table, names: Sequence[str], rows: Iterable[Sequence]) -> None:
    """INSERT `rows` (values in `names` order, already in their stored form: `stored_time` for
    datetimes, `json.dumps` text for JSON) in the connection's transaction, through the driver
    itself: PostgreSQL's COPY with psycopg, executemany otherwise. `rows` may be a generator:
    on PostgreSQL, rows are sent as they are made, while the server stores the ones before."""
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    target = f"{quote(table.name)} ({', '.join(quote(n) for n in names)})"
    cursor = connection.connection.cursor()
    try:
        if dialect.driver == "psycopg":
            with cursor.copy(f"COPY {target} FROM STDIN") as stream:
                for values in rows:
                    stream.write_row(values)
        else:
            mark = "?" if dialect.paramstyle == "qmark" else "%s"
            marks = [f"CAST({mark} AS {table.c[n].type.compile(dialect=dialect)})"
                     if dialect.name != "sqlite" and isinstance(table.c[n].type, sa.JSON) else mark for n in names]
            cursor.executemany(f"INSERT INTO {target} VALUES ({', '.join(marks)})", rows)
    finally:
        cursor.close()


def stored_time(dialect: sa.Dialect) -> Callable[[datetime | None], Any]:
    """How a UTCDateTime column binds a value through the driver: as is, but on SQLite as the
    naive UTC text UTCDateTime and SQLite's DateTime store (always with microseconds). The
    SQLite form is remembered per value: a batch repeats the same instants."""
    if dialect.name != "sqlite":
        return lambda value: value
    known: dict[datetime, str] = {}

    def text(value: datetime | None) -> str | None:
        if value is None:
            return None
        found = known.get(value)
        if found is None:
            found = known[value] = _sqlite_time(value)
        return found

    return text


def _sqlite_time(value: datetime) -> str:
    """What UTCDateTime and SQLite's DateTime store: naive UTC, always with microseconds."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


# --- the sync -------------------------------------------------------------------------------


def _batches(items: Iterator[dict], size: int) -> Generator[list[dict], None, None]:
    batch: list[dict] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def read_ahead(batches: Generator[list[dict], None, None], depth: int = 2) -> Iterator[list[dict]]:
    """Yield `batches` while a thread reads the next ones (download and JSON decoding), at most
    `depth` ahead: the bulk file keeps coming while a batch is written, memory stays bounded.
    The reader's error is raised here; stopping early stops the reader."""
    queue: Queue[tuple[str, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.05)
                return True
            except Full:
                continue
        return False

    def read() -> None:
        try:
            for batch in batches:
                if not hand_over(("batch", batch)):
                    return
            hand_over(("end", None))
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, raised there
            hand_over(("error", exc))
        finally:
            batches.close()

    reader = threading.Thread(target=read, name="shopify-bulk-reader", daemon=True)
    reader.start()
    try:
        while True:
            kind, value = queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        reader.join()


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
            state.since = _when(cursor["started"])
            return SyncResult(cursor["mode"], state.total, self.imported, state.processed, False, self.invalid)

    def fail(self, exc: BaseException) -> None:
        with self.runtime.db.transaction() as session:
            state = self._state(session)
            if state is not None:
                state.status, state.error = "failed", f"{type(exc).__name__}: {exc}"[:1000]

    # --- modes -----------------------------------------------------------------------------

    def pages(self, cursor: dict) -> None:
        since = _when(cursor["since"])
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
            cursor = {**cursor, "op": client.start_bulk_customers(_when(cursor["since"])), "done": 0}
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
        for batch in read_ahead(_batches(lines, self.batch_size)):
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
            since = _when(cursor["since"])
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
