"""Webhook endpoints. Each checks in the fixed order: signature over the raw bytes (401), missing
headers (400), unknown topic (200, logged as unsupported), bad payload (400, logged as anomalous),
then stores the delivery once and signals a worker. Nothing else happens in the request."""

from __future__ import annotations

import logging

import msgspec
import orjson
from flask import Blueprint, Response, request

from connector.shops import shop_ref
from connector.web import rt
from connector.web.limits import refuse_bad_signature, shop_cap, too_many
from integrations.shopify import webhooks as shopify_webhooks

log = logging.getLogger("parlons.webhooks")
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


class _AnyObject(msgspec.Struct):
    """A JSON object, whatever its members."""


_decode_object = msgspec.json.Decoder(_AnyObject).decode


def json_object_text(raw: bytes) -> str | None:
    """The body as text when it is one JSON object in UTF-8, else None.

    The whole document's syntax is checked, but its members are skipped rather than built:
    the worker parses the payload when it needs it, and building 15 kB of objects per request
    is the largest cost of a webhook after storing it. Same verdict as a full parse, except
    for numbers too large for a double, which the worker then finds invalid."""
    try:
        _decode_object(raw)
        return raw.decode("utf-8")  # the syntax check skips strings' contents: this checks them
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def _answer(status: int, outcome: str, **extra) -> Response:
    return Response(orjson.dumps({"outcome": outcome, **extra}), status, mimetype="application/json")


@bp.post("/shopify")
def shopify():
    runtime = rt()
    raw = request.get_data(cache=False)
    hmac_header = request.headers.get("X-Shopify-Hmac-Sha256")
    domain = (request.headers.get("X-Shopify-Shop-Domain") or "").strip().lower()
    ref = shop_ref(runtime.db, domain, runtime.config.shopify_api_secret, runtime.secrets) if domain else None
    secrets = ref.webhook_secrets if ref else (runtime.config.shopify_api_secret,)
    if not hmac_header or not any(s and shopify_webhooks.verify_hmac(raw, hmac_header, s) for s in secrets):
        wait = refuse_bad_signature("shopify")
        if wait:
            return too_many(wait)
        log.warning("shopify webhook rejected: bad signature (shop=%s)", domain or "?")
        return _answer(401, "bad_signature")
    topic = request.headers.get("X-Shopify-Topic")
    delivery_id = request.headers.get("X-Shopify-Webhook-Id")
    missing = [
        name for name, value in (
            ("X-Shopify-Topic", topic), ("X-Shopify-Webhook-Id", delivery_id),
            ("X-Shopify-Shop-Domain", domain),
        ) if not value
    ]
    if missing:
        return _answer(400, "missing_headers", missing=missing)
    if topic not in shopify_webhooks.SUPPORTED_TOPICS:
        log.info("shopify webhook ignored: unsupported topic %s (shop=%s)", topic, domain)
        return _answer(200, "unsupported_topic", topic=topic)
    payload = json_object_text(raw)
    if payload is None:
        log.warning("shopify webhook anomalous: body is not a JSON object (topic=%s shop=%s)", topic, domain)
        return _answer(400, "bad_payload", reason="body is not a JSON object")
    if ref is None or (not ref.active and topic not in shopify_webhooks.COMPLIANCE_TOPICS):
        log.info("shopify webhook for unknown or uninstalled shop %s (%s): nothing stored", domain, topic)
        return _answer(200, "unknown_shop" if ref is None else "shop_uninstalled")
    wait = shop_cap().wait(domain)
    if wait:
        return too_many(wait, "too many deliveries for this shop: retry later")
    event_id = runtime.deliveries.record(
        source="shopify", delivery_id=delivery_id, topic=topic, shop_id=ref.id,
        payload=payload, event_id=request.headers.get("X-Shopify-Event-Id") or None,
    )
    if event_id is None:
        return _answer(200, "duplicate")
    shop_cap().stored(domain)
    return _answer(200, "stored", id=event_id)
