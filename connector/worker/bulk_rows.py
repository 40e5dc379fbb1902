"""Rows in bulk: written through the driver in their stored form, matched by arrays, and read
ahead in a thread so that the next batch is fetched while this one is written."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from queue import Full, Queue
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from automations.models import (
    UTCDateTime,
)


def among(dialect: sa.Dialect, column: sa.ColumnElement, values: list) -> sa.ColumnElement[bool]:
    """`column IN values` with the values bound as one array, so the statement is the same
    whatever their number (compiled and prepared once, no chunks): `= ANY(array)` on
    PostgreSQL, the elements of a JSON array elsewhere (SQLite's json_each)."""
    if dialect.name == "postgresql":
        return column == sa.any_(sa.literal(values, postgresql.ARRAY(column.type)))
    listed = sa.func.json_each(sa.literal(json.dumps(values), sa.Text)).table_valued("value")
    return column.in_(sa.select(listed.c.value))


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


def batches(items: Iterator[dict], size: int) -> Generator[list[dict], None, None]:
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

