"""What an SMS costs: a price per segment by recipient country.

The built-in table is indicative (EUR per segment, in line with public list prices of SMS
providers); a shop overrides any country, or "default", in its policy.
"""

from __future__ import annotations

from decimal import Decimal

from automations.policy import ShopPolicy

DEFAULT_PRICES = {
    "FR": Decimal("0.0750"),
    "BE": Decimal("0.0850"),
    "CH": Decimal("0.0650"),
    "DE": Decimal("0.0900"),
    "ES": Decimal("0.0700"),
    "IT": Decimal("0.0800"),
    "GB": Decimal("0.0400"),
    "US": Decimal("0.0085"),
    "CA": Decimal("0.0085"),
    "default": Decimal("0.1000"),
}


def price_per_segment(country: str | None, policy: ShopPolicy) -> Decimal:
    """The shop's price for one segment to `country`, falling back to its default price."""
    table = {**DEFAULT_PRICES, **policy.prices}
    return table.get((country or "").upper(), table["default"])


def cost(country: str | None, segments: int, policy: ShopPolicy) -> Decimal:
    """Price of a message of `segments` segments to `country` (serialise it as a string)."""
    if segments < 0:
        raise ValueError("segments must not be negative")
    return price_per_segment(country, policy) * segments
