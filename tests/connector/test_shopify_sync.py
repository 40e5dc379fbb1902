"""Customer sync from Shopify against the sandbox over HTTP: bulk and paged, throttled,
interrupted and resumed, incremental, merged with contacts we already hold."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from automations.models import ConsentEvent, Contact, SyncState
from connector.commands.sync_shopify import shopify as sync_shopify
from connector.worker import shopify_sync
from connector.worker.shopify_sync import SyncError, run_sync
from tests.connector.conftest import SHOP


class Crash(RuntimeError):
    pass


def contacts(live) -> list[Contact]:
    with live.runtime.db.session() as s:
        return list(s.scalars(sa.select(Contact).order_by(Contact.id)))


def sync_state(live) -> SyncState:
    with live.runtime.db.session() as s:
        return s.scalar(sa.select(SyncState))


def test_bulk_sync_of_ten_thousand_customers_under_throttling_imports_each_once_and_resumes(live):
    # given a store of 10,000 customers and Shopify refusing every other request (THROTTLED / 429)
    sandbox = live.boxes.shopify
    sandbox.add_customers(SHOP, 10_000)
    sandbox.throttle_hard(every=2, retry_after=0.01)
    seen: list[tuple[int, int | None]] = []

    def crash_after_three_batches(done: int, total: int | None) -> None:
        seen.append((done, total))
        if done >= 3_000:
            raise Crash("worker killed")

    # when the sync dies after three batches of 1,000
    with pytest.raises(Crash):
        run_sync(live.runtime, SHOP, progress=crash_after_three_batches, batch_size=1_000, poll_interval=0.01)
    # then what was done is kept, with the cursor that says so
    state = sync_state(live)
    assert state.status == "failed" and state.processed == 3_000 and state.total == 10_000
    assert len(contacts(live)) == 3_000
    # when it runs again, it resumes: only the 7,000 left are imported, from the same bulk operation
    result = run_sync(live.runtime, SHOP, batch_size=1_000, poll_interval=0.01)
    assert result.mode == "bulk" and result.resumed
    assert result.imported == 7_000 and result.processed == 10_000
    assert len(sandbox.shops[SHOP].bulk_ops) == 1
    assert sandbox.throttled > 0
    # and every customer is a contact once, with the consent Shopify holds
    rows = contacts(live)
    assert len(rows) == 10_000
    assert len({c.shopify_customer_id for c in rows}) == 10_000
    by_gid = {c.shopify_customer_id: c for c in rows}
    expected = Counter()
    for i in range(10_000):
        node = sandbox.customer(SHOP, f"gid://shopify/Customer/{1_000_000 + i}")
        consent = node["smsMarketingConsent"]
        expected[consent["marketingState"].lower() if consent else "not_subscribed"] += 1
    assert Counter(c.consent_status for c in rows) == expected
    with live.runtime.db.session() as s:
        ledger = s.scalar(sa.select(sa.func.count()).select_from(ConsentEvent))
    assert ledger == 9_000  # one statement per customer with a consent (every tenth has no phone)
    # and the fields a message needs are there
    c = by_gid["gid://shopify/Customer/1000050"]
    assert (c.first_name, c.email, c.phone_e164, c.tags) == ("Camille", "customer50@example.com", "+33610000050", ["vip"])
    assert (c.orders_count, c.total_spent, c.locale) == (2, "79.80", "fr")
    assert c.last_order_at is not None and c.consent_source == "shopify"
    final = sync_state(live)
    assert final.status == "done" and final.cursor is None and final.since is not None


def test_a_small_store_is_paged_and_a_second_run_takes_only_what_changed(live):
    # given a store of 300 customers
    sandbox = live.boxes.shopify
    sandbox.add_customers(SHOP, 300)
    first = run_sync(live.runtime, SHOP)
    assert (first.mode, first.imported, first.total) == ("pages", 300, 300)
    # when one customer subscribes to SMS in Shopify and another customer is created
    gid = "gid://shopify/Customer/1000001"  # not subscribed so far
    sandbox.shops[SHOP].overrides[1] = {**sandbox.customer(SHOP, gid), "updatedAt": "2099-01-01T00:00:00Z",
                                       "smsMarketingConsent": {"marketingState": "SUBSCRIBED",
                                                               "marketingOptInLevel": "SINGLE_OPT_IN",
                                                               "consentUpdatedAt": "2099-01-01T00:00:00Z",
                                                               "consentCollectedFrom": "SHOPIFY"}}
    sandbox.add_customer(SHOP, firstName="Zoé", phone="+33699999999", updatedAt="2099-01-01T00:00:00Z")
    second = run_sync(live.runtime, SHOP)
    # then the incremental run reads those two only, and the consent change is in the ledger
    assert (second.mode, second.imported) == ("pages", 2)
    rows = contacts(live)
    assert len(rows) == 301
    changed = next(c for c in rows if c.shopify_customer_id == gid)
    assert changed.consent_status == "subscribed"
    with live.runtime.db.session() as s:
        statements = s.scalars(sa.select(ConsentEvent.status).where(ConsentEvent.contact_id == changed.id)
                               .order_by(ConsentEvent.id)).all()
    assert statements == ["not_subscribed", "subscribed"]


def test_a_customer_we_already_know_by_phone_is_completed_not_duplicated(live):
    # given a contact created from an SMS (same phone as Shopify customer 3, no customer id yet)
    from automations.contacts import upsert_contact
    from automations.events import ContactData
    from automations.models import Shop

    with live.runtime.db.transaction() as s:
        shop = s.scalar(sa.select(Shop))
        upsert_contact(s, shop, ContactData(phone="+33610000003"), source="sms")
    live.boxes.shopify.add_customers(SHOP, 5)
    # when the store is synced
    run_sync(live.runtime, SHOP)
    # then that contact now carries the customer's id and name, and there is no second one
    rows = contacts(live)
    assert len(rows) == 5
    merged = next(c for c in rows if c.phone_e164 == "+33610000003")
    assert merged.shopify_customer_id == "gid://shopify/Customer/1000003"
    assert merged.first_name == "Hugo" and merged.properties.get("created_from") == "sms"


def test_an_invalid_phone_is_imported_without_a_phone_and_listed(live):
    live.boxes.shopify.add_customer(SHOP, phone="555-SHOP", firstName="Nina")
    result = run_sync(live.runtime, SHOP)
    [contact] = contacts(live)
    assert contact.phone_e164 is None and contact.phone_raw == "555-SHOP" and "555-SHOP" in contact.phone_error
    assert result.invalid_phones == 1
    assert sync_state(live).invalid[0]["phone"] == "555-SHOP"


def test_a_second_sync_of_the_same_shop_at_the_same_time_is_refused(live):
    lock = live.runtime.redis.lock(f"parlons:sync:shopify:{SHOP}", timeout=60)
    assert lock.acquire(blocking=False)
    try:
        with pytest.raises(SyncError, match="already running"):
            run_sync(live.runtime, SHOP)
    finally:
        lock.release()


def test_an_uninstalled_shop_is_not_synced(live):
    from automations.models import Shop

    with live.runtime.db.transaction() as s:
        s.scalar(sa.select(Shop)).status = "uninstalled"
    with pytest.raises(SyncError, match="not an installed shop"):
        run_sync(live.runtime, SHOP)


def test_the_cli_shows_progress_and_the_worker_job_runs_the_same_sync(live):
    live.boxes.shopify.add_customers(SHOP, 8)
    # when the merchant runs the command
    answer = live.app.test_cli_runner().invoke(sync_shopify, ["--shop", SHOP, "--full"])
    # then it reports what it did (the progress bar writes to stderr)
    assert answer.exit_code == 0, answer.output
    assert "8 customers read via pages" in answer.output
    # and a queued sync runs in a real worker
    live.boxes.shopify.add_customer(SHOP, firstName="Rose", phone="+33688888888", updatedAt="2099-01-01T00:00:00Z")
    shopify_sync.enqueue_sync(live.runtime, SHOP)
    live.work()
    assert len(contacts(live)) == 9


def test_a_stop_reaches_shopify_and_its_echo_adds_nothing_to_the_ledger(live):
    # given a Shopify customer subscribed to SMS, imported by the sync
    sandbox = live.boxes.shopify
    sandbox.add_customers(SHOP, 1)
    gid = "gid://shopify/Customer/1000000"
    run_sync(live.runtime, SHOP)
    assert sandbox.customer(SHOP, gid)["smsMarketingConsent"]["marketingState"] == "SUBSCRIBED"
    # when they reply STOP
    live.boxes.twilio.send_inbound("+33610000000", "+33757000001", "STOP")
    live.work()
    # then Shopify has them unsubscribed
    assert sandbox.customer(SHOP, gid)["smsMarketingConsent"]["marketingState"] == "UNSUBSCRIBED"
    with live.runtime.db.session() as s:
        ledger_before = s.scalars(sa.select(ConsentEvent.source).order_by(ConsentEvent.id)).all()
    # when Shopify sends our own change back as customers_marketing_consent/update
    echo = {"id": 1_000_000, "phone": "+33610000000",
            "sms_marketing_consent": {"state": "unsubscribed", "opt_in_level": "single_opt_in",
                                      "consent_updated_at": sandbox.customer(SHOP, gid)["updatedAt"],
                                      "consent_collected_from": "OTHER"}}
    sandbox.emit_webhook("customers_marketing_consent/update", echo, f"{live.url}/webhooks/shopify",
                         live.runtime.config.shopify_api_secret, shop=SHOP)
    live.work()
    # then it neither loops back to Shopify nor adds a ledger entry
    with live.runtime.db.session() as s:
        assert s.scalars(sa.select(ConsentEvent.source).order_by(ConsentEvent.id)).all() == ledger_before
        from automations.models import OutboundWrite

        shopify_writes = s.scalars(sa.select(OutboundWrite).where(OutboundWrite.target == "shopify")).all()
    assert [(w.payload["status"], w.status) for w in shopify_writes] == [("unsubscribed", "done")]


# --- the helpers that make a large import fast ----------------------------------------------


def test_rows_inserted_through_the_driver_read_back_and_compare_like_rows_the_orm_wrote(database):
    from datetime import UTC, datetime, timedelta, timezone

    from automations.models import Shop
    from connector.worker.bulk_rows import insert_plain

    # given the same contact values, one row written by the ORM and one by insert_plain
    paris = timezone(timedelta(hours=1))
    values = {"email": None, "tags": ["vip", "été"], "properties": {"created_from": "shopify", "n": 1},
              "consent_status": "subscribed", "phone_raw": "06 10 00 00 01",
              "consent_updated_at": datetime(2025, 3, 1, 10, 0, tzinfo=paris),  # 09:00 UTC, no microseconds
              "last_order_at": datetime(2025, 3, 1, 9, 0, 0, 250, tzinfo=UTC), "source_updated_at": None}
    with database.transaction() as s:
        shop = Shop(domain="helpers.myshopify.com")
        s.add(shop)
        s.flush()
        s.add(Contact(shop_id=shop.id, shopify_customer_id="orm", **values))
        s.flush()
        now = datetime.now(UTC)
        insert_plain(s.connection(), Contact.__table__, [{"shop_id": shop.id, "shopify_customer_id": "plain",
                                                          **values, "created_at": now, "updated_at": now}])
    # when both are read back
    with database.session() as s:
        rows = {c.shopify_customer_id: c for c in s.scalars(sa.select(Contact))}
        # then comparisons in SQL treat both alike (on SQLite, the stored text must match)
        at_nine = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
        same_time = s.scalars(sa.select(Contact.shopify_customer_id).where(Contact.consent_updated_at == at_nine))
        later = s.scalars(sa.select(Contact.shopify_customer_id).where(Contact.last_order_at > at_nine))
        assert sorted(same_time) == sorted(later) == ["orm", "plain"]
    columns = ("email", "tags", "properties", "consent_status", "phone_raw", "consent_updated_at",
               "last_order_at", "source_updated_at")
    assert [getattr(rows["plain"], c) for c in columns] == [getattr(rows["orm"], c) for c in columns]
    assert rows["plain"].consent_updated_at == at_nine and rows["plain"].tags == ["vip", "été"]


def test_read_ahead_hands_over_every_batch_in_order_and_raises_the_readers_error():
    from connector.worker.bulk_rows import read_ahead

    def batches():
        for n in range(5):
            yield [n] * 3
        raise ConnectionError("bulk file interrupted")

    got = []
    with pytest.raises(ConnectionError, match="interrupted"):
        for batch in read_ahead(batches(), depth=1):
            got.append(batch)
    assert got == [[n] * 3 for n in range(5)]


def test_read_ahead_stopped_early_stops_its_reader_and_closes_the_source():
    import threading

    from connector.worker.bulk_rows import read_ahead

    closed = threading.Event()

    def endless():
        try:
            n = 0
            while True:
                n += 1
                yield [n]
        finally:
            closed.set()

    # when the consumer stops after two batches (a crash, a lost lock)
    reader = read_ahead(endless(), depth=2)
    assert [next(reader), next(reader)] == [[1], [2]]
    reader.close()
    # then the reader thread is gone and the source (the HTTP stream) was closed
    assert closed.is_set()
    assert not any(t.name == "shopify-bulk-reader" for t in threading.enumerate())
