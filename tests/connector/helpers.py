"""Small helpers shared by connector tests: signing and posting Shopify deliveries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from pathlib import Path

import sqlalchemy as sa

from automations.models import Shop

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify" / "2026-01"
SHOP = "parlons-test.myshopify.com"


def topic_of(path: Path) -> str:
    return path.stem.replace("__", "/")


def sign(raw: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def shopify_headers(raw: bytes, topic: str, secret: str, *, shop: str = SHOP, webhook_id: str | None = None,
                    event_id: str | None = None) -> dict:
    return {
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(raw, secret),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-API-Version": "2026-01",
        "Content-Type": "application/json",
    }


def post_shopify(client, raw: bytes, topic: str, secret: str, **kw):
    return client.post("/webhooks/shopify", data=raw, headers=shopify_headers(raw, topic, secret, **kw))


def make_shop(db, domain: str = SHOP, **fields) -> int:
    with db.transaction() as session:
        shop = Shop(domain=domain, name="Boutique Test", **fields)
        session.add(shop)
        session.flush()
        return shop.id


def count(db, model, *where) -> int:
    with db.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))
