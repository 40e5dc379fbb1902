"""Campaign benchmark: a segment counted live over a million contacts, and a campaign composed
from "send" by a real worker process, on PostgreSQL.

The shop has N contacts (default 1,000,000): 60% subscribed, 2% opted out, order history (0 to 6
orders, spend, last order date), 5% with a tracked-link click in the last 60 days, tags, 2,000
distinct first names. The
segment is "tagged promo, or clicked in the last 30 days": about 10% of the shop is reachable in it
(about 100,000 of a million).

Figures (one JSON line):
- `count_ms`: p50 of the segment's live count (matching, reachable, why not) over 7 runs;
- `compose_per_s`: recipients composed and scheduled per second by the campaign job in a worker
  process, from "send" (audience resolved, then batches: personalisation, one short link per
  recipient, footer, encoding, send window, message rows);
- `peak_rss_mb`: that worker's peak resident memory;
- `baseline_per_s`: the same composition with one RQ job per recipient (a SimpleWorker, same
  run), and `ratio` = compose_per_s / baseline_per_s.

Targets on 2 cores: count_ms < 1,000, compose_per_s >= 5,000, peak_rss_mb < 300.

Uses DATABASE_URL (default: PostgreSQL database `parlons_bench_campaign` on 127.0.0.1, created if
missing; its tables are dropped and migrated afresh) and REDIS_URL (default
redis://127.0.0.1:6379/12; flushed).

    python bench/campaign.py [--quick] [--contacts N] [--baseline N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from _databases import ensure_database  # noqa: E402

SHOP = "bench-campaign.myshopify.com"
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/parlons_bench_campaign"
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
PREFIX = "bench-campaign"
SEGMENT = {"any": [{"field": "contact.tags", "op": "contains", "value": "promo"},
                   {"field": "engagement.clicked", "op": "within_days", "value": 30}]}
TEMPLATE = ("{{ first_name | default('Bonjour') }}, vente flash : -30 % sur tout le site jusqu'à minuit "
            "avec le code {{ discount_code }} https://boutique.example/flash")
_CONTACTS = """
INSERT INTO contacts (shop_id, phone_e164, first_name, locale, tags, orders_count, total_spent, last_order_at,
                      consent_status, consent_source, consent_updated_at, opted_out_at, properties, created_at,
                      updated_at)
SELECT :shop, '+336' || lpad((10000000 + g)::text, 8, '0'),
       (ARRAY['Camille','Léa','Hugo','Zoé','Noah','Inès','Jules','Chloé'])[1 + g % 8] || (g / 8) % 250,
       CASE WHEN g % 10 = 3 THEN 'en' ELSE 'fr' END,
       (CASE WHEN g % 10 = 0 THEN '["promo","vip"]' WHEN g % 10 = 1 THEN '["newsletter"]' ELSE '[]' END)::json,
       g % 7, ((g % 7) * 37.5)::text, CASE WHEN g % 7 > 0 THEN now() - (g % 400) * interval '1 day' END,
       CASE WHEN (g / 7) % 5 < 3 THEN 'subscribed' ELSE 'not_subscribed' END, 'shopify', now() - interval '90 days',
       CASE WHEN (g / 3) % 50 = 7 THEN now() END, '{}'::json, now() - (g % 900) * interval '1 day', now()
FROM generate_series(1, :n) AS g
"""
_CLICKS = """
INSERT INTO links (code, shop_id, contact_id, target_url, created_at)
SELECT 'b' || c.id, c.shop_id, c.id, 'https://boutique.example/', now() - (c.id % 60) * interval '1 day'
FROM contacts c WHERE c.id % 20 = 5;
INSERT INTO link_clicks (link_id, clicked_at) SELECT l.id, l.created_at FROM links l;
"""


def prepare(db_url: str, redis_url: str, contacts: int):  # noqa: ANN201
    """A fresh schema, a French shop, its contacts and their history, a flushed Redis."""
    from automations import segments
    from automations.models import Base, Shop, utcnow
    from connector.config import Config
    from connector.runtime import Runtime

    ensure_database(db_url)
    runtime = Runtime(Config(database_url=db_url, redis_url=redis_url, queue_prefix=PREFIX))
    with runtime.db.engine.begin() as conn:
        if conn.dialect.name != "postgresql":
            raise SystemExit("this benchmark runs on PostgreSQL")
        Base.metadata.drop_all(conn)
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    runtime.db.upgrade("heads")
    runtime.redis.flushdb()
    with runtime.db.transaction() as session:
        shop = Shop(domain=SHOP, name="Boutique Banc d'Essai", currency="EUR", country="FR",
                    sms_number="+33757000001", installed_at=utcnow(), timezone="Europe/Paris",
                    settings={"public_url": "https://sms.example.org"})
        session.add(shop)
        session.flush()
        session.execute(sa.text(_CONTACTS), {"shop": shop.id, "n": contacts})
        for statement in _CLICKS.strip().split(";\n"):
            session.execute(sa.text(statement))
        segment = segments.create(session, shop, {"key": "promo", "name": "Promo", "conditions": SEGMENT})
        ids = (shop.id, segment.id)
    with runtime.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    return runtime, ids


def count_ms(runtime, shop_id: int, runs: int = 7) -> tuple[float, dict]:  # noqa: ANN001
    from automations.models import utcnow
    from automations.segments_sql import Compiler, count

    times, found = [], {}
    for _ in range(runs):
        with runtime.db.session() as session:
            started = time.perf_counter()
            compiler = Compiler(session, shop_id, utcnow())
            found = count(session, compiler, compiler.where(SEGMENT))
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), found


def new_campaign(runtime, shop_id: int, segment_id: int, name: str) -> int:  # noqa: ANN001
    from automations import campaign_send, campaigns
    from automations.models import Shop, utcnow

    with runtime.db.transaction() as session:
        shop = session.get(Shop, shop_id)
        campaign = campaigns.create(session, shop, {
            "name": name, "audience": {"include": [segment_id]}, "discount_code": "FLASH30",
            "variants": [{"templates": {"fr": TEMPLATE, "en": TEMPLATE}}]})
        campaign_send.schedule(session, shop, campaign, {"mode": "now"}, utcnow())
        return campaign.id


# --- In the worker process --------------------------------------------------------------------


def _runtime(db_url: str, redis_url: str):  # noqa: ANN202
    from connector.config import Config
    from connector.runtime import Runtime, install

    return install(Runtime(Config(database_url=db_url, redis_url=redis_url, queue_prefix=PREFIX)))


def compose_run(db_url: str, redis_url: str, campaign_id: int) -> None:
    """`--compose ID`: the campaign job, as a worker runs it; prints its figures."""
    from connector.worker.campaigns import advance

    runtime = _runtime(db_url, redis_url)
    started = time.perf_counter()
    done = advance(runtime, campaign_id)
    seconds = time.perf_counter() - started
    print(json.dumps({"composed": done["composed"], "seconds": seconds,
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


def compose_one(campaign_id: int) -> int:
    """The baseline job: one recipient per RQ job."""
    from automations import campaign_send
    from automations.models import Campaign, Shop, utcnow
    from connector.runtime import current

    with current().db.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        return campaign_send.compose_batch(session, session.get(Shop, campaign.shop_id), campaign, utcnow(), 1)


def baseline_run(db_url: str, redis_url: str) -> None:
    """`--baseline-worker`: a SimpleWorker in burst mode over the queued one-recipient jobs."""
    from rq import SimpleWorker

    import automations.campaign_send  # noqa: F401 - imported before the clock starts

    runtime = _runtime(db_url, redis_url)
    started = time.perf_counter()
    SimpleWorker([runtime.queue("sync")], connection=runtime.redis).work(burst=True, logging_level="WARNING")
    print(json.dumps({"seconds": time.perf_counter() - started}))


def _child(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 contacts and a 300-recipient baseline.")
    parser.add_argument("--contacts", type=int, help="Contacts in the shop (default 1,000,000).")
    parser.add_argument("--baseline", type=int, help="Recipients composed one job each (default 2,000).")
    parser.add_argument("--db", default=os.environ.get("DATABASE_URL") or DEFAULT_DB, help=argparse.SUPPRESS)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL") or DEFAULT_REDIS, help=argparse.SUPPRESS)
    parser.add_argument("--compose", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--baseline-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compose:
        compose_run(args.db, args.redis, args.compose)
        return
    if args.baseline_worker:
        baseline_run(args.db, args.redis)
        return
    contacts = args.contacts or (100_000 if args.quick else 1_000_000)
    baseline = args.baseline or (300 if args.quick else 2_000)
    runtime, (shop_id, segment_id) = prepare(args.db, args.redis, contacts)
    median_ms, counted = count_ms(runtime, shop_id)
    campaign_id = new_campaign(runtime, shop_id, segment_id, "Vente flash")
    batched = _child("--compose", str(campaign_id), "--db", args.db, "--redis", args.redis)
    other = new_campaign(runtime, shop_id, segment_id, "Vente flash, un job par destinataire")
    from connector.worker.campaigns import advance

    advance(runtime, other, batch=0)  # starts it (audience resolved): the jobs below compose
    queue = runtime.queue("sync")
    with runtime.redis.pipeline() as pipe:
        for _ in range(baseline):
            queue.enqueue_call("bench.campaign.compose_one", args=(other,), pipeline=pipe)
        pipe.execute()
    one_by_one = _child("--baseline-worker", "--db", args.db, "--redis", args.redis)
    compose_per_s = batched["composed"] / batched["seconds"]
    baseline_per_s = baseline / one_by_one["seconds"]
    print(json.dumps({
        "contacts": contacts, "matching": counted["matching"], "reachable": counted["reachable"],
        "count_ms": round(median_ms, 1), "composed": batched["composed"], "compose_per_s": round(compose_per_s),
        "peak_rss_mb": batched["peak_rss_mb"], "baseline": baseline, "baseline_per_s": round(baseline_per_s, 1),
        "ratio": round(compose_per_s / baseline_per_s, 1),
    }))
    runtime.close()


if __name__ == "__main__":
    main()
