"""Dispatch benchmark: due messages sent by the product's dispatch workers (separate processes)
to a Twilio stand-in in another process that answers after `--latency-ms`, through the official
`twilio` library, compared in the same run with the same library alone at the same concurrency
(`raw_rps`) and with the one-by-one path dispatch had before (`baseline_msgs_per_s`).

The messages are marketing messages to consented contacts whose send window is open now (the
first of a few countries whose legal window is open at run time; transactional when none is),
with the frequency caps on. The sender's and the account's rate limits are lifted: this measures
the dispatch path, not a provider's contract.

Prints one JSON line: messages, msgs_per_s, p50_ms, p99_ms (due -> accepted), duplicates
(counted at the stand-in), worker_rss_mb, raw_rps, raw_rps_gevent (the same calls on gevent
greenlets instead of threads), ratio_to_raw, baseline_msgs_per_s,
ratio_to_baseline, msgs_per_s_2_workers, kind, latency_ms.

Uses DATABASE_URL (default: PostgreSQL database `parlons_bench_dispatch` on 127.0.0.1, created if
missing; its tables are dropped and migrated afresh) and REDIS_URL (default
redis://127.0.0.1:6379/12; flushed).

    python bench/dispatch.py [--quick] [--messages N] [--latency-ms 150] [--concurrency 200]
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and ("--standin" in sys.argv or "--raw-gevent" in sys.argv):  # before ssl is imported
    from gevent import monkey

    monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from datetime import timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._databases import ensure_database  # noqa: E402

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/parlons_bench_dispatch"
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
SID, TOKEN, NUMBER = "AC" + "b" * 32, "bench-token", "+12125550100"
# (prefix of generated numbers, first subscriber number): recipients in one country, valid numbers
CANDIDATES = (("+336", 10_000_000), ("+1212", 2_000_000), ("+1415", 2_000_000))


def standin(latency: float, port_file: str) -> None:
    """The Twilio stand-in: the sandbox answering after `latency`, served by gevent's WSGI server
    (one process, patched by gevent at start; a held answer costs a greenlet, not a thread)."""
    from gevent.pywsgi import WSGIServer

    from integrations.twilio.sandbox import TwilioSandbox

    sandbox = TwilioSandbox(SID, TOKEN, deliver=False, latency=latency)
    server = WSGIServer(("127.0.0.1", 0), sandbox.app, log=None, backlog=2048)
    server.start()
    Path(port_file).write_text(str(server.server_port))
    server.serve_forever()


def start_standin(latency: float) -> tuple[subprocess.Popen, str]:
    port_file = tempfile.mktemp(prefix="parlons-standin-")
    process = subprocess.Popen([sys.executable, __file__, "--standin", port_file, "--latency-ms", str(latency * 1000)],
                               cwd=ROOT)
    for _ in range(200):
        if Path(port_file).exists() and Path(port_file).read_text():
            break
        time.sleep(0.05)
    url = f"http://127.0.0.1:{Path(port_file).read_text()}"
    os.unlink(port_file)
    return process, url


def prepare(db_url: str, redis_url: str):  # noqa: ANN201
    from automations.models import Base, Shop, ShopSmsSettings, utcnow
    from connector.config import Config
    from connector.runtime import Runtime

    ensure_database(db_url)
    runtime = Runtime(Config(database_url=db_url, redis_url=redis_url))
    with runtime.db.engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    runtime.db.upgrade("heads")
    runtime.redis.flushdb()
    with runtime.db.transaction() as session:
        shop = Shop(domain="bench-dispatch.myshopify.com", name="Banc", country="US", sms_number=NUMBER,
                    installed_at=utcnow())
        session.add(shop)
        session.flush()
        session.add(ShopSmsSettings(shop_id=shop.id, provider="twilio", sender_kind="number", sender=NUMBER,
                                    sender_mps=1_000_000))
    return runtime, shop.id


def recipients() -> tuple[str, int, str]:
    """A country whose marketing window is open now, or transactional messages."""
    from automations import windows
    from automations.models import utcnow
    from automations.policy import ShopPolicy

    now = utcnow()
    for prefix, first in CANDIDATES:
        if windows.next_send_time(f"{prefix}{first}", now, ShopPolicy(), True).send_at <= now:
            return prefix, first, "marketing"
    return CANDIDATES[0][0], CANDIDATES[0][1], "transactional"


def seed(runtime, shop_id: int, start: int, n: int, kind: str, prefix: str, first: int) -> None:  # noqa: ANN001
    from automations.models import Contact, Message, utcnow

    later = utcnow() + timedelta(days=365)
    with runtime.db.transaction() as session:
        phones = [f"{prefix}{first + start + i}" for i in range(n)]
        session.execute(sa.insert(Contact), [
            {"shop_id": shop_id, "phone_e164": p, "consent_status": "subscribed"} for p in phones])
        ids = dict(session.execute(sa.select(Contact.phone_e164, Contact.id).where(Contact.phone_e164.in_(phones))).all())
        session.execute(sa.insert(Message), [
            {"shop_id": shop_id, "contact_id": ids[p], "direction": "outbound", "kind": kind, "to_phone": p,
             "body": f"Soldes : -20% avec le code {start + i}. STOP au 36180", "status": "scheduled",
             "idempotency_key": f"bench:{start + i}", "send_at": later} for i, p in enumerate(phones)])


def run_workers(runtime, n_workers: int, env: dict[str, str], expected: int) -> dict:  # noqa: ANN001
    from automations.models import Message, utcnow

    workers = [subprocess.Popen([sys.executable, "-m", "connector.worker.dispatch_loop"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(n_workers)]
    time.sleep(3)  # the workers start (imports, connections) before the messages come due
    with runtime.db.transaction() as session:
        due = utcnow()
        session.execute(sa.update(Message).where(Message.status == "scheduled").values(send_at=due))
    started = time.monotonic()
    while True:
        with runtime.db.session() as session:
            left = session.scalar(sa.select(sa.func.count()).select_from(Message).where(
                Message.status.in_(("scheduled", "sending", "unknown", "reconciling"))))
        if not left:
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    rss = []
    for worker in workers:
        status = Path(f"/proc/{worker.pid}/status").read_text()
        rss.append(int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024)
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=60)
    with runtime.db.session() as session:
        rows = session.execute(sa.select(Message.sent_at, Message.send_at).where(Message.status == "sent")).all()
        session.execute(sa.update(Message).where(Message.status == "sent").values(status="delivered"))
        session.commit()
    waits = sorted((sent - sent_due).total_seconds() * 1000 for sent, sent_due in rows if sent and sent_due)
    assert len(waits) == expected, f"{len(waits)} of {expected} messages sent"
    return {"msgs_per_s": round(expected / elapsed, 1), "p50_ms": round(waits[len(waits) // 2]),
            "p99_ms": round(waits[int(len(waits) * 0.99) - 1]), "worker_rss_mb": round(max(rss), 1)}


def raw(url: str, n: int, concurrency: int, prefix: str, first: int) -> float:
    """The same library calls at the same concurrency, with nothing of Parlons around them."""
    from integrations.twilio.client import TwilioClient

    client = TwilioClient(SID, TOKEN, from_number=NUMBER, base_url=url, pool_size=concurrency)
    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda i: client.send(f"{prefix}{first + 900_000 + i}", f"raw {i}"), range(n)))
    return n / (time.monotonic() - started)


def raw_gevent(url: str, n: int, concurrency: int, prefix: str, first: int) -> float:
    """The same calls on greenlets (this process patched by gevent): the alternative to threads."""
    from gevent.pool import Pool

    from integrations.twilio.client import TwilioClient

    client = TwilioClient(SID, TOKEN, from_number=NUMBER, base_url=url, pool_size=concurrency)
    started = time.monotonic()
    Pool(concurrency).map(lambda i: client.send(f"{prefix}{first + 950_000 + i}", f"gevent {i}"), range(n))
    return n / (time.monotonic() - started)


def baseline(runtime, url: str, n: int) -> float:  # noqa: ANN001
    """The path dispatch had before: one message after the other, three transactions each."""
    from automations import dispatch
    from automations.models import Message, utcnow
    from integrations.twilio.client import TwilioClient

    client = TwilioClient(SID, TOKEN, from_number=NUMBER, base_url=url)
    with runtime.db.transaction() as session:
        session.execute(sa.update(Message).where(Message.status == "scheduled").values(send_at=utcnow()))
    started = time.monotonic()
    with runtime.db.transaction() as session:
        ids = [m.id for m in dispatch.claim_due(session, utcnow(), n)]
    for message_id in ids:
        with runtime.db.transaction() as session:
            message = session.get(Message, message_id)
            if not dispatch.check_before_send(session, message, utcnow(), runtime.redis).send:
                continue
            to, body = message.to_phone, message.body
        result = client.send(to, body)
        with runtime.db.transaction() as session:
            dispatch.record_result(session, session.get(Message, message_id), provider="twilio",
                                   provider_message_id=result.sid, status=result.status, now=utcnow())
    return len(ids) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 messages, a 40-message baseline.")
    parser.add_argument("--messages", type=int, help="Messages per worker run (default 100,000).")
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--concurrency", type=int, default=200, help="Requests in flight per worker.")
    parser.add_argument("--standin", help=argparse.SUPPRESS)
    parser.add_argument("--raw-gevent", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--db", default=os.environ.get("DATABASE_URL") or DEFAULT_DB, help=argparse.SUPPRESS)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL") or DEFAULT_REDIS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    if args.standin:
        standin(latency, args.standin)
        return
    if args.raw_gevent:
        url, count, concurrency, prefix, first = args.raw_gevent
        print(raw_gevent(url, int(count), int(concurrency), prefix, int(first)))
        return
    n = args.messages or (10_000 if args.quick else 100_000)
    n_baseline = 40 if args.quick else 200
    runtime, shop_id = prepare(args.db, args.redis)
    prefix, first, kind = recipients()
    process, url = start_standin(latency)
    env = {**os.environ, "DATABASE_URL": args.db, "REDIS_URL": args.redis, "PARLONS_TWILIO_ACCOUNT_SID": SID,
           "PARLONS_TWILIO_AUTH_TOKEN": TOKEN, "PARLONS_TWILIO_BASE_URL": url,
           "PARLONS_DISPATCH_CONCURRENCY": str(args.concurrency), "PARLONS_DISPATCH_BATCH_SIZE": "1000",
           "PARLONS_SMS_ACCOUNT_RATE_PER_SECOND": "1000000"}
    try:
        seed(runtime, shop_id, 0, n, kind, prefix, first)
        one = run_workers(runtime, 1, env, n)
        seed(runtime, shop_id, n, n, kind, prefix, first)
        two = run_workers(runtime, 2, env, n)
        raw_rps = raw(url, min(n, 20_000), args.concurrency, prefix, first)
        gevent_rps = float(subprocess.run(
            [sys.executable, __file__, "--raw-gevent", url, str(min(n, 20_000)), str(args.concurrency), prefix,
             str(first)], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        seed(runtime, shop_id, 2 * n, n_baseline, kind, prefix, first)
        base = baseline(runtime, url, n_baseline)
        ledger = requests.get(f"{url}/sandbox/ledger", timeout=10).json()
    finally:
        process.terminate()
        process.wait()
        runtime.close()
    print(json.dumps({
        "bench": "dispatch", "messages": n, "kind": kind, "latency_ms": args.latency_ms, **one,
        "duplicates": ledger["duplicates"], "raw_rps": round(raw_rps, 1), "raw_rps_gevent": round(gevent_rps, 1),
        "ratio_to_raw": round(one["msgs_per_s"] / raw_rps, 2), "baseline_msgs_per_s": round(base, 1),
        "ratio_to_baseline": round(one["msgs_per_s"] / base, 1), "msgs_per_s_2_workers": two["msgs_per_s"],
    }))


if __name__ == "__main__":
    main()
