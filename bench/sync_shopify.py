"""Benchmark: import a store's customers from a Shopify bulk JSONL into contacts and consent.

The Shopify sandbox runs in a child process (as Shopify is another machine), serving N generated
customers over HTTP; this process runs the real sync (bulk operation, streamed JSONL, batches of
1,000 in one transaction each) into a fresh database. It prints one JSON line: contacts_per_s,
peak_rss_mb of this process, the ratio of the import's time to parsing the same JSONL alone, and
the machine's load average (other work on it slows the import).

    python bench/sync_shopify.py [--customers 100000] [--quick]

DATABASE_URL is used when set (an empty database you own), else a temporary SQLite file.
REDIS_URL must point to a Redis (the sync holds a per-shop lock there).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHOP = "bench-boutique.myshopify.com"


def _serve_sandbox(customers: int, conn) -> None:  # noqa: ANN001 - a Pipe end
    from integrations.serving import serve
    from integrations.shopify.sandbox import ShopifySandbox

    sandbox = ShopifySandbox("bench-key", "bench-secret", bucket_size=2000, restore_rate=1000)
    sandbox.add_shop(SHOP, name="Bench")
    sandbox.add_customers(SHOP, customers)
    server = serve(sandbox.app)
    conn.send((server.url, sandbox.grant_token(SHOP, expires_in=None)))
    conn.recv()  # wait until the parent is done
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 customers")
    args = parser.parse_args()
    customers = 10_000 if args.quick else args.customers

    import logging

    logging.disable(logging.INFO)
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.get_context("fork").Process(target=_serve_sandbox, args=(customers, child), daemon=True)
    proc.start()
    url, token = parent.recv()
    try:
        print(json.dumps(run(url, token, customers)))
    finally:
        parent.send("stop")
        proc.join(timeout=5)


def run(url: str, token: str, customers: int) -> dict:
    """The figures, the temporary SQLite file (when no DATABASE_URL is given) removed after."""
    workdir = tempfile.mkdtemp(prefix="parlons-bench-")
    try:
        return _run(url, token, customers, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(url: str, token: str, customers: int, workdir: str) -> dict:
    import sqlalchemy as sa

    from automations.models import Contact
    from connector.app import create_app
    from connector.config import Config
    from connector.install import connect_shopify
    from connector.worker.shopify_sync import run_sync
    from integrations.shopify.client import ShopifyClient

    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"sqlite:///{workdir}/bench.db")
    config = Config.from_env(env)
    config.shopify_base_url, config.shopify_api_key, config.shopify_api_secret = url, "bench-key", "bench-secret"
    runtime = create_app(config).extensions["parlons"]
    runtime.db.upgrade("heads")
    with runtime.db.session() as session:
        if session.scalar(sa.select(sa.func.count()).select_from(Contact)):
            raise SystemExit("the database holds contacts already: give the bench an empty one")
    with runtime.db.transaction() as session:
        connect_shopify(runtime, session, SHOP, token, register_webhooks=False)

    # Parsing alone: the same bulk file, streamed and decoded line by line.
    client = ShopifyClient(SHOP, token, base_url=url)
    op = client.start_bulk_customers()
    while (node := client.bulk_operation(op))["status"] != "COMPLETED":
        time.sleep(0.05)
    started = time.perf_counter()
    parsed = sum(1 for _ in client.stream_bulk(node["url"]))
    parse_s = time.perf_counter() - started

    started = time.perf_counter()
    result = run_sync(runtime, SHOP, full=True, poll_interval=0.05)
    import_s = time.perf_counter() - started
    runtime.close()
    assert parsed == customers == result.processed, (parsed, customers, result)
    return {
        "customers": customers,
        "database": runtime.db.engine.dialect.name,
        "mode": result.mode,
        "import_s": round(import_s, 2),
        "parse_only_s": round(parse_s, 2),
        "contacts_per_s": round(customers / import_s),
        "ratio_to_parse": round(import_s / parse_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_1m": round(os.getloadavg()[0], 2),  # the machine's load average when it ended
    }


if __name__ == "__main__":
    main()
