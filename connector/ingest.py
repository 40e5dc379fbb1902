"""Ingest: store a verified delivery once, and make sure a worker will process it.

The request path does one insert and two Redis commands; the worker drains pending events in
batches (never one job per event on this hot path).
"""

from __future__ import annotations

import functools

import redis
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from automations.models import StoreEvent, utcnow

PENDING_KEY = "parlons:pending:{kind}"
DRAIN_FLAG = "parlons:draining:{kind}"
DRAIN_FLAG_TTL = 120


def record_delivery(
    bind: Session | sa.Engine, *, source: str, delivery_id: str, topic: str, shop_id: int | None,
    payload: str,
) -> int | None:
    """Insert the delivery unless (source, delivery_id) is known. Returns the new id, or None.

    Given an engine, it runs as a single autocommitted statement on a Core connection (the
    webhook hot path: no ORM unit of work); given a session, it joins the session's transaction.
    """
    values = dict(
        source=source, delivery_id=delivery_id, topic=topic, shop_id=shop_id, payload=payload,
        status="received", outcome={}, received_at=utcnow(),
    )
    engine = bind if isinstance(bind, sa.Engine) else bind.get_bind()
    stmt = _insert_once(engine.dialect.name)
    if isinstance(bind, sa.Engine):
        # One statement, atomic on its own: autocommit saves the BEGIN and COMMIT round trips.
        with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            return conn.execute(stmt, values).scalar_one_or_none()
    return bind.execute(stmt, values).scalar_one_or_none()


@functools.cache
def _insert_once(dialect: str):  # noqa: ANN202 - a dialect-specific Insert
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = StoreEvent.__table__
    return insert(table).on_conflict_do_nothing(index_elements=["source", "delivery_id"]).returning(table.c.id)


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
