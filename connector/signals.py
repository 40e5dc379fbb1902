"""Telling the workers there is work, without one job per item on a hot path.

A Redis flag per kind of drain (events, dispatch, crm) says one is on its way or running; a
signal enqueues a drain only when the flag is free. Drains are named by their import path, so
whoever signals needs nothing of the worker's code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis

DRAINS = {
    "events": "connector.worker.jobs.drain_events",
    "dispatch": "connector.worker.jobs.drain_dispatch",
    "crm": "connector.worker.jobs.drain_crm",
    "webhooks": "connector.worker.webhooks.drain_webhooks",
}
DRAIN_FLAG = "parlons:draining:{kind}"
DRAIN_FLAG_TTL = 120
# A drain that releases its flag looks for work once more this long afterwards: a signal that
# found the flag held therefore covers every row committed within this time after it.
GRACE_SECONDS = 0.05


def signal(conn: redis.Redis, kind: str, enqueue_drain: Callable[[], Any]) -> None:
    """Make sure a `kind` drain looks for work after now: enqueue one unless the flag says one is
    on its way or running (that one looks again before it ends). One round trip to Redis then."""
    flag = DRAIN_FLAG.format(kind=kind)
    if conn.set(flag, 1, nx=True, ex=DRAIN_FLAG_TTL):
        try:
            enqueue_drain()
        except Exception:
            conn.delete(flag)  # no drain is coming: let the next signal try again
            raise


class Signal:
    """A process's signal for one kind of drain, sent at most once per half grace period.

    A signal that found the flag held or set it is followed by a drain's look at the database
    at least GRACE_SECONDS after that moment (a drain looks once more that long after releasing
    its flag), so every row committed within half of that needs no signal of its own: under
    load, a web process talks to Redis a few dozen times a second instead of once per batch.
    """

    def __init__(self, send: Callable[[], None]) -> None:
        self._send = send
        self._covered_until = float("-inf")

    def __call__(self) -> None:
        now = time.monotonic()
        if now < self._covered_until:
            return
        self._send()
        self._covered_until = now + GRACE_SECONDS / 2


def hold_drain(conn: redis.Redis, kind: str) -> None:
    """A running drain keeps its flag from expiring."""
    conn.expire(DRAIN_FLAG.format(kind=kind), DRAIN_FLAG_TTL)


def finish_drain(conn: redis.Redis, kind: str, more: Callable[[], bool] | None = None,
                 grace: float = 0.0) -> bool:
    """Release the drain flag, wait `grace` seconds, then look once more with `more`. True when
    there is more work and this drain took the flag again to go on with it."""
    flag = DRAIN_FLAG.format(kind=kind)
    conn.delete(flag)
    if grace:
        time.sleep(grace)
    if more is None or not more():
        return False
    return bool(conn.set(flag, 1, nx=True, ex=DRAIN_FLAG_TTL))


