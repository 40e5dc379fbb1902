"""Ingest benchmark: signed Shopify webhooks against the web app under gunicorn, compared with a
bare endpoint on the same server, loaded from a second process.

Prints one JSON line: ingest_rps, bare_rps, ratio (ingest ÷ bare), p50_ms, p99_ms (ingest).
Target on a 2-core machine: ratio >= 0.5. Uses DATABASE_URL (default: PostgreSQL database
`parlons_bench` on 127.0.0.1, created if missing, its tables dropped and migrated afresh: the
web server measured is the production one, and production runs on PostgreSQL; set
DATABASE_URL=sqlite:///... to measure SQLite) and REDIS_URL (default: redis://127.0.0.1:6379/14,
flushed).

    python bench/ingest.py [--quick] [--seconds N] [--connections N]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHOP = "bench-shop.myshopify.com"
SECRET = "bench-webhook-secret"
FIXTURE = ROOT / "tests" / "fixtures" / "shopify" / "2026-01" / "orders__create.json"
ROUNDS = 5  # alternating rounds of each kind
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/parlons_bench"


def load(port: int, path: str, seconds: float, connections: int, signed: bool) -> dict:
    """Keep `connections` keep-alive connections busy for `seconds`; return rps and latencies."""
    body = FIXTURE.read_bytes()
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                if signed:
                    conn.request("POST", path, body=body, headers={
                        "Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
                        "X-Shopify-Hmac-Sha256": signature, "X-Shopify-Shop-Domain": SHOP,
                        "X-Shopify-Webhook-Id": uuid.uuid4().hex, "X-Shopify-Event-Id": uuid.uuid4().hex})
                else:
                    conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors[0] += 1
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append(time.perf_counter() - start)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"latencies": latencies, "elapsed": time.perf_counter() - started, "errors": errors[0]}


def summary(runs: list[dict]) -> dict:
    """Rounds of one kind together: requests per second over their time, latency percentiles."""
    latencies = sorted(x for run in runs for x in run["latencies"])
    elapsed = sum(run["elapsed"] for run in runs)
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else None,
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1] if latencies else None,
        "errors": sum(run["errors"] for run in runs),
        "requests": len(latencies),
    }


def client_main(args: argparse.Namespace) -> None:
    load(args.port, "/ping", 1.0, args.connections, signed=False)  # warm up both paths
    load(args.port, "/webhooks/shopify", 1.0, args.connections, signed=True)
    # the two kinds alternate in short rounds, so that a change in the machine's speed during
    # the run (other work, another guest on the host) weighs on both sides of the ratio alike
    bare: list[dict] = []
    ingest: list[dict] = []
    for _ in range(ROUNDS):
        bare.append(load(args.port, "/ping", args.seconds / ROUNDS, args.connections, signed=False))
        ingest.append(load(args.port, "/webhooks/shopify", args.seconds / ROUNDS, args.connections, signed=True))
    print(json.dumps({"bare": summary(bare), "ingest": summary(ingest)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s per phase")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, help="gunicorn worker processes (default: gunicorn.conf.py's)")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.seconds = 5.0
    if args.client:
        client_main(args)
        return

    import redis
    import sqlalchemy as sa
    from _databases import ensure_database

    from automations.models import Shop
    from connector.db import Database
    from connector.local.devservers import free_port, wait_for_http

    tmp = tempfile.TemporaryDirectory()
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DB)
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    env.update(PARLONS_SHOPIFY_API_SECRET=SECRET, PARLONS_INSTANCE_DIR=tmp.name, PARLONS_QUEUE_PREFIX="bench",
               # the one bench shop sends far more than a shop's cap: counted, never reached
               PARLONS_LIMIT_SHOPIFY_WEBHOOKS="1000000000/minute")
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    ensure_database(env["DATABASE_URL"])
    db = Database(env["DATABASE_URL"])
    with db.engine.begin() as conn:
        from automations.models import Base

        Base.metadata.drop_all(conn)
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    db.upgrade("heads")
    with db.transaction() as session:
        session.add(Shop(domain=SHOP, name="Bench"))
    db.dispose()

    port = free_port()
    # the server runs from the project's directory, so gunicorn reads gunicorn.conf.py as the
    # Procfile's web process does
    workers = ["--workers", str(args.workers)] if args.workers else []
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", *workers, "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
         "connector:create_app()"],
        cwd=ROOT, env=env,
    )
    try:
        wait_for_http(port, process=server)
        out = subprocess.run(
            [sys.executable, __file__, "--client", "--port", str(port), "--seconds", str(args.seconds),
             "--connections", str(args.connections)],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    figures = json.loads(out.stdout)
    with Database(env["DATABASE_URL"]).session() as session:
        from automations.models import StoreEvent

        stored = session.scalar(sa.select(sa.func.count()).select_from(StoreEvent))
    bare, ingest = figures["bare"], figures["ingest"]
    print(json.dumps({
        "ingest_rps": round(ingest["rps"], 1),
        "bare_rps": round(bare["rps"], 1),
        "ratio": round(ingest["rps"] / bare["rps"], 3) if bare["rps"] else None,
        "p50_ms": round(ingest["p50_ms"], 2) if ingest["p50_ms"] else None,
        "p99_ms": round(ingest["p99_ms"], 2) if ingest["p99_ms"] else None,
        "errors": ingest["errors"] + bare["errors"],
        "events_stored": stored,
        "database": env["DATABASE_URL"].split(":", 1)[0],
        "seconds_per_phase": args.seconds,
    }))


if __name__ == "__main__":
    main()
