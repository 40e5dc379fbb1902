"""What an SMS costs the merchant, by country and segment count."""

from __future__ import annotations

from decimal import Decimal

import pytest

from automations.policy import ShopPolicy
from automations.pricing import DEFAULT_PRICES, cost, price_per_segment


def test_every_announced_country_has_a_default_price():
    for country in ("FR", "US", "GB", "BE", "CH", "CA", "DE", "ES", "IT", "default"):
        assert DEFAULT_PRICES[country] > 0


def test_cost_is_price_per_segment_times_segments_and_exact():
    # given the default French price
    policy = ShopPolicy()
    # when a three-segment SMS goes to France
    amount = cost("FR", 3, policy)
    # then it is exactly three times the price, as a Decimal without float noise
    assert amount == Decimal("0.2250")
    assert str(amount) == "0.2250"


def test_unknown_or_missing_country_uses_the_default_price():
    policy = ShopPolicy()
    assert price_per_segment("BR", policy) == DEFAULT_PRICES["default"]
    assert price_per_segment(None, policy) == DEFAULT_PRICES["default"]


def test_shop_prices_override_the_table_and_its_default():
    # given a shop with negotiated prices read from its settings
    policy = ShopPolicy.from_settings({"prices": {"FR": "0.045", "default": "0.2"}})
    # then its prices apply; other countries keep the built-in table
    assert cost("FR", 2, policy) == Decimal("0.090")
    assert cost("JP", 1, policy) == Decimal("0.2")
    assert cost("US", 1, policy) == DEFAULT_PRICES["US"]


def test_bad_prices_in_settings_are_refused_with_the_key():
    for bad in ({"FR": "abc"}, {"FR": "-1"}, {"FR": 0.07}, {"France": "0.1"}):
        with pytest.raises(ValueError, match="prices"):
            ShopPolicy.from_settings({"prices": bad})


def test_negative_segment_count_is_refused():
    with pytest.raises(ValueError):
        cost("FR", -1, ShopPolicy())
