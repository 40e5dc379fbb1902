"""Dispatch through each shop's provider: routes, exactly-once with unknown outcomes, feedback of
provider errors into contacts, rate limits and failover, against the sandboxes over HTTP."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from automations.models import Contact, Message, Shop, ShopSmsSettings, utcnow
from connector.runtime import Runtime
from connector.worker.dispatch import dispatch_due, recover_stuck
from integrations.brevo.sandbox import BrevoSandbox
from integrations.sandbox_faults import FaultMode
from integrations.serving import serve
from integrations.twilio.sandbox import TwilioSandbox

SID, TOKEN, BREVO_KEY = "AC" + "e" * 32, "sandbox-token", "xkeysib-dispatch-test"
NUMBER = "+33757000009"


@dataclasses.dataclass
class World:
    runtime: Runtime
    twilio: TwilioSandbox
    brevo: BrevoSandbox
    shop_id: int

    def messages(self, n: int, *, first: int = 0, phone: str | None = None) -> list[int]:
        """`n` transactional messages due now, each to its own subscribed contact."""
        with self.runtime.db.transaction() as session:
            ids = []
            for i in range(first, first + n):
                to = phone or f"+3361{i:07d}"
                contact = session.scalar(sa.select(Contact).where(Contact.shop_id == self.shop_id,
                                                                  Contact.phone_e164 == to))
                if contact is None:
                    contact = Contact(shop_id=self.shop_id, phone_e164=to, consent_status="subscribed")
                    session.add(contact)
                    session.flush()
                message = Message(shop_id=self.shop_id, contact_id=contact.id, direction="outbound",
                                  kind="transactional", to_phone=to, body=f"Votre commande {i} est partie",
                                  status="scheduled", idempotency_key=f"t:{i}", send_at=utcnow())
                session.add(message)
                session.flush()
                ids.append(message.id)
            return ids

    def statuses(self) -> dict[str, int]:
        with self.runtime.db.session() as session:
            return dict(session.execute(sa.select(Message.status, sa.func.count()).group_by(Message.status)).all())

    def run_until_settled(self, seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            dispatch_due(self.runtime)
            if set(self.statuses()) <= {"sent", "failed", "suppressed"}:
                return
            time.sleep(0.2)
        raise AssertionError(f"not settled: {self.statuses()}")

    def choose(self, **settings) -> None:
        with self.runtime.db.transaction() as session:
            session.merge(ShopSmsSettings(shop_id=self.shop_id, **settings))


@pytest.fixture
def world(config, database, redis_conn):
    twilio, brevo = TwilioSandbox(SID, TOKEN, deliver=False), BrevoSandbox(BREVO_KEY)
    servers = [serve(twilio.app), serve(brevo.app)]
    cfg = dataclasses.replace(
        config, twilio_account_sid=SID, twilio_auth_token=TOKEN, twilio_base_url=servers[0].url,
        brevo_api_key=BREVO_KEY, brevo_base_url=f"{servers[1].url}/v3", sms_send_timeout=1,
        unknown_grace_seconds=1, dispatch_concurrency=16, failover_threshold=3,
        failover_cooldown_seconds=30, sms_rate_per_second=1000, sms_account_rate_per_second=1000)
    runtime = Runtime(cfg)
    with runtime.db.transaction() as session:
        shop = Shop(domain="dispatch.myshopify.com", sms_number=NUMBER, country="FR")
        session.add(shop)
        session.flush()
        shop_id = shop.id
    yield World(runtime, twilio, brevo, shop_id)
    twilio.close()
    brevo.close()
    for server in servers:
        server.stop()
    runtime.close()


def test_a_shop_that_chose_nothing_sends_through_twilio_from_its_number_once_each(world):
    ids = world.messages(30)
    # when one batch is dispatched
    assert dispatch_due(world.runtime) == 30
    # then every message is sent once, from the shop's number, with Twilio's sid recorded
    assert world.statuses() == {"sent": 30} and world.twilio.ledger.accepted == 30
    assert world.twilio.ledger.duplicates == 0
    assert {m["from"] for m in world.twilio.messages()} == {NUMBER}
    with world.runtime.db.session() as session:
        rows = session.scalars(sa.select(Message).where(Message.id.in_(ids))).all()
        assert all(m.provider == "twilio" and m.provider_message_id.startswith("SM") for m in rows)


def test_a_shop_that_chose_brevo_sends_through_brevo_from_its_alphanumeric_sender(world):
    world.choose(provider="brevo", sender_kind="alphanumeric", sender="BOUTIQUE")
    world.messages(3)
    dispatch_due(world.runtime)
    assert world.statuses() == {"sent": 3}
    assert world.brevo.ledger.accepted == 3 and world.twilio.ledger.accepted == 0
    assert {m.sender for m in world.brevo.messages()} == {"BOUTIQUE"}


@pytest.mark.parametrize("mode", [FaultMode.ACCEPT_THEN_TIMEOUT, FaultMode.ACCEPT_THEN_5XX])
def test_an_accepted_send_whose_answer_is_lost_is_unknown_then_found_never_resent(world, mode):
    # given Twilio accepts the message and its answer never arrives (or is a 500)
    world.twilio.faults.next(1, mode, seconds=3)
    [message_id] = world.messages(1)
    dispatch_due(world.runtime)
    # then the message is unknown, and dispatching again at once does not resend it
    assert world.statuses() == {"unknown": 1}
    dispatch_due(world.runtime)
    assert world.twilio.ledger.accepted == 1
    # when the grace period has passed, the provider is asked and has it: sent, with its sid
    time.sleep(1.2)
    dispatch_due(world.runtime)
    with world.runtime.db.session() as session:
        message = session.get(Message, message_id)
        assert message.status == "sent"
        assert message.provider_message_id == world.twilio.messages()[0]["sid"]
    assert world.twilio.ledger.accepted == 1


def test_a_5xx_before_accepting_is_unknown_then_sent_once_after_asking(world):
    # given Twilio answers 500 without creating the message
    world.twilio.faults.next(1, FaultMode.FAIL)
    world.messages(1)
    dispatch_due(world.runtime)
    assert world.statuses() == {"unknown": 1} and world.twilio.ledger.accepted == 0
    # when asked after the grace period, Twilio has never heard of it: sent again, once
    time.sleep(1.2)
    world.run_until_settled()
    assert world.statuses() == {"sent": 1} and world.twilio.ledger.accepted == 1


def test_messages_a_dead_worker_held_are_reconciled_not_resent(world):
    # given a worker that sent two messages then died before recording anything
    ids = world.messages(3)
    with world.runtime.db.transaction() as session:
        for message in session.scalars(sa.select(Message).where(Message.id.in_(ids))):
            message.status, message.claimed_by = "sending", "gone:1:dead"
            message.attempted_at = utcnow() - timedelta(seconds=2)
            message.provider, message.from_phone = "twilio", NUMBER
    from integrations.twilio.client import TwilioClient
    client = TwilioClient(SID, TOKEN, from_number=NUMBER, base_url=world.runtime.config.twilio_base_url)
    client.send("+33610000000", "Votre commande 0 est partie")
    client.send("+33610000001", "Votre commande 1 est partie")
    # when a live worker recovers and reconciles
    assert recover_stuck(world.runtime) == 3
    assert world.statuses() == {"unknown": 3}
    time.sleep(1.2)
    world.run_until_settled()
    # then each phone has its message exactly once
    assert world.statuses() == {"sent": 3}
    assert world.twilio.ledger.accepted == 3 and world.twilio.ledger.duplicates == 0


def test_carrier_opt_out_is_a_stop_and_an_invalid_number_marks_the_phone(world):
    stopped_phone, invalid_phone = "+33610000000", "+33610000001"
    world.twilio.opt_out(stopped_phone)
    world.twilio.invalid(invalid_phone)
    world.messages(3)
    dispatch_due(world.runtime)
    assert world.statuses() == {"failed": 2, "sent": 1}
    with world.runtime.db.session() as session:
        stopped = session.scalar(sa.select(Contact).where(Contact.phone_e164 == stopped_phone))
        invalid = session.scalar(sa.select(Contact).where(Contact.phone_e164 == invalid_phone))
        assert stopped.opted_out_at is not None
        assert invalid.phone_error.startswith("invalid number")
    # and a later message to the invalid phone is not sent at all
    world.messages(1, first=6, phone=invalid_phone)
    dispatch_due(world.runtime)
    assert world.statuses()["suppressed"] == 1


def test_a_number_that_cannot_be_parsed_is_suppressed_without_holding_the_batch(world):
    world.messages(2)
    world.messages(1, first=5, phone="+3399")
    dispatch_due(world.runtime)
    assert world.statuses() == {"sent": 2, "suppressed": 1}


def test_a_sender_sends_no_faster_than_its_messages_per_second(world):
    world.choose(provider="twilio", sender_kind="number", sender=NUMBER, sender_mps=5)
    world.messages(15)
    started = time.monotonic()
    world.run_until_settled()
    # 5 at once, 5 a second later, 5 two seconds later: a sliding window across batches
    assert time.monotonic() - started >= 1.9
    assert world.statuses() == {"sent": 15} and world.twilio.ledger.accepted == 15


def test_a_429_puts_the_message_back_and_pauses_the_account(world):
    world.twilio.fail_next(10, status=429)  # more than the client's own retries
    world.messages(1)
    dispatch_due(world.runtime)
    assert world.statuses() == {"scheduled": 1} and world.twilio.ledger.accepted == 0
    world.run_until_settled()
    assert world.statuses() == {"sent": 1} and world.twilio.ledger.accepted == 1


def test_failover_takes_over_after_the_threshold_without_any_double_send(world):
    world.choose(provider="twilio", sender_kind="number", sender=NUMBER,
                 failover_provider="brevo", failover_sender_kind="alphanumeric", failover_sender="BOUTIQUE")
    # given Twilio fails every send (5xx: the outcome of each is unknown)
    world.twilio.faults.rate(1.0, FaultMode.FAIL)
    world.messages(5)
    dispatch_due(world.runtime)
    assert world.statuses() == {"unknown": 5}
    # when more messages come, Twilio is past the threshold: they go through Brevo
    world.messages(5, first=5)
    dispatch_due(world.runtime)
    assert world.brevo.ledger.accepted == 5
    # and the unknown ones, once Twilio says it never had them, go through Brevo too
    time.sleep(1.2)
    world.run_until_settled()
    assert world.statuses() == {"sent": 10}
    assert world.brevo.ledger.accepted == 10 and world.twilio.ledger.accepted == 0
    assert world.brevo.ledger.duplicates == 0


def test_without_failover_a_provider_outage_delays_sends_and_loses_none(world):
    world.twilio.faults.rate(1.0, FaultMode.FAIL)
    world.messages(6)
    dispatch_due(world.runtime)
    dispatch_due(world.runtime)
    assert world.twilio.ledger.accepted == 0
    # when Twilio is back and its failure count has expired
    world.twilio.faults.clear()
    world.runtime.redis.delete(*world.runtime.redis.keys("parlons:sms:health:*"))
    time.sleep(1.2)
    world.run_until_settled()
    assert world.statuses() == {"sent": 6} and world.twilio.ledger.accepted == 6


def test_an_image_goes_as_mms_where_the_provider_has_it_and_is_refused_where_not(world):
    [message_id] = world.messages(1)
    with world.runtime.db.transaction() as session:
        session.get(Message, message_id).media_urls = ["https://cdn.example.org/soldes.jpg"]
    dispatch_due(world.runtime)
    [sent] = world.twilio.messages()
    assert sent["num_media"] == "1" and world.statuses() == {"sent": 1}
    # a shop on Brevo (no MMS): the message fails saying why, nothing is sent without its image
    world.choose(provider="brevo", sender_kind="alphanumeric", sender="BOUTIQUE")
    [other] = world.messages(1, first=1)
    with world.runtime.db.transaction() as session:
        session.get(Message, other).media_urls = ["https://cdn.example.org/soldes.jpg"]
    dispatch_due(world.runtime)
    with world.runtime.db.session() as session:
        assert session.get(Message, other).status_reason == "Brevo sends no MMS: media cannot go"
    assert world.brevo.ledger.accepted == 0
