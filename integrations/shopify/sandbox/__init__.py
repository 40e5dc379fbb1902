"""A local stand-in of Shopify's Admin API, served over real HTTP (tests and the demo use it).

Paths follow `{base}/{shop}/...`, the shape the client and install code use with `base_url`:
  GET  /{shop}/admin/oauth/authorize              approves at once, redirects with a signed query
  POST /{shop}/admin/oauth/access_token           code grant (`expiring=1`) and refresh grant
  POST /{shop}/admin/api/{version}/graphql.json   the operations `client.py` sends
  GET  /_bulk/{key}.jsonl                         a finished bulk operation's file, streamed

GraphQL operations are recognised by their first root field, read with a regex over the query
text (`ROOT_FIELD_RE`); the answer is the whole node whatever the selection set asks. Every
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
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

import requests
from flask import Flask, Response, abort, jsonify, redirect, request

from integrations.shopify.admin_schema import AdminSchema, published_versions
from integrations.shopify.install import REQUIRED_SCOPES, query_hmac
from integrations.shopify.sandbox.operations import GraphQLOperations
from integrations.shopify.sandbox.store import ROOT_FIELD_RE, UNAUTHORIZED, Bucket, ShopState, iso


class ShopifySandbox(GraphQLOperations):
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
        self.shops: dict[str, ShopState] = {}
        self.tokens: dict[str, tuple[str, float | None, str]] = {}  # access token -> shop, expires, scopes
        self.refresh_tokens: dict[str, tuple[str, float, str]] = {}  # -> shop, expires, scopes
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
        self._event_ids: dict[str, str] = {}  # webhook id -> the event it delivers

    # --- seeding and control ---------------------------------------------------------------

    def clock(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the sandbox's clock forward (tokens and codes expire)."""
        self._offset += seconds

    def add_shop(self, domain: str, *, name: str = "Boutique Sandbox", currency: str = "EUR",
                 country: str = "FR", timezone: str = "Europe/Paris", locale: str = "fr") -> str:
        bucket = Bucket(self.bucket_size, self.restore_rate, time.monotonic)
        self.shops[domain] = ShopState(domain, name, currency, country, timezone, locale, bucket)
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
            state.overrides[index] = {**state.generated(index), "updatedAt": iso(datetime.now(UTC)), **node}
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
                "createdAt": iso(datetime.now(UTC)), "updatedAt": iso(datetime.now(UTC)),
                "completedAt": None, "customer": None, "lineItems": {"edges": []},
                "totalPriceSet": {"shopMoney": {"amount": "0.00", "currencyCode": self.shops[shop].currency}},
                **node,
            }
            self.shops[shop].checkouts.append(checkout)
            return checkout

    def grant_token(self, shop: str, expires_in: int | None = 3600, scopes: str = REQUIRED_SCOPES) -> str:
        """An access token for `shop` without going through OAuth (a custom app's, say), holding
        `scopes` (by default the ones Parlons asks for at install)."""
        token = "shpat_" + secrets.token_hex(16)
        self.tokens[token] = (shop, None if expires_in is None else self.clock() + expires_in, scopes)
        return token

    def throttle_hard(self, every: int = 2, retry_after: float = 0.01) -> None:
        """Refuse every `every`-th GraphQL request, alternating THROTTLED bodies and HTTP 429."""
        self._refuse_every, self._retry_after = every, retry_after

    def webhook_subscriptions(self, shop: str) -> list[dict]:
        return list(self.shops[shop].webhooks)

    def emit_webhook(self, topic: str, payload: dict | bytes, app_url: str, secret: str,
                     webhook_id: str | None = None, *, shop: str | None = None, event_id: str | None = None,
                     api_version: str = "2026-01", timeout: float = 10) -> requests.Response:
        """POST a webhook to the app like Shopify: the exact bytes, signed, with its headers.

        A retry (the same `webhook_id` again) carries the same `X-Shopify-Event-Id`; pass
        `event_id` to deliver one event again under a new webhook id, as Shopify may."""
        webhook_id = webhook_id or str(uuid.uuid4())
        event_id = event_id or self._event_ids.setdefault(webhook_id, str(uuid.uuid4()))
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Shop-Domain": shop or next(iter(self.shops), "sandbox.myshopify.com"),
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-API-Version": api_version,
            "X-Shopify-Event-Id": event_id,
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
                scope = held[2]
            else:
                held = self.codes.pop(form.get("code", ""), None)
                if held is None or held[0] != shop or held[1] < self.clock():
                    return jsonify(error="invalid_request",
                                   error_description="The authorization code was not found or was already used"), 400
                scope = held[2]
                if str(form.get("expiring")) not in ("1", "true"):
                    return jsonify(access_token=self.grant_token(shop, None, scope), scope=scope), 200
            body = {"access_token": self.grant_token(shop, self.token_ttl, scope), "scope": scope,
                    "expires_in": self.token_ttl, "refresh_token": "shprt_" + secrets.token_hex(16),
                    "refresh_token_expires_in": self.refresh_ttl}
            self.refresh_tokens[body["refresh_token"]] = (shop, self.clock() + self.refresh_ttl, scope)
            return jsonify(body), 200

    def _graphql(self, shop: str, version: str) -> Response | tuple[Response, int]:
        held = self.tokens.get(request.headers.get("X-Shopify-Access-Token", ""))
        if held is None or held[0] != shop or (held[1] is not None and held[1] < self.clock()):
            return jsonify(errors=UNAUTHORIZED), 401
        if version not in published_versions():
            abort(404)
        body = request.get_json(silent=True) or {}
        schema = AdminSchema.published(version)
        query, variables = body.get("query") or "", body.get("variables") or {}
        checked = schema.check(query, variables, body.get("operationName"))
        if not checked.ok:  # Shopify validates the whole document before running any of it
            return jsonify(errors=checked.errors)
        if checked.operation is not None and checked.operation.operation.value == "mutation" and any(
                len(a.path) == 2 for a in checked.denied(held[2])):
            # Shopify runs no mutation the token may not call: nothing changes, the answer says why
            return jsonify(**schema.answer(query, variables, {}, held[2], body.get("operationName")))
        match = ROOT_FIELD_RE.match(query)
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
            data, actual = handler(state, variables, query)
            state.bucket.refund(requested - actual)
            cost = {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": state.bucket.status()}
        # the selection, aliases and access scopes applied as Shopify does (ACCESS_DENIED fields)
        answer = schema.answer(query, variables, data, held[2], body.get("operationName"))
        response = jsonify(**answer, extensions={"cost": cost})
        if checked.deprecations:
            response.headers["X-Shopify-API-Deprecated-Reason"] = ", ".join(sorted({d.coordinate for d in checked.deprecations}))
        return response


def create_app(sandbox: ShopifySandbox | None = None) -> Flask:
    """A Flask app for a (new, empty) sandbox; keep the sandbox to seed it."""
    return (sandbox or ShopifySandbox()).app
