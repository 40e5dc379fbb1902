"""The sandbox itself: webhooks it emits, large shops, and the answers Shopify would give."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from flask import Flask, request

from integrations.errors import ApiError
from integrations.serving import serve
from integrations.shopify.webhooks import translate, verify_hmac

from .conftest import SHOP

FIXTURES = Path(__file__).parents[2] / "fixtures" / "shopify" / "2026-01"


def test_emitted_webhook_is_signed_over_its_exact_bytes_with_shopify_headers(sandbox):
    # Given an app endpoint that records what it receives
    received: list[tuple[bytes, dict]] = []
    app = Flask("receiver")

    @app.post("/webhooks/shopify")
    def receive():
        received.append((request.get_data(), dict(request.headers)))
        return "", 200

    server = serve(app)
    raw = (FIXTURES / "orders__paid.json").read_bytes()
    try:
        # When the sandbox emits a fixture's bytes
        response = sandbox.emit_webhook("orders/paid", raw, f"{server.url}/webhooks/shopify", "app-secret",
                                        webhook_id="wh-1")
    finally:
        server.stop()

    # Then the app gets those bytes, signed, with every header Shopify sends
    assert response.status_code == 200
    body, headers = received[0]
    assert body == raw
    assert verify_hmac(body, headers["X-Shopify-Hmac-Sha256"], "app-secret")
    assert headers["X-Shopify-Topic"] == "orders/paid"
    assert headers["X-Shopify-Shop-Domain"] == SHOP
    assert headers["X-Shopify-Webhook-Id"] == "wh-1"
    assert headers["X-Shopify-Api-Version"] == "2026-01"
    assert headers["X-Shopify-Event-Id"] and headers["X-Shopify-Triggered-At"]
    assert translate(headers["X-Shopify-Topic"], json.loads(body))[0].data["order_name"] == "#9999"


def test_a_hundred_thousand_customers_are_seeded_at_once(sandbox, sandbox_url):
    started = time.monotonic()
    sandbox.add_customers(SHOP, 100_000)
    assert time.monotonic() - started < 0.5
    last = sandbox.customer(SHOP, "gid://shopify/Customer/1099999")
    assert last["email"] == "customer99999@example.com"
    assert sandbox.customer(SHOP, "gid://shopify/Customer/1100000") is None


def test_graphql_answers_carry_cost_and_refuse_bad_tokens(sandbox, sandbox_url):
    token = sandbox.grant_token(SHOP)
    url = f"{sandbox_url}/{SHOP}/admin/api/2026-01/graphql.json"
    query = {"query": "query ShopInfo { shop { name } }"}

    answer = requests.post(url, json=query, headers={"X-Shopify-Access-Token": token}, timeout=5)
    refused = requests.post(url, json=query, headers={"X-Shopify-Access-Token": "nope"}, timeout=5)
    unknown = requests.post(url, json={"query": "{ products(first: 1) { edges { node { id } } } }"},
                            headers={"X-Shopify-Access-Token": token}, timeout=5)

    status = answer.json()["extensions"]["cost"]["throttleStatus"]
    assert status["maximumAvailable"] == 1000 and status["restoreRate"] == 5000
    assert refused.status_code == 401
    assert unknown.json()["errors"][0]["extensions"]["code"] == "undefinedField"


OLD_SCOPES = "read_customers,write_customers,read_orders,read_checkouts,read_fulfillments"
OLD_SHOP_INFO = """query ShopInfo {
  shop { name currencyCode ianaTimezone myshopifyDomain billingAddress { countryCodeV2 } }
  shopLocales { locale primary }
}"""


def _post(sandbox_url: str, token: str, query: str, variables: dict | None = None) -> requests.Response:
    return requests.post(f"{sandbox_url}/{SHOP}/admin/api/2026-01/graphql.json", json={
        "query": query, "variables": variables or {}}, headers={"X-Shopify-Access-Token": token}, timeout=10)


def test_the_old_shop_info_with_the_old_scopes_is_refused_as_shopify_does(sandbox, sandbox_url):
    # given a token granted the scopes the app used to ask for (no read_locales)
    token = sandbox.grant_token(SHOP, scopes=OLD_SCOPES)
    # when the app reads the shop as it used to
    answer = _post(sandbox_url, token, OLD_SHOP_INFO).json()
    # then Shopify's answer: no data at all, ACCESS_DENIED on shopLocales, and the deprecation named
    assert answer["data"] is None
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "ACCESS_DENIED" and error["path"] == ["shopLocales"]


def test_the_client_reads_the_shop_with_the_scopes_it_asks_for_at_install(sandbox, sandbox_url):
    from integrations.shopify.client import ShopifyClient
    from integrations.shopify.install import REQUIRED_SCOPES

    client = ShopifyClient(SHOP, sandbox.grant_token(SHOP, scopes=REQUIRED_SCOPES), base_url=sandbox_url)
    info = client.shop_info()
    assert (info["primary_locale"], info["country_code"]) == ("fr", "FR")
    # and a token missing read_locales makes the same call fail with Shopify's code
    narrow = ShopifyClient(SHOP, sandbox.grant_token(SHOP, scopes=OLD_SCOPES), base_url=sandbox_url)
    with pytest.raises(ApiError) as refused:
        narrow.shop_info()
    assert refused.value.code == "ACCESS_DENIED"


def test_a_document_shopify_would_not_accept_is_refused_before_anything_runs(sandbox, sandbox_url):
    token = sandbox.grant_token(SHOP)
    answer = _post(sandbox_url, token, "query ShopInfo { shop { nme } }")
    assert answer.status_code == 200
    [error] = answer.json()["errors"]
    assert error["extensions"]["code"] == "undefinedField" and "data" not in answer.json()
    # and a deprecated field still answers, naming its deprecation as Shopify does
    old = _post(sandbox_url, sandbox.grant_token(SHOP, scopes="read_locales"), OLD_SHOP_INFO)
    assert old.json()["data"]["shop"]["billingAddress"] == {"countryCodeV2": "FR"}
    assert "Shop.billingAddress" in old.headers["X-Shopify-API-Deprecated-Reason"]


def test_customers_count_stops_at_ten_thousand_unless_asked_for_no_limit(sandbox, sandbox_url):
    from integrations.shopify.client import ShopifyClient

    # given a shop of 12,000 customers
    sandbox.add_customers(SHOP, 12_000)
    token = sandbox.grant_token(SHOP)
    # when counted without a limit, Shopify says "at least 10,000"
    capped = _post(sandbox_url, token, "query { customersCount { count precision } }").json()
    assert capped["data"]["customersCount"] == {"count": 10_000, "precision": "AT_LEAST"}
    # then the client asks for the exact count
    assert ShopifyClient(SHOP, token, base_url=sandbox_url).customers_count() == 12_000
