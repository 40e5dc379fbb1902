"""ShopifyClient (through the official library) against the sandbox served over real HTTP."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from automations import events as ev
from integrations.errors import ApiError, Unauthorized
from integrations.retry import RetryPolicy
from integrations.serving import serve
from integrations.shopify.client import ShopifyClient, customer_to_contact
from integrations.shopify.sandbox import ShopifySandbox

from .conftest import API_KEY, API_SECRET, SHOP

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


class Sleeps:
    """Real sleeps, remembered."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)


def client_for(sandbox: ShopifySandbox, url: str, shop: str = SHOP, **kwargs) -> ShopifyClient:
    return ShopifyClient(shop, sandbox.grant_token(shop), base_url=url, retry=FAST, timeout=5, **kwargs)


def all_customers(client: ShopifyClient, **kwargs) -> list[dict]:
    nodes, cursor = client.customers_page(**kwargs)
    while cursor:
        more, cursor = client.customers_page(after=cursor, **kwargs)
        nodes.extend(more)
    return nodes


def test_shop_info(sandbox, sandbox_url):
    info = client_for(sandbox, sandbox_url).shop_info()
    assert info == {
        "name": "Parlons Démo", "currency": "EUR", "iana_timezone": "Europe/Paris",
        "country_code": "FR", "primary_locale": "fr", "myshopify_domain": SHOP,
    }


def test_paging_reads_every_customer_once_and_waits_instead_of_being_throttled(sandbox_url):
    # Given a shop whose cost bucket holds little more than two pages and refills slowly enough
    # that a busy machine cannot hide the waits
    sandbox = ShopifySandbox(API_KEY, API_SECRET, bucket_size=600, restore_rate=300)
    sandbox.add_shop(SHOP)
    sandbox.add_customers(SHOP, 1_500)
    server = serve(sandbox.app)
    sleeps = Sleeps()
    try:
        # When paging through all customers
        nodes = all_customers(client_for(sandbox, server.url, sleep=sleeps), first=250)
    finally:
        server.stop()
    # Then each comes once, and the client waited for the bucket rather than hitting the limit
    ids = [n["id"] for n in nodes]
    assert len(ids) == 1_500 and len(set(ids)) == 1_500
    assert sandbox.throttled == 0
    assert sleeps.waits and all(w < 1 for w in sleeps.waits)


def test_updated_since_returns_only_newer_customers(sandbox, sandbox_url):
    sandbox.add_customers(SHOP, 600)
    client = client_for(sandbox, sandbox_url)
    # Generated customer i was last updated at 2025-01-01 + i seconds.
    since = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=549)
    assert client.update_sms_consent("gid://shopify/Customer/1000003", "unsubscribed") == []

    nodes = all_customers(client, updated_since=since, first=20)

    expected = ["gid://shopify/Customer/1000003"] + [f"gid://shopify/Customer/{1_000_000 + i}" for i in range(550, 600)]
    assert [n["id"] for n in nodes] == expected


def test_bulk_streams_ten_thousand_customers_once_each_under_forced_throttling(sandbox_url):
    # Given 10,000 customers, a bulk run that takes a moment, and a sandbox refusing every
    # other request (THROTTLED bodies and 429s in turn)
    sandbox = ShopifySandbox(API_KEY, API_SECRET, bulk_delay=0.3)
    sandbox.add_shop(SHOP)
    sandbox.add_customers(SHOP, 10_000)
    sandbox.throttle_hard(every=2)
    server = serve(sandbox.app)
    client = client_for(sandbox, server.url)

    # When a bulk export runs to completion and its file is streamed
    op_id = client.start_bulk_customers()
    op = client.bulk_operation(op_id)
    while op["status"] not in ("COMPLETED", "FAILED", "CANCELED"):
        time.sleep(0.05)
        op = client.bulk_operation(op_id)
    seen: set[str] = set()
    count = 0
    for line in client.stream_bulk(op["url"]):
        contact, consent = customer_to_contact(line)
        seen.add(contact.shopify_customer_id)
        count += 1
    server.stop()

    # Then every customer came exactly once, throttling was met and never failed the run
    assert op["status"] == "COMPLETED" and op["objectCount"] == "10000"
    assert count == len(seen) == 10_000
    assert sandbox.throttled >= 3


def test_bulk_file_is_read_as_it_arrives(sandbox, sandbox_url):
    # Given a bulk file of 200,000 customers (about 90 MB)
    sandbox.add_customers(SHOP, 200_000)
    client = client_for(sandbox, sandbox_url)
    op = client.bulk_operation(client.start_bulk_customers())

    # When the first line is read and the reader stops
    lines = client.stream_bulk(op["url"])
    first = next(lines)
    lines.close()

    # Then it came before the sandbox had produced the file: nothing waited for the whole body
    assert first["id"] == "gid://shopify/Customer/1000000"
    assert sandbox.bulk_lines_served < 100_000


def test_bulk_refuses_a_second_run_while_one_is_in_progress(sandbox_url):
    sandbox = ShopifySandbox(API_KEY, API_SECRET, bulk_delay=60)
    sandbox.add_shop(SHOP)
    server = serve(sandbox.app)
    try:
        client = client_for(sandbox, server.url)
        op_id = client.start_bulk_customers()
        assert client.bulk_operation(op_id)["status"] == "RUNNING"
        with pytest.raises(ApiError, match="already in progress"):
            client.start_bulk_customers()
    finally:
        server.stop()


def test_consent_update_changes_the_customer_and_reports_user_errors(sandbox, sandbox_url):
    sandbox.add_customers(SHOP, 20)
    client = client_for(sandbox, sandbox_url)
    when = datetime(2026, 2, 1, 9, 30, tzinfo=UTC)

    assert client.update_sms_consent("gid://shopify/Customer/1000001", "subscribed", consent_updated_at=when) == []
    consent = sandbox.customer(SHOP, "gid://shopify/Customer/1000001")["smsMarketingConsent"]
    assert consent["marketingState"] == "SUBSCRIBED"
    assert consent["consentUpdatedAt"] == "2026-02-01T09:30:00Z"

    unknown = client.update_sms_consent("gid://shopify/Customer/999", "SUBSCRIBED")
    assert unknown and unknown[0]["field"] == ["input", "customerId"]
    no_phone = client.update_sms_consent("gid://shopify/Customer/1000009", "SUBSCRIBED")  # every 10th has none
    assert no_phone and "phone" in no_phone[0]["message"]


def test_webhook_registration_is_idempotent(sandbox, sandbox_url):
    client = client_for(sandbox, sandbox_url)
    topics = ["checkouts/create", "checkouts/update", "orders/create", "customers_marketing_consent/update"]
    url = "https://parlons.example/webhooks/shopify"

    first = client.register_webhooks(topics, url)
    again = client.register_webhooks(topics + ["app/uninstalled"], url)

    assert set(first) == set(topics)
    assert {t: again[t] for t in topics} == first
    assert len(sandbox.webhook_subscriptions(SHOP)) == 5
    assert {h["topic"] for h in sandbox.webhook_subscriptions(SHOP)} >= {"CUSTOMERS_MARKETING_CONSENT_UPDATE"}
    with pytest.raises(ValueError, match="compliance"):
        client.register_webhooks(["customers/redact"], url)


def test_abandoned_checkouts_page(sandbox, sandbox_url):
    for n in range(3):
        sandbox.add_checkout(SHOP, customer={"id": f"gid://shopify/Customer/{n}", "phone": "+33612345678"})
    client = client_for(sandbox, sandbox_url)
    first, cursor = client.abandoned_checkouts(first=2)
    rest, end = client.abandoned_checkouts(after=cursor, first=2)
    assert [c["customer"]["id"] for c in first + rest] == [f"gid://shopify/Customer/{n}" for n in range(3)]
    assert end is None


def test_expired_or_unknown_token_is_unauthorized(sandbox, sandbox_url):
    client = client_for(sandbox, sandbox_url)
    client.shop_info()
    sandbox.advance(3601)
    with pytest.raises(Unauthorized):
        client.shop_info()
    with pytest.raises(Unauthorized):
        ShopifyClient(SHOP, "shpat_made_up", base_url=sandbox_url, retry=FAST).shop_info()


def test_sessions_do_not_leak_between_threads(sandbox, sandbox_url):
    # Given two shops used at once from several threads
    sandbox.add_shop("second-shop.myshopify.com", name="Second")
    clients = [client_for(sandbox, sandbox_url), client_for(sandbox, sandbox_url, "second-shop.myshopify.com")]

    # When each thread asks its own shop's name many times
    with ThreadPoolExecutor(max_workers=4) as pool:
        names = list(pool.map(lambda n: (n % 2, clients[n % 2].shop_info()["name"]), range(40)))

    # Then no answer ever came from the other shop
    assert {name for which, name in names if which == 0} == {"Parlons Démo"}
    assert {name for which, name in names if which == 1} == {"Second"}


def test_a_silent_server_times_out_and_is_retried_then_reported():
    release = threading.Event()
    silent = Flask("silent")
    silent.add_url_rule("/<path:anything>", "hang", lambda anything: release.wait(5) and "", methods=["POST"])
    server = serve(silent)
    try:
        client = ShopifyClient(SHOP, "token", base_url=server.url, timeout=0.2, retry=FAST)
        started = time.monotonic()
        with pytest.raises(ApiError) as caught:
            client.shop_info()
        assert caught.value.status is None  # a transport failure, after FAST.attempts tries
        assert time.monotonic() - started < 3
    finally:
        release.set()
        server.stop()


def test_customer_to_contact_reads_graphql_nodes_and_bulk_lines():
    node = {
        "id": "gid://shopify/Customer/7", "firstName": "Léa", "lastName": "Petit",
        "defaultEmailAddress": {"emailAddress": "lea@example.com"},
        "defaultPhoneNumber": {"phoneNumber": "+33612345678", "marketingState": "UNSUBSCRIBED",
                               "marketingOptInLevel": "SINGLE_OPT_IN", "marketingUpdatedAt": "2026-01-11T08:00:00Z",
                               "marketingCollectedFrom": "SHOPIFY"},
        "locale": "fr", "tags": ["vip"], "numberOfOrders": "3",
        "amountSpent": {"amount": "120.50", "currencyCode": "EUR"},
        "lastOrder": {"createdAt": "2026-01-10T08:00:00Z"}, "defaultAddress": {"countryCodeV2": "FR"},
    }
    contact, consent = customer_to_contact(node)
    assert (contact.phone, contact.email, contact.first_name, contact.country) == (
        "+33612345678", "lea@example.com", "Léa", "FR")
    assert (contact.orders_count, contact.total_spent, contact.tags) == (3, "120.50", ["vip"])
    assert contact.last_order_at == datetime(2026, 1, 10, 8, tzinfo=UTC)
    assert consent.status == ev.UNSUBSCRIBED and consent.source == "shopify"
    assert consent.evidence["consent_collected_from"] == "SHOPIFY"

    bare, none = customer_to_contact({"id": "gid://shopify/Customer/8", "smsMarketingConsent": None})
    assert bare.phone is None and none is None
