"""Event-processing benchmark: stored Shopify deliveries through the worker side of the product
(translation, contacts and consent, checkouts and orders, exits, rule matching, composition with
short links, send windows, message creation) with real PostgreSQL, real Redis and a real RQ worker.

Customer stories built from the documented payloads (tests/fixtures/shopify/2026-01): customer
created, SMS consent, checkout created and updated, order placed and paid, shipped, out for
delivery, delivered, fulfilled; some orders are cancelled instead. Distinct ids, valid French
mobile numbers, contacts that come back (so caps and "already started" matter). Every ready-made
rule is on.

Two runs over fresh events, timed from the signal until every event is processed:
- batched: the product's path, one signal, and one drain job reading the pending events in batches;
- baseline: the same work with one RQ job per event.

Prints one JSON line: events, events_per_s, baseline_events, baseline_events_per_s, ratio,
messages. Targets on a 2-core machine: events_per_s >= 1000 and ratio >= 7.

Uses DATABASE_URL (default: PostgreSQL database `parlons_bench_events` on 127.0.0.1, created if
missing; its tables are dropped and migrated afresh) and REDIS_URL (default
redis://127.0.0.1:6379/13; flushed).

    python bench/process_events.py [--quick] [--events N] [--baseline-events N] [--worker simple|fork]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from _databases import ensure_database  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "shopify" / "2026-01"
SHOP = "bench-events.myshopify.com"
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/parlons_bench_events"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
PREFIX = "bench"


# --- Events -----------------------------------------------------------------------------------


def _fixture(topic: str) -> dict:
    return json.loads((FIXTURES / f"{topic.replace('/', '__')}.json").read_text())


def stories(count: int, seed: int, tag: str) -> list[tuple[str, str]]:
    """`count` (topic, JSON payload) deliveries, as customer stories one after the other."""
    rng = random.Random(seed)
    offset = seed * 100_000_000
    base = {t: _fixture(t) for t in (
        "customers/create", "customers_marketing_consent/update", "checkouts/create", "checkouts/update",
        "orders/create", "orders/paid", "orders/cancelled", "orders/fulfilled", "fulfillments/create",
        "fulfillments/update")}
    people = max(1, count // 16)
    out: list[tuple[str, str]] = []
    n = 0
    while len(out) < count:
        n += 1
        person = rng.randrange(people)
        phone = f"+336{12000000 + person:08d}"
        first = rng.choice(["Camille", "Léa", "Hugo", "Zoé", "Noah", "Inès", "Jules", "Chloé"])
        customer_id = 7_000_000 + person
        customer_gid = f"gid://shopify/Customer/{customer_id}"
        token = f"{tag}-checkout-{n}"
        order_id = offset + 5_000_000 + n
        order_gid = f"gid://shopify/Order/{order_id}"
        name = f"#{offset // 1_000_000 + 1}{n:06d}"
        total = f"{rng.randint(15, 240)}.{rng.randint(0, 99):02d}"

        def make(topic: str, **changes: object) -> None:
            payload = copy.deepcopy(base[topic])
            payload.update(changes)
            out.append((topic, json.dumps(payload)))

        address = {"first_name": first, "last_name": "Martin", "phone": phone, "country_code": "FR",
                   "country": "France", "city": "Lyon", "zip": "69002", "address1": "1 rue de la République"}
        customer = {"id": customer_id, "admin_graphql_api_id": customer_gid, "first_name": first,
                    "last_name": "Martin", "phone": phone, "email": f"client{person}@example.fr",
                    "default_address": {**address, "default": True}}
        make("customers/create", **customer, locale="fr")
        if rng.random() < 0.7:
            make("customers_marketing_consent/update", id=customer_id, admin_graphql_api_id=customer_gid,
                 phone=phone, sms_marketing_consent={
                     "state": "subscribed", "opt_in_level": "single_opt_in",
                     "consent_updated_at": "2026-01-10T10:00:00+01:00", "consent_collected_from": "SHOPIFY"})
        checkout = {"token": token, "phone": phone, "email": customer["email"], "customer_locale": "fr",
                    "total_price": total, "currency": "EUR", "shipping_address": address,
                    "billing_address": address, "customer": customer,
                    "abandoned_checkout_url": f"https://{SHOP}/checkouts/{token}/recover"}
        make("checkouts/create", **checkout)
        make("checkouts/update", **checkout, updated_at="2026-01-10T10:05:00+01:00")
        order = {"id": order_id, "admin_graphql_api_id": order_gid, "name": name, "checkout_token": token,
                 "phone": phone, "email": customer["email"], "customer": customer, "total_price": total,
                 "currency": "EUR", "shipping_address": address, "billing_address": address,
                 "customer_locale": "fr", "order_status_url": f"https://{SHOP}/orders/{token}"}
        make("orders/create", **order)
        make("orders/paid", **order, financial_status="paid")
        if rng.random() < 0.1:
            make("orders/cancelled", **order, cancel_reason="customer", cancelled_at="2026-01-10T12:00:00+01:00")
            continue
        fulfillment = {"id": offset + n, "order_id": order_id, "name": f"{name}.1",
                       "admin_graphql_api_id": f"gid://shopify/Fulfillment/{offset + n}", "status": "success",
                       "destination": address, "email": customer["email"], "tracking_company": "La Poste",
                       "tracking_number": f"6A{n:011d}", "tracking_url": f"https://www.laposte.fr/outils/suivre-vos-envois?code=6A{n:011d}"}
        make("fulfillments/create", **fulfillment)
        make("fulfillments/update", **fulfillment, shipment_status="out_for_delivery")
        make("fulfillments/update", **fulfillment, shipment_status="delivered")
        make("orders/fulfilled", **order, fulfillment_status="fulfilled")
    return out[:count]


# --- Setup ------------------------------------------------------------------------------------


def prepare(db_url: str, redis_url: str):  # noqa: ANN201
    """A fresh schema, a French shop with every ready-made rule on, a flushed Redis."""
    from automations import rules, shops
    from automations.models import Base, Shop, utcnow
    from connector.config import Config
    from connector.runtime import Runtime

    ensure_database(db_url)
    runtime = Runtime(Config(database_url=db_url, redis_url=redis_url, queue_prefix=PREFIX))
    with runtime.db.engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    runtime.db.upgrade("heads")
    runtime.redis.flushdb()
    with runtime.db.transaction() as session:
        shop = Shop(domain=SHOP, name="Boutique Banc d'Essai", currency="EUR", country="FR",
                    sms_number="+33757000001", installed_at=utcnow(),
                    settings={"public_url": "https://sms.example.org"})
        session.add(shop)
        session.flush()
        for rule in shops.install_default_rules(session, shop):
            if not rule.enabled:
                rules.set_enabled(session, shop, rule.key, True)
    return runtime


def store(runtime, deliveries: list[tuple[str, str]], tag: str) -> list[int]:  # noqa: ANN001
    """Insert the deliveries as received store events (as ingest does); their ids in order."""
    from automations.models import Shop, StoreEvent, utcnow

    with runtime.db.transaction() as session:
        shop_id = session.scalar(sa.select(Shop.id).where(Shop.domain == SHOP))
        now = utcnow()
        rows = [{"source": "shopify", "delivery_id": f"{tag}-{i}", "topic": topic, "shop_id": shop_id,
                 "payload": payload, "status": "received", "outcome": {}, "received_at": now}
                for i, (topic, payload) in enumerate(deliveries)]
        for start in range(0, len(rows), 5000):
            session.execute(sa.insert(StoreEvent), rows[start:start + 5000])
        return list(session.scalars(
            sa.select(StoreEvent.id).where(StoreEvent.delivery_id.like(f"{tag}-%")).order_by(StoreEvent.id)))


# --- Worker -----------------------------------------------------------------------------------


def process_one(event_id: int) -> int:
    """The baseline job: one store event per RQ job."""
    from connector.runtime import current
    from connector.worker.events import process_store_events

    return process_store_events(current(), [event_id])


def run_worker(db_url: str, redis_url: str, kind: str) -> None:
    """`--work`: a real RQ worker on the bench's events queue, until stopped."""
    import connector.worker.events  # noqa: F401 - loaded once here, not in every forked job
    from connector.config import Config
    from connector.runtime import Runtime, install
    from connector.worker.rq_workers import ForkingWorker, InProcessWorker

    runtime = install(Runtime(Config(database_url=db_url, redis_url=redis_url, queue_prefix=PREFIX)))
    cls = InProcessWorker if kind == "simple" else ForkingWorker
    cls([runtime.queue("events")], connection=runtime.redis).work(logging_level="WARNING")


def start_worker(runtime, db_url: str, redis_url: str, kind: str) -> subprocess.Popen:  # noqa: ANN001
    from rq import Worker

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, __file__, "--work", "--worker", kind, "--db", db_url,
                             "--redis", redis_url], env=env)
    deadline = time.monotonic() + 60
    while not Worker.all(connection=runtime.redis):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the RQ worker did not start")
        time.sleep(0.05)
    return proc


def wait_processed(runtime, ids: list[int]) -> None:  # noqa: ANN001
    from automations.models import StoreEvent

    low, high = ids[0], ids[-1]
    while True:
        with runtime.db.session() as session:
            # the last event is handled last: until then, look at it alone, not at every row
            # (counting all of them 20 times a second took CPU from the worker being measured)
            last = session.scalar(sa.select(StoreEvent.status).where(StoreEvent.id == high))
            left = last == "received" or session.scalar(sa.select(sa.func.count()).select_from(StoreEvent).where(
                StoreEvent.id.between(low, high), StoreEvent.status == "received"))
        if not left:
            return
        time.sleep(0.05)


def analyze(runtime) -> None:  # noqa: ANN001
    with runtime.db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ANALYZE"))


def timed(runtime, ids: list[int], batched: bool) -> float:  # noqa: ANN001
    """Seconds from the signal until every event is processed."""

    started = time.perf_counter()
    if batched:
        runtime.signal("events")
    else:
        queue = runtime.queue("events")
        with runtime.redis.pipeline() as pipe:
            for event_id in ids:
                queue.enqueue_call("bench.process_events.process_one", args=(event_id,), pipeline=pipe)
            pipe.execute()
    wait_processed(runtime, ids)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3,000 events and a 300-event baseline.")
    parser.add_argument("--events", type=int, help="Events in the batched run (default 50,000).")
    parser.add_argument("--baseline-events", type=int, help="Events in the one-job-per-event run.")
    parser.add_argument("--worker", choices=("simple", "fork"), default="simple",
                        help="RQ worker class: simple (no fork per job, the faster baseline) or fork.")
    parser.add_argument("--work", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", default=os.environ.get("DATABASE_URL") or DEFAULT_DB, help=argparse.SUPPRESS)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL") or DEFAULT_REDIS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.work:
        run_worker(args.db, args.redis, args.worker)
        return
    events = args.events or (3_000 if args.quick else 50_000)
    baseline_events = args.baseline_events or min(events, 300 if args.quick else 2_000)

    from automations.models import Message

    runtime = prepare(args.db, args.redis)
    batched_ids = store(runtime, stories(events, seed=1, tag="a"), "a")
    analyze(runtime)
    worker = start_worker(runtime, args.db, args.redis, args.worker)
    try:
        batched_s = timed(runtime, batched_ids, batched=True)
        # stored once the batched run is over: the drain reads every pending event
        baseline_ids = store(runtime, stories(baseline_events, seed=2, tag="b"), "b")
        analyze(runtime)
        baseline_s = timed(runtime, baseline_ids, batched=False)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    with runtime.db.session() as session:
        messages = session.scalar(sa.select(sa.func.count()).select_from(Message))
    runtime.close()
    rate, base = events / batched_s, baseline_events / baseline_s
    print(json.dumps({
        "bench": "process_events", "events": events, "events_per_s": round(rate, 1),
        "baseline_events": baseline_events, "baseline_events_per_s": round(base, 1),
        "ratio": round(rate / base, 2), "messages": messages, "worker": args.worker,
    }))


if __name__ == "__main__":
    main()
