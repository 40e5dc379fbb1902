"""`parlons worker`: an RQ worker with the scheduler on Parlons' queues."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from connector.runtime import QUEUES
from connector.worker import jobs
from connector.worker.rq_workers import ForkingWorker, InProcessWorker


@click.command()
@click.option("--queues", "-q", "names", multiple=True, type=click.Choice(QUEUES),
              help="Queues to listen on (default: all).")
@click.option("--burst", is_flag=True, help="Work until the queues are empty, then exit.")
@click.option("--simple", is_flag=True, help="Run jobs in this process (no fork per job).")
@with_appcontext
def worker(names: tuple[str, ...], burst: bool, simple: bool) -> None:
    """Process events, dispatch messages and write to the CRM."""
    runtime = current_app.extensions["parlons"]
    queues = [runtime.queue(n) for n in (names or QUEUES)]
    if not burst:
        jobs.schedule_tick(runtime, delay=1)
    cls = InProcessWorker if simple else ForkingWorker
    w = cls(queues, connection=runtime.redis)
    w.work(burst=burst, with_scheduler=True, logging_level="INFO")
COMMANDS = [worker]
