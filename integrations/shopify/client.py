"""The only module that talks to Shopify's Admin API: GraphQL through ShopifyAPI's `shopify.GraphQL`.

Each call activates the shop's session inside the call (the library keeps it thread-local) and
clears it afterwards. Cost limits: every answer's `extensions.cost.throttleStatus` is remembered,
and the next call waits until the bucket holds what it will cost; `THROTTLED` answers and 429s
are waited out and retried without limit (throttling is never a failure). 5xx and transport
errors are retried with the RetryPolicy; 401/403 raise Unauthorized; anything else ApiError.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import requests
import shopify

from automations.events import ConsentData, ContactData
from integrations.errors import ApiError, RateLimited, Unauthorized
from integrations.retry import RetryPolicy, call_with_retries
from integrations.shopify import queries as q
from integrations.shopify.schemas import sms_consent
from integrations.shopify.webhooks import COMPLIANCE_TOPICS

API_VERSION = "2026-01"
DEFAULT_RETRY = RetryPolicy(attempts=5, base_delay=0.5, max_delay=30.0)

class _TimedGraphQL(shopify.GraphQL):
    """`shopify.GraphQL` with a socket timeout, raising our errors.

    The library's `execute` calls `urlopen` with no timeout (and prints error bodies); this
    keeps its endpoint and headers (from the activated session) and its request shape, and
    passes `timeout` to `urlopen`.
    """

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def execute(self, query: str, variables: dict | None = None, operation_name: str | None = None) -> str:
        headers = self.merge_headers({"Accept": "application/json", "Content-Type": "application/json"}, self.headers)
        data = json.dumps({"query": query, "variables": variables, "operationName": operation_name})
        request = urllib.request.Request(self.endpoint, data.encode("utf-8"), headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            raise _http_error(exc.code, exc.headers.get("Retry-After"), exc.read()[:500]) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ApiError(f"Shopify unreachable: {type(exc).__name__}") from None


def _http_error(status: int, retry_after: str | None, body: bytes) -> ApiError:
    text = body.decode("utf-8", "replace")
    if status in (401, 403):
        return Unauthorized("Shopify refused the access token", status=status, body=text)
    if status == 429:
        try:
            wait = float(retry_after) if retry_after else None
        except ValueError:
            wait = None
        return RateLimited("Shopify rate limit", status=429, retry_after=wait, body=text)
    return ApiError(f"Shopify answered HTTP {status}", status=status, body=text)


def _webhook_enum(topic: str) -> str:
    return topic.replace("/", "_").upper()


class ShopifyClient:
    def __init__(
        self,
        shop: str,
        access_token: str,
        *,
        base_url: str | None = None,
        api_version: str = API_VERSION,
        timeout: float = 10.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.shop = shop
        self._token = access_token
        self.base_url = base_url.rstrip("/") if base_url else None
        self.api_version = api_version
        self.timeout = timeout
        self.retry = retry
        self.sleep = sleep
        self._bucket: tuple[float, float, float, float] | None = None  # available, max, rate, at
        self._costs: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"ShopifyClient(shop={self.shop!r}, api_version={self.api_version!r})"

    # --- transport -------------------------------------------------------------------------

    def _post_once(self, query: str, variables: dict | None, operation_name: str) -> dict:
        session = shopify.Session(self.shop, self.api_version, self._token)
        shopify.ShopifyResource.activate_session(session)
        try:
            if self.base_url:
                shopify.ShopifyResource.site = f"{self.base_url}/{self.shop}/admin/api/{self.api_version}"
            shopify.ShopifyResource.timeout = self.timeout
            raw = _TimedGraphQL(self.timeout).execute(query, variables, operation_name)
        finally:
            shopify.ShopifyResource.clear_session()
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ApiError("Shopify answered a body that is not JSON", status=200, body=raw[:500]) from exc
        if not isinstance(body, dict):
            raise ApiError("Shopify answered an unexpected body", status=200, body=raw[:500])
        return body

    def _wait_for_bucket(self, needed: float) -> None:
        if self._bucket is None:
            return
        available, maximum, rate, at = self._bucket
        available = min(maximum, available + rate * (time.monotonic() - at))
        needed = min(needed, maximum)
        if available < needed and rate > 0:
            self.sleep((needed - available) / rate)

    def _note_cost(self, body: dict, operation_name: str) -> dict:
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        if status:
            self._bucket = (
                float(status.get("currentlyAvailable", 0)),
                float(status.get("maximumAvailable", 0)),
                float(status.get("restoreRate", 0)),
                time.monotonic(),
            )
        if cost.get("requestedQueryCost") is not None:
            self._costs[operation_name] = float(cost["requestedQueryCost"])
        return cost

    def _throttle_wait(self, cost: dict, attempt: int) -> float:
        status = cost.get("throttleStatus") or {}
        rate = float(status.get("restoreRate") or 0)
        if rate > 0 and cost.get("requestedQueryCost") is not None:
            missing = float(cost["requestedQueryCost"]) - float(status.get("currentlyAvailable", 0))
            if missing > 0:
                return missing / rate
        return self.retry.delay(min(attempt, 16))

    def execute(self, query: str, variables: dict | None, operation_name: str, estimated_cost: float = 10) -> dict:
        """Run one GraphQL operation and return its `data`, waiting out any throttling."""
        throttled = 0
        while True:
            self._wait_for_bucket(self._costs.get(operation_name, estimated_cost))
            try:
                body = call_with_retries(
                    lambda: self._post_once(query, variables, operation_name), self.retry, self.sleep
                )
            except RateLimited as exc:
                throttled += 1
                self.sleep(exc.retry_after if exc.retry_after is not None else self.retry.delay(min(throttled, 16)))
                continue
            cost = self._note_cost(body, operation_name)
            errors = body.get("errors") or []
            if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors if isinstance(e, dict)):
                throttled += 1
                self.sleep(self._throttle_wait(cost, throttled))
                continue
            if errors:
                first = errors[0] if isinstance(errors[0], dict) else {"message": str(errors[0])}
                code = (first.get("extensions") or {}).get("code")
                raise ApiError(f"Shopify GraphQL error: {first.get('message')}", status=200, code=code)
            return body.get("data") or {}

    # --- operations ------------------------------------------------------------------------

    def shop_info(self) -> dict:
        data = self.execute(q.SHOP_QUERY, None, "ShopInfo", estimated_cost=2)
        shop = data["shop"]
        locales = data.get("shopLocales") or []
        primary = next((loc["locale"] for loc in locales if loc.get("primary")), None)
        return {
            "name": shop.get("name"),
            "currency": shop.get("currencyCode"),
            "iana_timezone": shop.get("ianaTimezone"),
            "country_code": (shop.get("shopAddress") or {}).get("countryCodeV2"),
            "primary_locale": primary,
            "myshopify_domain": shop.get("myshopifyDomain"),
        }

    def customers_page(
        self, after: str | None = None, updated_since: datetime | None = None, first: int = 250
    ) -> tuple[list[dict], str | None]:
        variables = {"first": first, "after": after, "query": _updated_filter(updated_since)}
        data = self.execute(q.CUSTOMERS_QUERY, variables, "CustomersPage", estimated_cost=first + 2)
        return _page(data["customers"])

    def customers_count(self, updated_since: datetime | None = None) -> int:
        """How many customers there are (updated after `updated_since` when given)."""
        data = self.execute(q.CUSTOMERS_COUNT_QUERY, {"query": _updated_filter(updated_since)}, "CustomersCount",
                            estimated_cost=1)
        return int((data.get("customersCount") or {}).get("count") or 0)

    def start_bulk_customers(self, updated_since: datetime | None = None) -> str:
        inner = q.bulk_customers_query(_updated_filter(updated_since))
        data = self.execute(q.BULK_RUN_MUTATION, {"query": inner}, "StartBulkCustomers")
        result = data["bulkOperationRunQuery"]
        if result.get("userErrors"):
            raise ApiError(f"bulk query refused: {result['userErrors']}", status=200, code="USER_ERRORS")
        return result["bulkOperation"]["id"]

    def bulk_operation(self, operation_id: str) -> dict:
        data = self.execute(q.BULK_NODE_QUERY, {"id": operation_id}, "BulkOperation", estimated_cost=1)
        node = data.get("node")
        if not node:
            raise ApiError(f"no bulk operation {operation_id}", status=200, code="NOT_FOUND")
        return node

    def stream_bulk(self, url: str) -> Iterator[dict]:
        """Yield each JSONL line of a finished bulk operation, streaming (memory stays flat)."""
        try:
            response = requests.get(url, stream=True, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ApiError(f"bulk file unreachable: {type(exc).__name__}") from exc
        with response:
            if response.status_code != 200:
                raise _http_error(response.status_code, response.headers.get("Retry-After"), response.content[:500])
            try:
                for line in response.iter_lines():
                    if line:
                        yield json.loads(line)
            except requests.RequestException as exc:
                raise ApiError(f"bulk file interrupted: {type(exc).__name__}") from exc

    def update_sms_consent(
        self,
        customer_gid: str,
        marketing_state: str,
        opt_in_level: str = "SINGLE_OPT_IN",
        consent_updated_at: datetime | None = None,
    ) -> list[dict]:
        """Set a customer's SMS marketing consent; returns Shopify's userErrors (empty on success)."""
        consent: dict[str, Any] = {"marketingState": marketing_state.upper(), "marketingOptInLevel": opt_in_level}
        if consent_updated_at is not None:
            consent["consentUpdatedAt"] = _graphql_time(consent_updated_at)
        variables = {"input": {"customerId": customer_gid, "smsMarketingConsent": consent}}
        data = self.execute(q.SMS_CONSENT_MUTATION, variables, "SmsConsentUpdate")
        return data["customerSmsMarketingConsentUpdate"].get("userErrors") or []

    def create_discount_code(
        self, code: str, title: str, percentage: float, starts_at: datetime, ends_at: datetime | None
    ) -> str:
        """A basic code discount usable once, by one customer, on every product; returns its id.

        `percentage` is a share (0.1 for 10 %). ApiError with code USER_ERRORS when Shopify refuses it.
        """
        discount: dict[str, Any] = {
            "title": title, "code": code, "startsAt": _graphql_time(starts_at),
            "usageLimit": 1, "appliesOncePerCustomer": True, "context": {"all": "ALL"},
            "customerGets": {"value": {"percentage": percentage}, "items": {"all": True}},
        }
        if ends_at is not None:
            discount["endsAt"] = _graphql_time(ends_at)
        data = self.execute(q.WELCOME_CODE_MUTATION, {"basicCodeDiscount": discount}, "WelcomeCodeCreate")
        result = data["discountCodeBasicCreate"]
        if result.get("userErrors"):
            raise ApiError(f"discount code refused: {result['userErrors']}", status=200, code="USER_ERRORS")
        return result["codeDiscountNode"]["id"]

    def register_webhooks(self, topics: list[str], callback_url: str) -> dict[str, str]:
        """Subscribe `callback_url` to each topic once; running it again creates nothing new.

        Compliance topics cannot be subscribed through the API: they live in the app's config.
        """
        refused = sorted(set(topics) & COMPLIANCE_TOPICS)
        if refused:
            raise ValueError(f"compliance topics are set in the app configuration, not the API: {refused}")
        existing: dict[str, str] = {}
        after = None
        while True:
            data = self.execute(q.WEBHOOKS_QUERY, {"first": 100, "after": after}, "WebhookSubscriptions")
            nodes, after = _page(data["webhookSubscriptions"])
            for node in nodes:
                if node.get("uri") == callback_url:
                    existing[node["topic"]] = node["id"]
            if after is None:
                break
        registered: dict[str, str] = {}
        for topic in topics:
            enum = _webhook_enum(topic)
            if enum not in existing:
                variables = {"topic": enum, "uri": callback_url}
                result = self.execute(q.WEBHOOK_CREATE_MUTATION, variables, "WebhookSubscriptionCreate")
                created = result["webhookSubscriptionCreate"]
                if created.get("userErrors"):
                    raise ApiError(f"webhook {topic} refused: {created['userErrors']}", status=200, code="USER_ERRORS")
                existing[enum] = created["webhookSubscription"]["id"]
            registered[topic] = existing[enum]
        return registered

    def abandoned_checkouts(self, after: str | None = None, first: int = 100) -> tuple[list[dict], str | None]:
        variables = {"first": first, "after": after}
        data = self.execute(q.ABANDONED_CHECKOUTS_QUERY, variables, "AbandonedCheckouts", estimated_cost=first * 6 + 2)
        return _page(data["abandonedCheckouts"])


def _page(connection: dict) -> tuple[list[dict], str | None]:
    nodes = [edge["node"] for edge in connection.get("edges") or []]
    info = connection.get("pageInfo") or {}
    return nodes, (info.get("endCursor") if info.get("hasNextPage") else None)


def _graphql_time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _updated_filter(updated_since: datetime | None) -> str | None:
    return f"updated_at:>'{_graphql_time(updated_since)}'" if updated_since else None


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def customer_to_contact(node: dict) -> tuple[ContactData, ConsentData | None]:
    """A GraphQL Customer node (from a page or a bulk JSONL line) as our contact and consent."""
    phone_number = node.get("defaultPhoneNumber") or {}
    phone = phone_number.get("phoneNumber")
    email = (node.get("defaultEmailAddress") or {}).get("emailAddress")
    orders = node.get("numberOfOrders")
    contact = ContactData(
        phone=phone or None,
        email=email or None,
        first_name=node.get("firstName"),
        last_name=node.get("lastName"),
        locale=node.get("locale"),
        shopify_customer_id=node.get("id"),
        country=(node.get("defaultAddress") or {}).get("countryCodeV2"),
        tags=list(node.get("tags") or []),
        orders_count=int(orders) if orders not in (None, "") else None,
        total_spent=(node.get("amountSpent") or {}).get("amount"),
        last_order_at=_parse_time((node.get("lastOrder") or {}).get("createdAt")),
    )
    if not phone_number.get("marketingState"):
        return contact, None
    consent = sms_consent(
        phone_number["marketingState"],
        opt_in_level=phone_number.get("marketingOptInLevel"),
        consent_updated_at=_parse_time(phone_number.get("marketingUpdatedAt")),
        collected_from=phone_number.get("marketingCollectedFrom"),
    )
    return contact, consent
