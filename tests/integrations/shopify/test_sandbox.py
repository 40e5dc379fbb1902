"""The sandbox itself: webhooks it emits, large shops, and the answers Shopify would give."""

from __future__ import annotations

import json
import time
from pathlib import Path

import requests
from flask import Flask, request

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
