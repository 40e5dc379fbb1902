"""Single-use welcome codes through the client and the Shopify sandbox (schema and scopes checked)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations.errors import ApiError
from integrations.shopify.client import ShopifyClient
from integrations.shopify.install import REQUIRED_SCOPES
from tests.integrations.shopify.conftest import SHOP

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def test_a_code_is_created_once_for_one_use_with_the_scope_asked_at_install(sandbox, sandbox_url):
    client = ShopifyClient(SHOP, sandbox.grant_token(SHOP, scopes=REQUIRED_SCOPES), base_url=sandbox_url)
    gid = client.create_discount_code("MERCI-7QX2AB", "SMS welcome", 0.1, NOW, NOW + timedelta(days=30))
    assert gid.startswith("gid://shopify/DiscountCodeNode/")
    stored = sandbox.shops[SHOP].discounts["MERCI-7QX2AB"]
    assert (stored["usageLimit"], stored["appliesOncePerCustomer"], stored["percentage"]) == (1, True, 0.1)
    assert (stored["startsAt"], stored["endsAt"]) == ("2026-03-10T10:00:00Z", "2026-04-09T10:00:00Z")
    # the same code twice is refused by Shopify with its reason
    with pytest.raises(ApiError) as taken:
        client.create_discount_code("merci-7qx2ab", "SMS welcome", 0.1, NOW, None)
    assert taken.value.code == "USER_ERRORS" and "Code must be unique" in str(taken.value)


def test_without_write_discounts_shopify_refuses_and_creates_nothing(sandbox, sandbox_url):
    narrow = ShopifyClient(SHOP, sandbox.grant_token(SHOP, scopes="write_customers,read_orders"),
                           base_url=sandbox_url)
    with pytest.raises(ApiError) as refused:
        narrow.create_discount_code("MERCI-AAAAAA", "SMS welcome", 0.1, NOW, None)
    assert refused.value.code == "ACCESS_DENIED" and "write_discounts" in str(refused.value)
    assert sandbox.shops[SHOP].discounts == {}
