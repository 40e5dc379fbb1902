"""Exactly once under real faults: dispatch worker processes SIGKILLed every few seconds while
the Twilio sandbox accepts then times out, or accepts then answers 500, on a share of sends."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from automations.models import Contact, Message, Shop, ShopSmsSettings, utcnow
from connector.runtime import Runtime
from integrations.sandbox_faults import FaultMode
from integrations.serving import serve
from integrations.twilio.sandbox import TwilioSandbox

SID, TOKEN, NUMBER = "AC" + "f" * 32, "sandbox-fault-token", "+33757000010"
MESSAGES = int(os.environ.get("PARLONS_FAULT_MESSAGES", "10000"))
ROOT = Path(__file__).resolve().parents[2]


def _seed(runtime: Runtime, n: int) -> None:
    now = utcnow()
    with runtime.db.transaction() as session:
        shop = Shop(domain="faults.myshopify.com", sms_number=NUMBER, country="FR")
        session.add(shop)
        session.flush()
        session.add(ShopSmsSettings(shop_id=shop.id, provider="twilio", sender_kind="number", sender=NUMBER,
                                    sender_mps=100_000))
        session.execute(sa.insert(Contact), [
            {"shop_id": shop.id, "phone_e164": f"+336{i:08d}", "consent_status": "subscribed"} for i in range(n)])
        contacts = dict(session.execute(sa.select(Contact.phone_e164, Contact.id)).all())
        session.execute(sa.insert(Message), [
            {"shop_id": shop.id, "contact_id": contacts[f"+336{i:08d}"], "direction": "outbound",
             "kind": "transactional", "to_phone": f"+336{i:08d}", "body": f"Commande {i} expédiée",
             "status": "scheduled", "idempotency_key": f"fault:{i}", "send_at": now} for i in range(n)])


def _worker(env: dict[str, str]) -> subprocess.Popen:
    log = open(os.environ.get("PARLONS_FAULT_LOG", os.devnull), "a")  # noqa: SIM115 - the child keeps it
    return subprocess.Popen([sys.executable, "-m", "connector.worker.dispatch_loop"], cwd=ROOT, env=env,
                            stdout=log, stderr=log)


def test_workers_killed_mid_send_with_lost_answers_send_every_message_exactly_once(config, database, redis_conn):
    if not config.database_url.startswith("postgresql"):
        pytest.skip("several worker processes claiming at once need PostgreSQL (FOR UPDATE SKIP LOCKED)")
    # given a Twilio sandbox that loses 5% of its answers after accepting and answers 500 after
    # accepting 5% more, and 10,000 messages due
    sandbox = TwilioSandbox(SID, TOKEN, deliver=False, seed=7)
    sandbox.faults.rate(0.05, FaultMode.ACCEPT_THEN_TIMEOUT, seconds=2)
    sandbox.faults.rate(0.05, FaultMode.ACCEPT_THEN_5XX)
    server = serve(sandbox.app)
    runtime = Runtime(config)
    _seed(runtime, MESSAGES)
    env = {**os.environ, "DATABASE_URL": config.database_url, "REDIS_URL": config.redis_url,
           "PARLONS_SECRET_KEY": config.secret_key, "PARLONS_TWILIO_ACCOUNT_SID": SID,
           "PARLONS_TWILIO_AUTH_TOKEN": TOKEN, "PARLONS_TWILIO_BASE_URL": server.url,
           "PARLONS_SMS_SEND_TIMEOUT": "1", "PARLONS_UNKNOWN_GRACE_SECONDS": "3",
           "PARLONS_DISPATCH_LEASE_SECONDS": "2", "PARLONS_DISPATCH_CONCURRENCY": "32",
           "PARLONS_SMS_ACCOUNT_RATE_PER_SECOND": "100000", "PARLONS_FAILOVER_THRESHOLD": "1000000"}
    workers = [_worker(env), _worker(env)]
    killed, rng = 0, random.Random(3)

    def pending() -> int:
        with runtime.db.session() as session:
            return session.scalar(sa.select(sa.func.count()).select_from(Message)
                                  .where(Message.status != "sent"))

    try:
        # when a worker is SIGKILLed every two seconds while the send goes on (and replaced)
        deadline = time.monotonic() + 600  # a loaded machine is slower, never less exact
        while pending() and time.monotonic() < deadline:
            time.sleep(2)
            if killed < 10:
                victim = workers.pop(rng.randrange(len(workers)))
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                killed += 1
                workers.append(_worker(env))
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        sandbox.close()
        server.stop()
    # then every message ended sent, each phone got its SMS exactly once, and faults did happen
    with runtime.db.session() as session:
        statuses = dict(session.execute(sa.select(Message.status, sa.func.count()).group_by(Message.status)).all())
    runtime.close()
    assert statuses == {"sent": MESSAGES}
    assert sandbox.ledger.accepted == MESSAGES and sandbox.ledger.duplicates == 0
    assert killed >= 3
    assert sandbox.faults.played[FaultMode.ACCEPT_THEN_TIMEOUT] > 0
    assert sandbox.faults.played[FaultMode.ACCEPT_THEN_5XX] > 0
