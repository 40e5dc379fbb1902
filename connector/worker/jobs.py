"""RQ job entry points. Jobs carry batches; each opens its own database transactions.

- `drain_events`: stored deliveries -> domain events -> engine (worker side of ingest).
- `drain_dispatch`: due messages -> checks at send time -> provider.
- `drain_crm`: timeline entries and consent pushes -> HubSpot / Shopify.
- `tick`: the periodic heartbeat that re-schedules itself (due messages, flow waits,
  abandoned checkouts, retries, lost signals).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from automations.dispatch import has_due
from automations.models import utcnow
from connector import signals
from connector.runtime import Runtime, current
from connector.worker.crm import write_pending
from connector.worker.dispatch import dispatch_due
from connector.worker.events import pending_events, periodic, process_store_events

log = logging.getLogger("parlons.jobs")

BATCH = 1000
TICK_SECONDS = 15
DRAIN_BUDGET_SECONDS = 60  # well inside RQ's job timeout; the rest goes to a fresh job
TICK_JOB_ID = "parlons-tick"


def drain_events() -> int:
    """Process stored events in batches, oldest first, until none is left or until the time
    budget is spent: then a fresh job takes over, so a large backlog never outlives the job
    timeout. Before it ends, the drain looks once more after signals.GRACE_SECONDS (web processes
    count on that look for what they commit meanwhile without signalling)."""

    runtime = current()
    done = 0
    deadline = time.monotonic() + DRAIN_BUDGET_SECONDS
    previous: list[int] = []

    def pending(limit: int) -> list[int]:
        with runtime.db.session() as session:
            return pending_events(session, limit)

    while True:
        ids = pending(BATCH)
        if ids:
            count = process_store_events(runtime, ids)
            if not count and ids == previous:  # nothing moves them: leave them to the tick
                log.error("store events %s..%s stay unprocessed; stopping this drain", ids[0], ids[-1])
                signals.finish_drain(runtime.redis, "events")
                break
            done += count
            previous = ids
            signals.hold_drain(runtime.redis, "events")
            if time.monotonic() > deadline:
                runtime.queue("events").enqueue(drain_events)  # the drain flag stays ours
                break
            continue
        if not signals.finish_drain(runtime.redis, "events", lambda: bool(pending(1)),
                                   grace=signals.GRACE_SECONDS):
            break
    if done:
        runtime.signal("dispatch")
        runtime.signal("crm")
        runtime.signal("webhooks")
    return done


def drain_dispatch() -> int:
    """Send due messages until none is left. Before it ends, the drain looks once more after
    releasing its flag: a message that became due meanwhile, whose signal found the flag still
    held, is sent now rather than at the next tick."""

    runtime = current()
    sent = 0

    def due() -> bool:
        with runtime.db.session() as session:
            return has_due(session, utcnow())

    while True:
        n = dispatch_due(runtime, limit=runtime.config.dispatch_batch_size)
        sent += n
        if n:
            continue
        if not signals.finish_drain(runtime.redis, "dispatch", more=due):
            break
    if sent:
        runtime.signal("crm")
        runtime.signal("webhooks")
    return sent


def drain_crm() -> int:

    runtime = current()
    written = 0
    while True:
        n = write_pending(runtime, limit=BATCH)
        written += n
        if n:
            continue
        if not signals.finish_drain(runtime.redis, "crm"):
            break
    return written


def tick(reschedule: bool = True) -> dict[str, int]:
    """Periodic work; runs every TICK_SECONDS under `parlons worker` (RQ's scheduler)."""

    runtime = current()
    try:
        counts = periodic(runtime)
        runtime.signal("dispatch")
        runtime.signal("crm")
        runtime.signal("webhooks")  # retries that came due
    finally:  # a failing tick must not stop the heartbeat
        if reschedule:
            schedule_tick(runtime)
    return counts


def schedule_tick(runtime: Runtime, delay: int = TICK_SECONDS) -> None:
    runtime.queue("events").enqueue_in(timedelta(seconds=delay), tick, job_id=TICK_JOB_ID)
