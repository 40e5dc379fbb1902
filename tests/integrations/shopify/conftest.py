"""A Shopify sandbox served over real HTTP, with one shop."""

from __future__ import annotations

import pytest

from integrations.serving import serve
from integrations.shopify.sandbox import ShopifySandbox

SHOP = "parlons-demo.myshopify.com"
API_KEY = "test-api-key"
API_SECRET = "test-api-secret"


@pytest.fixture
def sandbox():
    sandbox = ShopifySandbox(API_KEY, API_SECRET, bucket_size=1000, restore_rate=5000)
    sandbox.add_shop(SHOP, name="Parlons Démo")
    return sandbox


@pytest.fixture
def sandbox_url(sandbox):
    server = serve(sandbox.app)
    yield server.url
    server.stop()
