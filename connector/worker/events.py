"""Worker side of ingest: stored deliveries become domain events the engine acts on.

Store events are processed in chunks, one transaction per chunk (a failing chunk is replayed one
event per transaction); whatever happens, each ends in a status that says why (processed,
invalid, ignored, failed) and never blocks the rest of the batch.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from automations import chunk, commerce, contacts, conversations, engine, rule_cache, sweeps
from automations import events as ev_types
from automations.events import DomainEvent
from automations.models import Rule, Shop, StoreEvent, utcnow
from connector.runtime import Runtime
from connector.worker import callbacks, growth
from connector.worker.callbacks import jsonable
from connector.worker.dispatch import recover_stuck
from integrations.shopify import webhooks as shopify_webhooks

log = logging.getLogger("parlons.pipeline")


def translate(event: StoreEvent) -> list[DomainEvent]:
    """Turn a stored delivery into domain events (raises the integration's PayloadError)."""
    if event.source == "shopify":
        return shopify_webhooks.translate(event.topic, orjson.loads(event.payload))
    return callbacks.translate(event)


CHUNK = 500  # store events per transaction


def process_store_events(runtime: Runtime, ids: list[int]) -> int:
    """Process events in chunks of CHUNK per transaction (rows locked in id order); a chunk in
    which anything raises is rolled back and replayed one event per transaction.

    A chunk of plain Shopify store events (no app lifecycle, privacy request or deletion) is
    translated first, has the rows its events refer to loaded in a few queries, and is written
    in one flush at its end (see automations.chunk)."""
    done = 0
    for start in range(0, len(ids), CHUNK):
        part = ids[start:start + CHUNK]
        try:
            with runtime.db.transaction() as session, _collect_after():
                count = _process_chunk(runtime, session, part)
        except Exception:  # noqa: BLE001 - replayed below, one transaction per event
            log.warning("a chunk of %d store events failed; replaying them one by one", len(part), exc_info=True)
            count = _one_by_one(runtime, part)
        done += count
    return done


@contextmanager
def _collect_after() -> Iterator[None]:
    """No cyclic garbage collection while a chunk is handled, one after it: a chunk makes many
    short-lived objects, and each collection during it would walk the session's rows again."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect(1)


def _process_chunk(runtime: Runtime, session: Session, ids: list[int]) -> int:
    rule_cache.hold(session)  # no event changes a rule: each shop's are read once per chunk
    contacts.remember_matches(session)
    commerce.remember_rows(session)
    rows = session.scalars(
        sa.select(StoreEvent).where(StoreEvent.id.in_(ids)).order_by(StoreEvent.id).with_for_update()
    ).all()
    locked = {row.id: row for row in rows}
    held = _hold_shops_and_rules(session, {row.shop_id for row in rows if row.shop_id})
    finished: list[dict[str, Any]] = []
    translated = _translate_plain(rows)
    if translated is None:
        count = sum(process_one(runtime, session, i, locked=locked.get(i), finished=finished) for i in ids)
    else:
        chunk.begin(session, _wanted(session, rows, translated))
        try:
            with session.no_autoflush:
                count = sum(process_one(runtime, session, i, locked=locked.get(i), finished=finished,
                                        translated=translated.get(i)) for i in ids)
                chunk.ready_to_write(session)
            session.flush()
        finally:
            chunk.end(session)
    for row in finished:
        row["outcome"] = jsonable(row["outcome"])  # ids of the rows written just now
    if finished:
        session.execute(sa.update(StoreEvent), finished)
    del held
    return count


_NOT_PLAIN = frozenset({
    ev_types.APP_UNINSTALLED, ev_types.DATA_REQUESTED, ev_types.CUSTOMER_REDACT, ev_types.SHOP_REDACT,
    ev_types.CUSTOMER_DELETED,
})


def _translate_plain(rows: list[StoreEvent]) -> dict[int, list[DomainEvent] | ValueError] | None:
    """Each received event's domain events (or why it is invalid) when every one of them is a
    plain Shopify store event for a known shop; None otherwise (the chunk is handled as is)."""
    translated: dict[int, list[DomainEvent] | ValueError] = {}
    for row in rows:
        if row.status != "received":
            continue
        if row.source != "shopify" or row.shop_id is None:
            return None
        try:
            events = translate(row)
        except ValueError as exc:
            translated[row.id] = exc
            continue
        if any(e.type in _NOT_PLAIN for e in events):
            return None
        translated[row.id] = events
    return translated


def _wanted(
    session: Session, rows: list[StoreEvent], translated: dict[int, list[DomainEvent] | ValueError]
) -> dict[int, chunk.Wanted]:
    """The contacts, checkouts, orders and flow-run subjects the chunk's events refer to."""
    wanted: dict[int, chunk.Wanted] = {}
    for row in rows:
        events = translated.get(row.id)
        if not isinstance(events, list):
            continue
        shop = session.get(Shop, row.shop_id)
        keys = wanted.setdefault(row.shop_id, chunk.Wanted())
        for event in events:
            data = event.contact
            if data is not None:
                phone = contacts.normalise_phone(data.phone, data.country, shop.default_region if shop else None)
                for name, value in (("shopify_customer_id", data.shopify_customer_id),
                                    ("hubspot_contact_id", data.hubspot_contact_id),
                                    ("phone_e164", phone.e164),
                                    ("email", data.email.strip().lower() if data.email else None)):
                    if value:
                        keys.contacts[name].add(value)
            token = event.data.get("checkout_token")
            if event.subject_key:
                keys.subjects.add(event.subject_key)
            if token:
                keys.subjects.add(token)
                keys.checkout_tokens.add(token)
            if event.type == ev_types.CHECKOUT_UPDATED:
                keys.checkout_tokens.add(event.subject_key or event.data.get("token") or "")
            if event.type in commerce.ORDER_EVENTS:
                keys.order_gids.add(event.subject_key or event.data.get("order_gid") or "")
    for keys in wanted.values():
        keys.checkout_tokens.discard("")
        keys.order_gids.discard("")
    return wanted


def _hold_shops_and_rules(session: Session, shop_ids: set[int]) -> list[object]:
    """Load the chunk's shops and their rules once and keep them referenced: the session's
    identity map holds objects weakly, so `session.get` would otherwise query them per event."""
    if not shop_ids:
        return []
    return [*session.scalars(sa.select(Shop).where(Shop.id.in_(shop_ids))),
            *session.scalars(sa.select(Rule).where(Rule.shop_id.in_(shop_ids)))]


def _one_by_one(runtime: Runtime, ids: list[int]) -> int:
    done = 0
    for event_id in ids:
        try:
            with runtime.db.transaction() as session:
                if process_one(runtime, session, event_id):
                    done += 1
        except Exception as exc:  # noqa: BLE001 - record and go on with the batch
            log.exception("store event %s failed", event_id)
            with runtime.db.transaction() as session:
                ev = session.get(StoreEvent, event_id)
                if ev is not None:
                    ev.status = "failed"
                    ev.outcome = {"error": f"{type(exc).__name__}: {exc}"}
                    ev.processed_at = utcnow()
    return done


def process_one(
    runtime: Runtime, session: Session, event_id: int, *, locked: StoreEvent | None | bool = False,
    finished: list[dict[str, Any]] | None = None, translated: list[DomainEvent] | ValueError | None = None,
) -> bool:
    """Process one stored event; `locked` is its row when the caller already locked it (None: gone),
    `translated` its domain events when the caller translated it already. With `finished`, its
    final status is appended there for the caller to write with the rest of its batch (one
    statement for all, the outcome made JSON then) instead of being flushed on its own."""
    ev = locked if locked is not False else session.execute(
        sa.select(StoreEvent).where(StoreEvent.id == event_id).with_for_update()
    ).scalar_one_or_none()
    if ev is None or ev.status != "received":
        return False
    now = utcnow()
    shop = session.get(Shop, ev.shop_id) if ev.shop_id else None
    special = callbacks.handle_special(runtime, session, ev, shop, now)
    if special is not None:
        _finish(ev, "processed", special, now, finished)
        return True
    try:
        if isinstance(translated, ValueError):
            raise translated
        domain_events = translated if translated is not None else translate(ev)
    except ValueError as exc:  # PayloadError subclasses ValueError in every integration
        log.warning("store event %s (%s %s) invalid: %s", ev.id, ev.source, ev.topic, exc)
        _finish(ev, "invalid", {"error": str(exc)}, now, finished)
        return True
    outcomes = []
    for domain_event in domain_events:
        lifecycle = callbacks.handle_lifecycle(runtime, session, ev, shop, domain_event, now)
        if lifecycle is not None:
            outcomes.append(lifecycle)
            continue
        if shop is None:
            outcomes.append({"type": domain_event.type, "skipped": ["unknown shop"]})
            continue
        outcome = engine.handle_event(
            session, shop, domain_event, now=now, redis_conn=runtime.redis, store_event_id=ev.id
        )
        outcomes.append({"type": domain_event.type, **outcome.fields()})
    _finish(ev, "processed", {"events": outcomes} if outcomes else {"events": [], "note": "nothing to do"},
            now, finished)
    return True


def _finish(
    ev: StoreEvent, status: str, outcome: dict[str, Any], now: datetime, finished: list[dict[str, Any]] | None
) -> None:
    if finished is None:
        ev.status, ev.outcome, ev.processed_at = status, jsonable(outcome), now
        return
    for name, value in (("status", status), ("outcome", outcome), ("processed_at", now)):
        set_committed_value(ev, name, value)  # seen as done by the rest of the batch, written below
    finished.append({"id": ev.id, "status": status, "outcome": outcome, "processed_at": now})


def periodic(runtime: Runtime) -> dict[str, int]:
    """The tick's work: lost signals, abandoned checkouts, flow waits, conversation expiry,
    daily sweeps."""
    now = utcnow()
    counts: dict[str, int] = {}
    with runtime.db.session() as session:
        lost = stale_received(session)
    if lost:
        runtime.signal("events")
    counts["resignalled"] = len(lost)
    with runtime.db.transaction() as session:
        abandoned = commerce.find_abandoned(session, now)
        for shop, checkout in abandoned:
            event = commerce.abandoned_event(checkout, now)
            engine.handle_event(session, shop, event, now=now, redis_conn=runtime.redis)
        counts["abandoned"] = len(abandoned)
    with runtime.db.transaction() as session:
        counts["flows_advanced"] = engine.advance_flows(session, now, redis_conn=runtime.redis)
    with runtime.db.transaction() as session:
        counts["conversations_expired"] = len(conversations.expire_due(session, now))
    counts["stuck_sends_closed"] = recover_stuck(runtime)
    counts["welcomes"] = growth.start_welcomes(runtime, now)
    day_key = f"parlons:sweep:{now.date().isoformat()}"
    if runtime.redis.set(day_key, 1, nx=True, ex=2 * 86400):
        with runtime.db.transaction() as session:
            counts["daily"] = sweeps.daily_sweeps(session, now)
    return counts


def pending_events(session: Session, limit: int) -> list[int]:
    """Ids of stored events not processed yet, oldest first."""
    return list(session.scalars(
        sa.select(StoreEvent.id).where(StoreEvent.status == "received").order_by(StoreEvent.id).limit(limit)
    ))


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
