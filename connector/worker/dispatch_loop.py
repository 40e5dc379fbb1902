"""A dispatch worker as a process of its own: `python -m connector.worker.dispatch_loop`.

It sends due messages batch after batch (the same `dispatch_due` the RQ drain runs), several
batches at once (`PARLONS_DISPATCH_PIPELINES`), and, when
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
from connector.logs import install_masking
from connector.runtime import Runtime, install
from connector.worker.dispatch import dispatch_due

log = logging.getLogger("parlons.sending")


def run(runtime: Runtime, stop: threading.Event, idle: float = 0.2) -> None:
    """Dispatch until `stop` is set, `dispatch_pipelines` batches at a time."""
    threads = [threading.Thread(target=_pipeline, args=(runtime, stop, idle), name=f"dispatch-{i}")
               for i in range(max(1, runtime.config.dispatch_pipelines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _pipeline(runtime: Runtime, stop: threading.Event, idle: float) -> None:
    while not stop.is_set():
        try:
            n = dispatch_due(runtime)
        except Exception:  # noqa: BLE001 - the database or Redis away for a moment: try again
            log.exception("dispatch batch failed; trying again")
            n = 0
            stop.wait(1.0)
        if not n:
            stop.wait(idle)


def main() -> None:
    install_masking()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)  # every request, at INFO
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
