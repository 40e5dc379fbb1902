"""What a process needs to do its work: config, database, Redis, queues, secrets.

The web app and the workers build one Runtime each; job functions reach it with `current()`.
Nothing connects until first use.
"""

from __future__ import annotations

import threading

import redis
from rq import Queue

from connector import signals
from connector.config import Config
from connector.crypto import SecretBox
from connector.db import Database
from connector.deliveries import DeliveryWriter

QUEUES = ("events", "dispatch", "crm", "sync", "webhooks")


class Runtime:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.db = Database(config.database_url)
        self.secrets = SecretBox(config.encryption_key, config.secret_key)
        self._redis: redis.Redis | None = None
        self._lock = threading.Lock()
        self._deliveries: DeliveryWriter | None = None
        self._events_signal = signals.Signal(lambda: self.signal("events"))

    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            with self._lock:
                if self._redis is None:
                    self._redis = redis.Redis.from_url(self.config.redis_url)
        return self._redis

    @property
    def deliveries(self) -> DeliveryWriter:
        """Where webhook endpoints store deliveries (group commit)."""
        if self._deliveries is None:
            with self._lock:
                if self._deliveries is None:
                    self._deliveries = DeliveryWriter(
                        self.db.engine, on_stored=lambda _ids: self._events_signal())
        return self._deliveries

    def signal(self, kind: str) -> None:
        """Make sure a drain of `kind` (events, dispatch, crm, webhooks) looks for work after now."""
        signals.signal(self.redis, kind, lambda: self.queue(kind).enqueue(signals.DRAINS[kind]))

    def queue(self, name: str) -> Queue:
        if name not in QUEUES:
            raise ValueError(f"unknown queue {name!r}")
        return Queue(f"{self.config.queue_prefix}-{name}", connection=self.redis)

    def queues(self) -> list[Queue]:
        return [self.queue(name) for name in QUEUES]

    def close(self) -> None:
        if self._deliveries is not None:
            self._deliveries.stop()
        self.db.dispose()
        if self._redis is not None:
            self._redis.close()


_current: Runtime | None = None


def install(runtime: Runtime) -> Runtime:
    """Make `runtime` the one job functions in this process use."""
    global _current
    _current = runtime
    return runtime


def current() -> Runtime:
    global _current
    if _current is None:
        _current = Runtime(Config.from_env())
    return _current
