"""HubSpot sync benchmark: a full sync of a sandbox portal's contacts, both ways, under the
portal's rate limit.

The HubSpot sandbox runs in a second process (it answers over real HTTP and enforces the same
limit, answering 429 like HubSpot); the sync runs here with the shared Redis token bucket.
Prints one JSON line: contacts, contacts_per_s, requests, throttled, failed, seconds, limit and
- ceiling_ratio: the request rate achieved ÷ the rate the limit allows (`limit` per 10 s);
- strict_ratio: requests ÷ the most a sliding window lets through in that time, counting the
  burst a fresh window allows at the start and every window begun (a stricter figure, lower
  when the last window is barely used).
Target: ceiling_ratio >= 0.9 with no failed request.

Uses DATABASE_URL (default: a SQLite file in a temporary directory) and REDIS_URL (default:
redis://127.0.0.1:6379/14, flushed).

    python bench/sync_hubspot.py [--quick] [--contacts N] [--limit REQUESTS_PER_10S]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PORTAL = 8080
SHOP = "bench-sync.myshopify.com"
WINDOW_SECONDS = 10


def serve_sandbox(contacts: int, limit: int, conn) -> None:  # noqa: ANN001
    """The sandbox process: seed the portal, serve it, report url and token, wait to be told to stop."""
    import logging

    from integrations.hubspot.sandbox import HubSpotSandbox

    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    sandbox = HubSpotSandbox(rate_limit=limit, rate_interval_ms=WINDOW_SECONDS * 1000)
    sandbox.add_contacts(PORTAL, contacts, modified_ms=int((time.time() - 86400) * 1000))
    for i in range(0, contacts, 97):  # every 97th has a phone that is no phone
        record = sandbox.portal(PORTAL).contacts[str(1001 + i)]
        record.properties["phone"] = f"n/a {i}"
    server = sandbox.start()
    conn.send((server.url, sandbox.issue_token(PORTAL, expires_in=86400)))
    conn.recv()
    portal = sandbox.portal(PORTAL)
    conn.send({"requests": portal.requests, "throttled": portal.throttled, "contacts": len(portal.contacts)})
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="20,000 contacts at 50 requests per 10 s")
    parser.add_argument("--contacts", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="requests per 10 s (HubSpot apps: 110)")
    parser.add_argument("--ours", type=float, default=0.01, help="share of contacts only we hold (pushed)")
    args = parser.parse_args()
    contacts = args.contacts or (20_000 if args.quick else 50_000)
    limit = args.limit or (50 if args.quick else 110)

    import redis

    from automations.models import Contact, Shop
    from connector import clients
    from connector.config import Config
    from connector.install import connect_hubspot
    from connector.runtime import Runtime
    from connector.worker.hubspot_sync import sync_hubspot

    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    redis.Redis.from_url(redis_url).flushdb()
    tmp = tempfile.mkdtemp(prefix="parlons-bench-")
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/bench.db"

    here, there = multiprocessing.Pipe()
    box = multiprocessing.get_context("spawn").Process(target=serve_sandbox, args=(contacts, limit, there))
    box.start()
    url, token = here.recv()

    config = Config(database_url=database_url, redis_url=redis_url, hubspot_base_url=url,
                    hubspot_rate_limit=limit, secret_key="bench")
    runtime = Runtime(config)
    from automations.models import Base

    with runtime.db.engine.begin() as conn:
        Base.metadata.drop_all(conn)
    runtime.db.upgrade("heads")
    with runtime.db.transaction() as session:
        shop = Shop(domain=SHOP, name="Bench", status="active", default_region="FR", country="FR")
        session.add(shop)
        session.flush()
        connect_hubspot(runtime, session, shop, token, hub_id=PORTAL, rate_limit=limit)
        mine = int(contacts * args.ours)
        session.add_all(Contact(shop_id=shop.id, phone_e164=f"+33700{i:06d}", email=f"ours{i}@example.com",
                                tags=[], properties={}) for i in range(mine))
        shop_id = shop.id
    time.sleep(WINDOW_SECONDS + 0.5)  # the install's requests leave the window before we measure
    with runtime.db.session() as session:
        client = clients.hubspot_for(runtime, session, session.get(Shop, shop_id))
    failed, started = 0, time.perf_counter()
    try:
        report = sync_hubspot(runtime, shop_id, full=True, client=client)
    except Exception as exc:  # noqa: BLE001 - a failed request ends the run; report it
        failed, report = 1, None
        print(f"sync failed: {exc}", file=sys.stderr)
    seconds = time.perf_counter() - started
    here.send("stop")
    seen = here.recv()
    box.join()
    runtime.close()
    allowed = limit * (math.floor(seconds / WINDOW_SECONDS) + 1)
    moved = (report.pulled + report.pushed) if report else 0
    print(json.dumps({
        "contacts": contacts, "contacts_per_s": round(moved / seconds, 1), "requests": client.requests,
        "throttled": client.throttled, "failed": failed, "seconds": round(seconds, 2), "limit": limit,
        "ceiling_ratio": round(client.requests / seconds / (limit / WINDOW_SECONDS), 3),
        "strict_ratio": round(client.requests / allowed, 3),
        "pulled": report.pulled if report else 0, "pushed": report.pushed if report else 0,
        "invalid_phones": report.invalid_phones if report else 0, "sandbox_requests": seen["requests"],
    }))


if __name__ == "__main__":
    main()
