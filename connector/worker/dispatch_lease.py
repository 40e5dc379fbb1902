"""A dispatch worker's heartbeat in Redis: while it beats, the messages it claimed are its own;
once it stops (the process died), `recover_stuck` hands them to reconciliation."""

from __future__ import annotations

import os
import socket
import threading
import uuid

from connector.runtime import Runtime

_KEY = "parlons:dispatch:alive:"
_leases: dict[int, Lease] = {}
_lock = threading.Lock()


class Lease:
    def __init__(self, redis_conn, ttl: int) -> None:  # noqa: ANN001
        self.redis = redis_conn
        self.ttl = max(1, ttl)
        self.worker_id = f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._beat()  # alive before anything is claimed
        threading.Thread(target=self._run, daemon=True, name="dispatch-heartbeat").start()

    def _beat(self) -> None:
        self.redis.set(_KEY + self.worker_id, 1, ex=self.ttl)

    def _run(self) -> None:
        event = threading.Event()
        while not event.wait(self.ttl / 5):
            try:
                self._beat()
            except Exception:  # noqa: BLE001 - Redis away for a moment: beat again next time
                continue

    def alive(self, worker_id: str) -> bool:
        return bool(self.redis.exists(_KEY + worker_id))


def lease(runtime: Runtime) -> Lease:
    """This process's lease (a forked process gets its own)."""
    pid = os.getpid()
    with _lock:
        if pid not in _leases:
            _leases[pid] = Lease(runtime.redis, runtime.config.dispatch_lease_seconds)
        return _leases[pid]
