"""The sandbox's state: shops, their customers (generated lazily from their index), checkouts,
the cost bucket of each shop, and the shapes of GraphQL connections."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from integrations.shopify.webhooks import COMPLIANCE_TOPICS, SUPPORTED_TOPICS

ROOT_FIELD_RE = re.compile(r"^\s*(?:(?:query|mutation)\b[^{(]*(?:\([^)]*\))?\s*)?\{\s*(\w+)", re.S)
UPDATED_RE = re.compile(r"updated_at:>'?([0-9T:.+\-Z]+)'?")
BULK_CUSTOMERS_RE = re.compile(r"^\s*\{\s*customers\b")
_GENERATED_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)  # generated customer i was updated at +i s
WEBHOOK_ENUMS = {t.replace("/", "_").upper() for t in SUPPORTED_TOPICS - COMPLIANCE_TOPICS}
_FIRST = ("Camille", "Louis", "Léa", "Hugo", "Chloé", "Jules", "Manon", "Arthur", "Inès", "Noah")
_LAST = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand")
_STATES = ("SUBSCRIBED", "NOT_SUBSCRIBED", "UNSUBSCRIBED", "PENDING")
UNAUTHORIZED = "[API] Invalid API key or access token (unrecognized login or wrong password)"


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def cursor(index: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"last_id": index}).encode()).decode()


def uncursor(cursor: str | None) -> int:
    if not cursor:
        return -1
    return int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["last_id"])


class Bucket:
    """Shopify's leaky bucket: take the requested cost up front, refund what was not used."""

    def __init__(self, size: float, rate: float, clock: Callable[[], float]) -> None:
        self.size, self.rate, self.clock = size, rate, clock
        self.available, self.at = size, clock()

    def _refill(self) -> None:
        now = self.clock()
        self.available = min(self.size, self.available + (now - self.at) * self.rate)
        self.at = now

    def take(self, cost: float) -> bool:
        self._refill()
        if cost > self.available:
            return False
        self.available -= cost
        return True

    def refund(self, amount: float) -> None:
        self.available = min(self.size, self.available + max(amount, 0))

    def status(self) -> dict:
        self._refill()
        return {"maximumAvailable": self.size, "currentlyAvailable": round(self.available, 1), "restoreRate": self.rate}


@dataclass
class ShopState:
    domain: str
    name: str
    currency: str
    country: str
    timezone: str
    locale: str
    bucket: Bucket
    customer_count: int = 0
    overrides: dict[int, dict] = field(default_factory=dict)
    checkouts: list[dict] = field(default_factory=list)
    webhooks: list[dict] = field(default_factory=list)
    bulk_ops: dict[str, dict] = field(default_factory=dict)
    discounts: dict[str, dict] = field(default_factory=dict)  # code (upper case) -> discount

    def generated(self, i: int) -> dict:
        has_phone = i % 10 != 9
        updated = _GENERATED_EPOCH + timedelta(seconds=i)
        orders = i % 4
        return {
            "id": f"gid://shopify/Customer/{1_000_000 + i}",
            "firstName": _FIRST[i % len(_FIRST)],
            "lastName": _LAST[(i * 7) % len(_LAST)],
            "email": f"customer{i}@example.com",
            "phone": f"+336{10_000_000 + i:08d}" if has_phone else None,
            "locale": self.locale,
            "tags": ["vip"] if i % 50 == 0 else [],
            "numberOfOrders": str(orders),
            "amountSpent": {"amount": f"{orders * 39.9:.2f}", "currencyCode": self.currency},
            "lastOrder": {"createdAt": iso(updated - timedelta(days=orders))} if orders else None,
            "defaultAddress": {"countryCodeV2": self.country},
            "smsMarketingConsent": {
                "marketingState": _STATES[i % 4],
                "marketingOptInLevel": "SINGLE_OPT_IN",
                "consentUpdatedAt": iso(updated),
                "consentCollectedFrom": "OTHER",
            } if has_phone else None,
            "updatedAt": iso(updated),
        }

    def customer(self, i: int) -> dict:
        return served(self.overrides.get(i) or self.generated(i))

    def index_of(self, gid: str) -> int | None:
        match = re.fullmatch(r"gid://shopify/Customer/(\d+)", gid or "")
        index = int(match[1]) - 1_000_000 if match else -1
        return index if 0 <= index < self.customer_count else None

    def customer_indices(self, after: int, since: datetime | None) -> Iterator[int]:
        """Indices past `after`, in id order, of customers updated after `since`."""
        low = after + 1
        if since is None:
            yield from range(low, self.customer_count)
            return
        elapsed = (since - _GENERATED_EPOCH).total_seconds()
        start = max(low, int(elapsed) + 1 if elapsed >= 0 else 0)
        newer = lambda i: parse_time(self.overrides[i]["updatedAt"]) > since  # noqa: E731
        yield from sorted(i for i in self.overrides if low <= i < start and newer(i))
        yield from (i for i in range(start, self.customer_count) if i not in self.overrides or newer(i))


def connection(edges: list[dict], more: bool) -> dict:
    return {"edges": edges, "pageInfo": {"hasNextPage": more, "endCursor": edges[-1]["cursor"] if edges else None}}


def served(node: dict) -> dict:
    """A customer as the API serves it: its deprecated fields (email, phone, smsMarketingConsent)
    and their 2026-01 replacements (defaultEmailAddress, defaultPhoneNumber) say the same."""
    consent = node.get("smsMarketingConsent") or {}
    current = {
        "defaultEmailAddress": {"emailAddress": node["email"]} if node.get("email") else None,
        "defaultPhoneNumber": {
            "phoneNumber": node["phone"], "marketingState": consent.get("marketingState") or "NOT_SUBSCRIBED",
            "marketingOptInLevel": consent.get("marketingOptInLevel"),
            "marketingUpdatedAt": consent.get("consentUpdatedAt"),
            "marketingCollectedFrom": consent.get("consentCollectedFrom"),
        } if node.get("phone") else None,
    }
    return {**node, **current}
