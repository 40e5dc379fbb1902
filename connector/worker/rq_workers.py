"""The RQ workers Parlons runs: RQ's own, stopping promptly.

RQ listens for commands (stop a job, shut down) on a Redis channel in a thread that waits up
to 60 s for a message; when the channel's unsubscribe is read before the thread is told to stop,
the worker's teardown waits out those 60 s. These workers listen with a short wait instead, so a
burst worker (tests, `parlons worker --burst`, the demo) and a stopping worker end at once.
"""

from __future__ import annotations

from rq import SimpleWorker, Worker

LISTEN_WAIT = 0.5  # seconds the command listener waits for a message before looking again


class _PromptStop:
    pubsub_channel_name: str

    def subscribe(self) -> None:
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=LISTEN_WAIT, daemon=True, exception_handler=self._pubsub_exception_handler
        )


class ForkingWorker(_PromptStop, Worker):
    """A job per forked process (RQ's Worker)."""


class InProcessWorker(_PromptStop, SimpleWorker):
    """Jobs in the worker's own process (RQ's SimpleWorker)."""
