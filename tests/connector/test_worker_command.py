"""`parlons worker --burst`: the Procfile's worker drains what the web app queued."""

from __future__ import annotations

from automations.models import StoreEvent
from connector.commands.worker import worker
from tests.connector.helpers import FIXTURES, count, make_shop, post_shopify

SECRET = "test-shopify-secret"


def test_a_burst_worker_processes_stored_deliveries(app, client):
    # given two deliveries stored by the web app and waiting in the queue
    make_shop(app.extensions["parlons"].db)
    for name in ("orders__create.json", "customers__create.json"):
        assert post_shopify(client, (FIXTURES / name).read_bytes(), name[:-5].replace("__", "/"), SECRET).status_code == 200
    db = app.extensions["parlons"].db
    assert count(db, StoreEvent, StoreEvent.status == "received") == 2
    # when the worker runs until the queues are empty
    result = app.test_cli_runner().invoke(worker, ["--burst", "--simple"])
    # then both deliveries were processed and none is left waiting
    assert result.exit_code == 0, result.output
    assert count(db, StoreEvent, StoreEvent.status == "received") == 0
    assert count(db, StoreEvent, StoreEvent.status == "processed") == 2


def test_a_long_backlog_is_handed_from_job_to_job_within_the_time_budget(app, client, monkeypatch):
    # given three stored deliveries, batches of one, and a time budget already spent after a batch
    from rq.registry import FinishedJobRegistry

    from connector.worker import jobs
    from connector.worker.rq_workers import InProcessWorker

    monkeypatch.setattr(jobs, "BATCH", 1)
    monkeypatch.setattr(jobs, "DRAIN_BUDGET_SECONDS", 0)
    runtime = app.extensions["parlons"]
    make_shop(runtime.db)
    for name in ("orders__create.json", "orders__paid.json", "customers__create.json"):
        post_shopify(client, (FIXTURES / name).read_bytes(), name[:-5].replace("__", "/"), SECRET)
    # when a worker runs until the queue is empty
    queue = runtime.queue("events")
    InProcessWorker([queue], connection=runtime.redis).work(burst=True)
    # then each job processed one batch and handed the rest to a fresh job, and nothing is left
    assert count(runtime.db, StoreEvent, StoreEvent.status == "processed") == 3
    assert len(FinishedJobRegistry(queue=queue)) >= 3
