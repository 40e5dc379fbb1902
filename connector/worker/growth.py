"""Welcomes of confirmed sign-ups: each subscriber's single-use Shopify discount code (when the
shop's `signup.welcome_code` setting asks for one), then the welcome flow carrying it.

Run by a job right after a web confirmation and by every tick (SMS confirmations, retries). When
Shopify cannot create the code, the next tick tries again; after `CODE_PATIENCE` the welcome
starts without a unique code (the step's shared code, if any, is used)."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

import orjson
from sqlalchemy.orm import Session

from automations import catalog_alerts, signup_welcome
from automations.models import Shop, SignupRequest, StoreEvent, utcnow
from connector.clients import shopify_for
from connector.runtime import Runtime, current
from integrations.errors import ApiError
from integrations.shopify import catalog
from integrations.shopify.webhooks import PayloadError

log = logging.getLogger("parlons.growth")
CODE_PATIENCE = timedelta(hours=1)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def welcome_due() -> int:
    """The RQ job."""
    return start_welcomes(current(), utcnow())


def start_welcomes(runtime: Runtime, now: datetime, limit: int = 100) -> int:
    started = 0
    with runtime.db.transaction() as session:
        for req in signup_welcome.due(session, limit):
            shop = session.get(Shop, req.shop_id)
            wanted = signup_welcome.wants_code(shop)
            code = None
            if wanted:
                try:
                    code = _create_code(runtime, session, shop, req, wanted, now)
                except ApiError as exc:
                    if now - (req.confirmed_at or now) < CODE_PATIENCE:
                        log.warning("welcome code for sign-up %s not created yet: %s", req.id, exc)
                        continue
                    log.error("welcome code for sign-up %s given up: %s", req.id, exc)
            signup_welcome.start(session, shop, req, code, now)
            started += 1
    if started:
        runtime.signal("dispatch")
    return started


def new_code(prefix: str) -> str:
    return f"{prefix}-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


def _create_code(
    runtime: Runtime, session: Session, shop: Shop, req: SignupRequest, wanted: dict, now: datetime
) -> str | None:
    client = shopify_for(runtime, session, shop)
    if client is None:
        return None
    prefix = str(wanted.get("prefix") or "BIENVENUE").upper()[:20]
    days = int(wanted.get("days") or 30)
    code = new_code(prefix)
    client.create_discount_code(
        code, f"SMS welcome — sign-up {req.id}", float(wanted["percentage"]) / 100, now,
        now + timedelta(days=days),
    )
    return code


def catalog_event(session: Session, event: StoreEvent, shop: Shop | None, now: datetime) -> dict:
    """A products or inventory webhook: the catalogue kept up to date, alerts queued."""
    if shop is None:
        return {"ignored": "unknown shop"}
    try:
        parsed = catalog.parse(event.topic, orjson.loads(event.payload))
    except (PayloadError, orjson.JSONDecodeError) as exc:
        log.warning("store event %s (%s) invalid: %s", event.id, event.topic, exc)
        return {"invalid": str(exc)}
    if isinstance(parsed, catalog_alerts.StockLevel):
        done = catalog_alerts.apply_stock(session, shop, parsed, now)
    else:
        done = catalog_alerts.apply_products(session, shop, parsed, now)
    return {"events": [], "catalog": done}  # no engine event: alerts are queued here
