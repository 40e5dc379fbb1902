"""A Shopify sandbox served over real HTTP, with one shop.

One server lives for the whole session and hands each request to the current test's sandbox,
so tests do not each wait for a server to stop.
"""

from __future__ import annotations

import pytest

from integrations.serving import serve
from integrations.shopify.sandbox import ShopifySandbox

SHOP = "parlons-demo.myshopify.com"
API_KEY = "test-api-key"
API_SECRET = "test-api-secret"

_current: dict = {}


def _dispatch(environ, start_response):
    return _current["app"](environ, start_response)


@pytest.fixture(scope="session")
def _server():
    server = serve(_dispatch)
    yield server
    server.stop()


@pytest.fixture
def sandbox():
    sandbox = ShopifySandbox(API_KEY, API_SECRET, bucket_size=1000, restore_rate=5000)
    sandbox.add_shop(SHOP, name="Parlons Démo")
    return sandbox


@pytest.fixture
def sandbox_url(sandbox, _server):
    _current["app"] = sandbox.app
    yield _server.url
    _current.pop("app", None)
