"""A local stand-in of Shopify's Admin API, served over real HTTP (tests and the demo use it).

Paths follow `{base}/{shop}/...`, the shape the client and install code use with `base_url`:
  GET  /{shop}/admin/oauth/authorize              approves at once, redirects with a signed query
  POST /{shop}/admin/oauth/access_token           code grant (`expiring=1`) and refresh grant
  POST /{shop}/admin/api/{version}/graphql.json   the operations `client.py` sends
  GET  /_bulk/{key}.jsonl                         a finished bulk operation's file, streamed

GraphQL operations are recognised by their first root field, read with a regex over the query
text (`_ROOT_FIELD_RE`); the answer is the whole node whatever the selection set asks. Every
answer carries `extensions.cost`, charged against a leaky bucket per shop (1000 points, 50/s by
default); `throttle_hard()` refuses every n-th request (THROTTLED bodies and 429s in turn).
Customers are generated lazily from their index, so 100,000 cost nothing until read; changed
or explicitly added customers are kept whole in `overrides`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import requests
from flask import Flask, Response, abort, jsonify, redirect, request

from integrations.shopify.install import query_hmac
from integrations.shopify.webhooks import COMPLIANCE_TOPICS, SUPPORTED_TOPICS

_ROOT_FIELD_RE = re.compile(r"^\s*(?:(?:query|mutation)\b[^{(]*(?:\([^)]*\))?\s*)?\{\s*(\w+)", re.S)
_UPDATED_RE = re.compile(r"updated_at:>'?([0-9T:.+\-Z]+)'?")
_BULK_CUSTOMERS_RE = re.compile(r"^\s*\{\s*customers\b")
_GENERATED_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)  # generated customer i was updated at +i s
_WEBHOOK_ENUMS = {t.replace("/", "_").upper() for t in SUPPORTED_TOPICS - COMPLIANCE_TOPICS}
_FIRST = ("Camille", "Louis", "Léa", "Hugo", "Chloé", "Jules", "Manon", "Arthur", "Inès", "Noah")
_LAST = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand")
_STATES = ("SUBSCRIBED", "NOT_SUBSCRIBED", "UNSUBSCRIBED", "PENDING")
_UNAUTHORIZED = "[API] Invalid API key or access token (unrecognized login or wrong password)"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"last_id": index}).encode()).decode()


def _uncursor(cursor: str | None) -> int:
    if not cursor:
        return -1
    return int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["last_id"])


class _Bucket:
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
class _Shop:
    domain: str
    name: str
    currency: str
    country: str
    timezone: str
    locale: str
    bucket: _Bucket
    customer_count: int = 0
    overrides: dict[int, dict] = field(default_factory=dict)
    checkouts: list[dict] = field(default_factory=list)
    webhooks: list[dict] = field(default_factory=list)
    bulk_ops: dict[str, dict] = field(default_factory=dict)

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
            "lastOrder": {"createdAt": _iso(updated - timedelta(days=orders))} if orders else None,
            "defaultAddress": {"countryCodeV2": self.country},
            "smsMarketingConsent": {
                "marketingState": _STATES[i % 4],
                "marketingOptInLevel": "SINGLE_OPT_IN",
                "consentUpdatedAt": _iso(updated),
                "consentCollectedFrom": "OTHER",
            } if has_phone else None,
            "updatedAt": _iso(updated),
        }

    def customer(self, i: int) -> dict:
        return self.overrides.get(i) or self.generated(i)

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
        newer = lambda i: _parse(self.overrides[i]["updatedAt"]) > since  # noqa: E731
        yield from sorted(i for i in self.overrides if low <= i < start and newer(i))
        yield from (i for i in range(start, self.customer_count) if i not in self.overrides or newer(i))


class ShopifySandbox:
    def __init__(
        self,
        api_key: str = "sandbox-api-key",
        api_secret: str = "sandbox-api-secret",
        *,
        bucket_size: float = 1000,
        restore_rate: float = 50,
        bulk_delay: float = 0.0,
        token_ttl: int = 3600,
        refresh_ttl: int = 90 * 24 * 3600,
    ) -> None:
        self.api_key, self.api_secret = api_key, api_secret
        self.bucket_size, self.restore_rate = bucket_size, restore_rate
        self.bulk_delay, self.token_ttl, self.refresh_ttl = bulk_delay, token_ttl, refresh_ttl
        self.shops: dict[str, _Shop] = {}
        self.tokens: dict[str, tuple[str, float | None]] = {}  # access token -> shop, expires
        self.refresh_tokens: dict[str, tuple[str, float]] = {}
        self.codes: dict[str, tuple[str, float, str]] = {}  # code -> shop, expires, scope
        self.bulk_files: dict[str, tuple[str, datetime | None]] = {}
        self.requests = 0
        self.throttled = 0  # requests refused with THROTTLED or 429
        self.bulk_lines_served = 0
        self._offset = 0.0
        self._refuse_every = 0
        self._retry_after = 0.0
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._app: Flask | None = None

    # --- seeding and control ---------------------------------------------------------------

    def clock(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the sandbox's clock forward (tokens and codes expire)."""
        self._offset += seconds

    def add_shop(self, domain: str, *, name: str = "Boutique Sandbox", currency: str = "EUR",
                 country: str = "FR", timezone: str = "Europe/Paris", locale: str = "fr") -> str:
        bucket = _Bucket(self.bucket_size, self.restore_rate, time.monotonic)
        self.shops[domain] = _Shop(domain, name, currency, country, timezone, locale, bucket)
        return domain

    def add_customers(self, shop: str, n: int) -> None:
        """Add `n` generated customers (made on demand, so 100,000 cost nothing up front)."""
        with self._lock:
            self.shops[shop].customer_count += n

    def add_customer(self, shop: str, **node: object) -> str:
        """Add one customer given as GraphQL fields (merged over a generated one); returns its gid."""
        with self._lock:
            state = self.shops[shop]
            index = state.customer_count
            state.customer_count += 1
            state.overrides[index] = {**state.generated(index), "updatedAt": _iso(datetime.now(UTC)), **node}
            return state.overrides[index]["id"]

    def customer(self, shop: str, gid: str) -> dict | None:
        state = self.shops[shop]
        index = state.index_of(gid)
        return None if index is None else state.customer(index)

    def add_checkout(self, shop: str, **node: object) -> dict:
        with self._lock:
            n = next(self._ids)
            checkout = {
                "id": f"gid://shopify/AbandonedCheckout/{n}", "name": f"#{n}",
                "abandonedCheckoutUrl": f"https://{shop}/checkouts/{n}/recover?key=k{n}",
                "createdAt": _iso(datetime.now(UTC)), "updatedAt": _iso(datetime.now(UTC)),
                "completedAt": None, "customer": None, "lineItems": {"edges": []},
                "totalPriceSet": {"shopMoney": {"amount": "0.00", "currencyCode": self.shops[shop].currency}},
                **node,
            }
            self.shops[shop].checkouts.append(checkout)
            return checkout

    def grant_token(self, shop: str, expires_in: int | None = 3600) -> str:
        """An access token for `shop` without going through OAuth."""
        token = "shpat_" + secrets.token_hex(16)
        self.tokens[token] = (shop, None if expires_in is None else self.clock() + expires_in)
        return token

    def throttle_hard(self, every: int = 2, retry_after: float = 0.01) -> None:
        """Refuse every `every`-th GraphQL request, alternating THROTTLED bodies and HTTP 429."""
        self._refuse_every, self._retry_after = every, retry_after

    def webhook_subscriptions(self, shop: str) -> list[dict]:
        return list(self.shops[shop].webhooks)

    def emit_webhook(self, topic: str, payload: dict | bytes, app_url: str, secret: str,
                     webhook_id: str | None = None, *, shop: str | None = None,
                     api_version: str = "2026-01", timeout: float = 10) -> requests.Response:
        """POST a webhook to the app like Shopify: the exact bytes, signed, with its headers."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Shop-Domain": shop or next(iter(self.shops), "sandbox.myshopify.com"),
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-API-Version": api_version,
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
        }
        return requests.post(app_url, data=body, headers=headers, timeout=timeout)

    # --- HTTP ------------------------------------------------------------------------------

    @property
    def app(self) -> Flask:
        if self._app is None:
            self._app = self.create_app()
        return self._app

    def create_app(self) -> Flask:
        app = Flask("shopify_sandbox")
        app.add_url_rule("/<shop>/admin/oauth/authorize", "authorize", self._authorize)
        app.add_url_rule("/<shop>/admin/oauth/access_token", "token", self._token, methods=["POST"])
        app.add_url_rule("/<shop>/admin/api/<version>/graphql.json", "graphql", self._graphql, methods=["POST"])
        app.add_url_rule("/_bulk/<key>.jsonl", "bulk_file", self._bulk_file)
        return app

    def _authorize(self, shop: str) -> Response:
        args = request.args
        if shop not in self.shops or args.get("client_id") != self.api_key or not args.get("redirect_uri"):
            abort(400)
        code = secrets.token_hex(16)
        self.codes[code] = (shop, self.clock() + 600, args.get("scope", ""))
        params = {
            "code": code,
            "host": base64.b64encode(f"admin.shopify.com/store/{shop.split('.')[0]}".encode()).decode(),
            "shop": shop,
            "state": args.get("state", ""),
            "timestamp": str(int(self.clock())),
        }
        params["hmac"] = query_hmac(params, self.api_secret)
        return redirect(f"{args['redirect_uri']}?{urlencode(params)}", code=302)

    def _token(self, shop: str) -> tuple[Response, int]:
        form = request.form if request.form else (request.get_json(silent=True) or {})
        if form.get("client_id") != self.api_key or form.get("client_secret") != self.api_secret:
            return jsonify(error="invalid_client"), 401
        with self._lock:
            if form.get("grant_type") == "refresh_token":
                held = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
                if held is None or held[0] != shop or held[1] < self.clock():
                    return jsonify(error="invalid_grant", error_description="refresh token is invalid"), 400
                scope = ""
            else:
                held = self.codes.pop(form.get("code", ""), None)
                if held is None or held[0] != shop or held[1] < self.clock():
                    return jsonify(error="invalid_request",
                                   error_description="The authorization code was not found or was already used"), 400
                scope = held[2]
                if str(form.get("expiring")) not in ("1", "true"):
                    return jsonify(access_token=self.grant_token(shop, None), scope=scope), 200
            body = {"access_token": self.grant_token(shop, self.token_ttl), "scope": scope,
                    "expires_in": self.token_ttl, "refresh_token": "shprt_" + secrets.token_hex(16),
                    "refresh_token_expires_in": self.refresh_ttl}
            self.refresh_tokens[body["refresh_token"]] = (shop, self.clock() + self.refresh_ttl)
            return jsonify(body), 200

    def _graphql(self, shop: str, version: str) -> Response | tuple[Response, int]:
        held = self.tokens.get(request.headers.get("X-Shopify-Access-Token", ""))
        if held is None or held[0] != shop or (held[1] is not None and held[1] < self.clock()):
            return jsonify(errors=_UNAUTHORIZED), 401
        if not re.fullmatch(r"\d{4}-\d{2}|unstable", version):
            abort(404)
        body = request.get_json(silent=True) or {}
        match = _ROOT_FIELD_RE.match(body.get("query") or "")
        handler = getattr(self, f"_op_{match[1]}", None) if match else None
        state = self.shops[shop]
        with self._lock:
            self.requests += 1
            refused = self._refuse_every and self.requests % self._refuse_every == 0
            if refused and (self.requests // self._refuse_every) % 2:
                self.throttled += 1
                return Response("Too Many Requests", status=429, headers={"Retry-After": str(self._retry_after)})
            if handler is None:
                field_name = match[1] if match else "?"
                return jsonify(errors=[{"message": f"Field '{field_name}' doesn't exist on type 'QueryRoot'",
                                        "extensions": {"code": "undefinedField"}}])
            variables = body.get("variables") or {}
            requested = self._cost(match[1], variables)
            if requested > state.bucket.size:
                return jsonify(errors=[{"message": "Query cost exceeds the maximum", "extensions": {"code": "MAX_COST_EXCEEDED"}}])
            if refused or not state.bucket.take(requested):
                self.throttled += 1
                return jsonify(errors=[{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                               extensions={"cost": {"requestedQueryCost": requested, "actualQueryCost": None,
                                                    "throttleStatus": state.bucket.status()}})
            data, actual = handler(state, variables, body.get("query") or "")
            state.bucket.refund(requested - actual)
            cost = {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": state.bucket.status()}
            return jsonify(data=data, extensions={"cost": cost})

    @staticmethod
    def _cost(root: str, variables: dict) -> int:
        first = int(variables.get("first") or 0)
        return {"customers": first + 2, "webhookSubscriptions": first + 2, "abandonedCheckouts": first * 6 + 2,
                "shop": 2, "node": 1, "customersCount": 1}.get(root, 10)

    # --- GraphQL operations: (state, variables, query) -> (data, actual cost) ---------------

    def _op_shop(self, state: _Shop, variables: dict, query: str) -> tuple[dict, int]:
        shop = {"name": state.name, "currencyCode": state.currency, "ianaTimezone": state.timezone,
                "myshopifyDomain": state.domain, "billingAddress": {"countryCodeV2": state.country}}
        return {"shop": shop, "shopLocales": [{"locale": state.locale, "primary": True}]}, 2

    def _op_customers(self, state: _Shop, variables: dict, query: str) -> tuple[dict, int]:
        since = _UPDATED_RE.search(variables.get("query") or "")
        indices = state.customer_indices(_uncursor(variables.get("after")), _parse(since[1]) if since else None)
        page = list(itertools.islice(indices, int(variables.get("first") or 50) + 1))
        more, page = len(page) > int(variables.get("first") or 50), page[: int(variables.get("first") or 50)]
        edges = [{"cursor": _cursor(i), "node": state.customer(i)} for i in page]
        return {"customers": _connection(edges, more)}, len(edges) + 2

    def _op_customersCount(self, state: _Shop, variables: dict, query: str) -> tuple[dict, int]:
        since = _UPDATED_RE.search(variables.get("query") or "")
        count = sum(1 for _ in state.customer_indices(-1, _parse(since[1]) if since else None))
        return {"customersCount": {"count": count, "precision": "EXACT"}}, 1

    def _op_bulkOperationRunQuery(self, state: _Shop, variables: dict, query: str) -> tuple[dict, int]:
        inner = variables.get("query") or ""
        running = [op for op in state.bulk_ops.values() if self._bulk_status(op)["status"] == "RUNNING"]
        error = None
        if not _BULK_CUSTOMERS_RE.match(inner):
            error = "The sandbox runs bulk queries over customers only"
        elif running:
            error = f"A bulk query operation for this app and shop is already in progress: {running[0]['id']}."
        if error:
            return {"bulkOperationRunQuery": {"bulkOperation": None, "userErrors": [
                {"field": ["query"], "message": error, "code": "OPERATION_IN_PROGRESS" if running else "INVALID"}]}}, 10
        since = _UPDATED_RE.search(inner)
        key = secrets.token_urlsafe(16)
        self.bulk_files[key] = (state.domain, _parse(since[1]) if since else None)
        op = {"id": f"gid://shopify/BulkOperation/{next(self._ids)}", "key": key, "started": self.clock(),
              "createdAt": _iso(datetime.now(UTC))}
        state.bulk_ops[op["id"]] = op
        return {"bulkOperationRunQuery": {"bulkOperation": {"id": op["id"], "status": "CREATED"}, "userErrors": []}}, 10

    def _bulk_status(self, op: dict) -> dict:
        done = self.clock() - op["started"] >= self.bulk_delay
        node = {"id": op["id"], "status": "COMPLETED" if done else "RUNNING", "errorCode": None,
                "createdAt": op["createdAt"], "completedAt": None, "objectCount": "0", "url": None,
                "partialDataUrl": None}
        if done:
            shop, since = self.bulk_files[op["key"]]
            if "count" not in op:
                op["count"] = sum(1 for _ in self.shops[shop].customer_indices(-1, since))
            node.update(objectCount=str(op["count"]), completedAt=op["createdAt"],
                        url=f"{request.host_url}_bulk/{op['key']}.jsonl")
        return node

    def _op_node(self, state: _Shop, variables: dict, query: str) -> tuple[dict, int]:
        op = state.bulk_ops.get(variables.get("id") or "")
        return {"node": self._bulk_status(op) if op else None}, 1

    def _op_customerSmsMarketingConsentUpdate(self, state: _Shop, variables: dict, query: str) -> tuple[dict, int]:
        payload = variables.get("input") or {}
        consent = payload.get("smsMarketingConsent") or {}
        index = state.index_of(payload.get("customerId") or "")
        errors = []
        if index is None:
            errors.append({"field": ["input", "customerId"], "message": "Customer not found", "code": "INVALID"})
        elif not state.customer(index).get("phone"):
            errors.append({"field": ["input", "smsMarketingConsent"], "message": "A phone number is required",
                           "code": "MISSING_ARGUMENT"})
        if consent.get("marketingState") not in ("SUBSCRIBED", "UNSUBSCRIBED", "PENDING", "NOT_SUBSCRIBED"):
            errors.append({"field": ["input", "smsMarketingConsent", "marketingState"],
                           "message": "Marketing state is invalid", "code": "INVALID"})
        if errors:
            return {"customerSmsMarketingConsentUpdate": {"customer": None, "userErrors": errors}}, 10
        now = _iso(datetime.now(UTC))
        node = dict(state.customer(index), updatedAt=now)
        node["smsMarketingConsent"] = {
            "marketingState": consent["marketingState"],
            "marketingOptInLevel": consent.get("marketingOptInLevel") or "SINGLE_OPT_IN",
            "consentUpdatedAt": consent.get("consentUpdatedAt") or now,
            "consentCollectedFrom": "OTHER",
        }
        state.overrides[index] = node
        return {"customerSmsMarketingConsentUpdate": {"customer": node, "userErrors": []}}, 10

    def _op_webhookSubscriptions(self, state: _Shop, variables: dict, query: str) -> tuple[dict, int]:
        start, first = _uncursor(variables.get("after")) + 1, int(variables.get("first") or 50)
        chosen = state.webhooks[start: start + first]
        edges = [{"cursor": _cursor(start + n), "node": hook} for n, hook in enumerate(chosen)]
        return {"webhookSubscriptions": _connection(edges, start + first < len(state.webhooks))}, len(edges) + 2

    def _op_webhookSubscriptionCreate(self, state: _Shop, variables: dict, query: str) -> tuple[dict, int]:
        topic, uri = variables.get("topic"), variables.get("uri")
        error = None
        if topic not in _WEBHOOK_ENUMS:
            error = {"field": ["topic"], "message": f"Topic {topic} is not supported"}
        elif not uri or not re.match(r"https?://", uri):
            error = {"field": ["webhookSubscription", "uri"], "message": "Address is invalid"}
        elif any(h["topic"] == topic and h["uri"] == uri for h in state.webhooks):
            error = {"field": ["webhookSubscription", "uri"], "message": "Address for this topic has already been taken"}
        if error:
            return {"webhookSubscriptionCreate": {"webhookSubscription": None, "userErrors": [error]}}, 10
        hook = {"id": f"gid://shopify/WebhookSubscription/{next(self._ids)}", "topic": topic, "uri": uri}
        state.webhooks.append(hook)
        return {"webhookSubscriptionCreate": {"webhookSubscription": hook, "userErrors": []}}, 10

    def _op_abandonedCheckouts(self, state: _Shop, variables: dict, query: str) -> tuple[dict, int]:
        start, first = _uncursor(variables.get("after")) + 1, int(variables.get("first") or 50)
        chosen = state.checkouts[start: start + first]
        edges = [{"cursor": _cursor(start + n), "node": node} for n, node in enumerate(chosen)]
        return {"abandonedCheckouts": _connection(edges, start + first < len(state.checkouts))}, len(edges) * 6 + 2

    def _bulk_file(self, key: str) -> Response:
        if key not in self.bulk_files:
            abort(404)
        shop, since = self.bulk_files[key]
        state = self.shops[shop]

        def lines() -> Iterator[bytes]:
            for i in state.customer_indices(-1, since):
                self.bulk_lines_served += 1
                yield json.dumps(state.customer(i)).encode() + b"\n"

        return Response(lines(), mimetype="application/jsonl")


def _connection(edges: list[dict], more: bool) -> dict:
    return {"edges": edges, "pageInfo": {"hasNextPage": more, "endCursor": edges[-1]["cursor"] if edges else None}}


def create_app(sandbox: ShopifySandbox | None = None) -> Flask:
    """A Flask app for a (new, empty) sandbox; keep the sandbox to seed it."""
    return (sandbox or ShopifySandbox()).app
