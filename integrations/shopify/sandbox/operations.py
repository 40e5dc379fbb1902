"""The GraphQL operations the sandbox answers, one method per root field (`_op_<field>`)."""

from __future__ import annotations

import itertools
import json
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Response, abort, request

from integrations.shopify.sandbox.store import (
    BULK_CUSTOMERS_RE,
    UPDATED_RE,
    WEBHOOK_ENUMS,
    ShopState,
    connection,
    cursor,
    iso,
    parse_time,
    uncursor,
)

COUNT_LIMIT = 10_000  # customersCount's default limit


def _limit_in(query: str, variables: dict) -> int | None:
    """customersCount's `limit:` as the document gives it (`null`: none; absent: the default)."""
    found = re.search(r"limit:\s*(null|\d+|\$\w+)", query)
    if found is None:
        return COUNT_LIMIT
    if found[1].startswith("$"):
        value = variables.get(found[1][1:])
        return None if value is None else int(value)
    return None if found[1] == "null" else int(found[1])


class GraphQLOperations:
    """Mixed into `ShopifySandbox`: each operation gets the shop's state and the request."""

    @staticmethod
    def _cost(root: str, variables: dict) -> int:
        first = int(variables.get("first") or 0)
        return {"customers": first + 2, "webhookSubscriptions": first + 2, "abandonedCheckouts": first * 6 + 2,
                "shop": 2, "node": 1, "customersCount": 1}.get(root, 10)

    # --- GraphQL operations: (state, variables, query) -> (data, actual cost) ---------------

    def _op_shop(self, state: ShopState, variables: dict, query: str) -> tuple[dict, int]:
        shop = {"name": state.name, "currencyCode": state.currency, "ianaTimezone": state.timezone,
                "myshopifyDomain": state.domain, "billingAddress": {"countryCodeV2": state.country},
                "shopAddress": {"countryCodeV2": state.country}}
        return {"shop": shop, "shopLocales": [{"locale": state.locale, "primary": True}]}, 2

    def _op_customers(self, state: ShopState, variables: dict, query: str) -> tuple[dict, int]:
        since = UPDATED_RE.search(variables.get("query") or "")
        indices = state.customer_indices(uncursor(variables.get("after")), parse_time(since[1]) if since else None)
        page = list(itertools.islice(indices, int(variables.get("first") or 50) + 1))
        more, page = len(page) > int(variables.get("first") or 50), page[: int(variables.get("first") or 50)]
        edges = [{"cursor": cursor(i), "node": state.customer(i)} for i in page]
        return {"customers": connection(edges, more)}, len(edges) + 2

    def _op_customersCount(self, state: ShopState, variables: dict, query: str) -> tuple[dict, int]:
        since = UPDATED_RE.search(variables.get("query") or "")
        count = sum(1 for _ in state.customer_indices(-1, parse_time(since[1]) if since else None))
        limit = _limit_in(query, variables)
        if limit is not None and count > limit:  # Shopify stops counting at the limit
            return {"customersCount": {"count": limit, "precision": "AT_LEAST"}}, 1
        return {"customersCount": {"count": count, "precision": "EXACT"}}, 1

    def _op_bulkOperationRunQuery(self, state: ShopState, variables: dict, query: str) -> tuple[dict, int]:
        inner = variables.get("query") or ""
        running = [op for op in state.bulk_ops.values() if self._bulk_status(op)["status"] == "RUNNING"]
        error = None
        if not BULK_CUSTOMERS_RE.match(inner):
            error = "The sandbox runs bulk queries over customers only"
        elif running:
            error = f"A bulk query operation for this app and shop is already in progress: {running[0]['id']}."
        if error:
            return {"bulkOperationRunQuery": {"bulkOperation": None, "userErrors": [
                {"field": ["query"], "message": error, "code": "OPERATION_IN_PROGRESS" if running else "INVALID"}]}}, 10
        since = UPDATED_RE.search(inner)
        key = secrets.token_urlsafe(16)
        self.bulk_files[key] = (state.domain, parse_time(since[1]) if since else None)
        op = {"id": f"gid://shopify/BulkOperation/{next(self._ids)}", "key": key, "started": self.clock(),
              "createdAt": iso(datetime.now(UTC))}
        state.bulk_ops[op["id"]] = op
        return {"bulkOperationRunQuery": {"bulkOperation": {"id": op["id"], "status": "CREATED"}, "userErrors": []}}, 10

    def _bulk_status(self, op: dict) -> dict:
        done = self.clock() - op["started"] >= self.bulk_delay
        node = {"__typename": "BulkOperation", "id": op["id"], "status": "COMPLETED" if done else "RUNNING", "errorCode": None,
                "createdAt": op["createdAt"], "completedAt": None, "objectCount": "0", "url": None,
                "partialDataUrl": None}
        if done:
            shop, since = self.bulk_files[op["key"]]
            if "count" not in op:
                op["count"] = sum(1 for _ in self.shops[shop].customer_indices(-1, since))
            node.update(objectCount=str(op["count"]), completedAt=op["createdAt"],
                        url=f"{request.host_url}_bulk/{op['key']}.jsonl")
        return node

    def _op_node(self, state: ShopState, variables: dict, query: str) -> tuple[dict, int]:
        op = state.bulk_ops.get(variables.get("id") or "")
        return {"node": self._bulk_status(op) if op else None}, 1

    def _op_customerSmsMarketingConsentUpdate(self, state: ShopState, variables: dict, query: str) -> tuple[dict, int]:
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
        now = iso(datetime.now(UTC))
        node = dict(state.customer(index), updatedAt=now)
        node["smsMarketingConsent"] = {
            "marketingState": consent["marketingState"],
            "marketingOptInLevel": consent.get("marketingOptInLevel") or "SINGLE_OPT_IN",
            "consentUpdatedAt": consent.get("consentUpdatedAt") or now,
            "consentCollectedFrom": "OTHER",
        }
        state.overrides[index] = node
        return {"customerSmsMarketingConsentUpdate": {"customer": node, "userErrors": []}}, 10

    def _op_discountCodeBasicCreate(self, state: ShopState, variables: dict, query: str) -> tuple[dict, int]:
        given = variables.get("basicCodeDiscount") or {}
        code, title = str(given.get("code") or "").strip(), str(given.get("title") or "").strip()
        value = ((given.get("customerGets") or {}).get("value") or {})
        errors = []
        if not title:
            errors.append({"field": ["basicCodeDiscount", "title"], "message": "Title can't be blank", "code": "BLANK"})
        if not code:
            errors.append({"field": ["basicCodeDiscount", "code"], "message": "Code can't be blank", "code": "BLANK"})
        elif code.upper() in state.discounts:
            errors.append({"field": ["basicCodeDiscount", "code"], "message": "Code must be unique. Please try a different code.",
                           "code": "TAKEN"})
        percentage = value.get("percentage")
        if percentage is not None and not 0 < float(percentage) <= 1:
            errors.append({"field": ["basicCodeDiscount", "customerGets", "value", "percentage"],
                           "message": "Value must be between 0.0 and 1.0", "code": "VALUE_OUTSIDE_RANGE"})
        if errors:
            return {"discountCodeBasicCreate": {"codeDiscountNode": None, "userErrors": errors}}, 10
        node = {"id": f"gid://shopify/DiscountCodeNode/{next(self._ids)}", "code": code, "title": title,
                "usageLimit": given.get("usageLimit"), "appliesOncePerCustomer": bool(given.get("appliesOncePerCustomer")),
                "percentage": percentage, "startsAt": given.get("startsAt"), "endsAt": given.get("endsAt")}
        state.discounts[code.upper()] = node
        return {"discountCodeBasicCreate": {"codeDiscountNode": {"id": node["id"]}, "userErrors": []}}, 10

    def _op_webhookSubscriptions(self, state: ShopState, variables: dict, query: str) -> tuple[dict, int]:
        start, first = uncursor(variables.get("after")) + 1, int(variables.get("first") or 50)
        chosen = state.webhooks[start: start + first]
        edges = [{"cursor": cursor(start + n), "node": hook} for n, hook in enumerate(chosen)]
        return {"webhookSubscriptions": connection(edges, start + first < len(state.webhooks))}, len(edges) + 2

    def _op_webhookSubscriptionCreate(self, state: ShopState, variables: dict, query: str) -> tuple[dict, int]:
        topic, uri = variables.get("topic"), variables.get("uri")
        error = None
        if topic not in WEBHOOK_ENUMS:
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

    def _op_abandonedCheckouts(self, state: ShopState, variables: dict, query: str) -> tuple[dict, int]:
        start, first = uncursor(variables.get("after")) + 1, int(variables.get("first") or 50)
        chosen = state.checkouts[start: start + first]
        edges = [{"cursor": cursor(start + n), "node": node} for n, node in enumerate(chosen)]
        return {"abandonedCheckouts": connection(edges, start + first < len(state.checkouts))}, len(edges) * 6 + 2

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
