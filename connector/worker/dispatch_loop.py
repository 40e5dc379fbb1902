"""A dispatch worker as a process of its own: `python -m connector.worker.dispatch_loop`.

It sends due messages batch after batch (the same `dispatch_due` the RQ drain runs) and, when
nothing is due, looks again every `idle` seconds, so unknown outcomes are reconciled as soon as
their grace period ends. Start as many as the provider accounts allow, on as many machines as
needed: they share PostgreSQL and Redis. SIGTERM or SIGINT stops it after its current batch;
a SIGKILL loses nothing (its messages are reconciled by the others).
"""

from __future__ import annotations

import logging
import signal
import threading

from connector.config import Config
from connector.runtime import Runtime, install
from connector.worker.dispatch import dispatch_due

log = logging.getLogger("parlons.sending")


def run(runtime: Runtime, stop: threading.Event, idle: float = 0.2) -> int:
    """Dispatch until `stop` is set; returns how many messages were taken."""
    taken = 0
    while not stop.is_set():
        try:
            n = dispatch_due(runtime)
        except Exception:  # noqa: BLE001 - the database or Redis away for a moment: try again
            log.exception("dispatch batch failed; trying again")
            n = 0
            stop.wait(1.0)
        taken += n
        if not n:
            stop.wait(idle)
    return taken


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    runtime = install(Runtime(Config.from_env()))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        run(runtime, stop)
    finally:
        runtime.close()


if __name__ == "__main__":
    main()
