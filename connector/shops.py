"""Finding shops for incoming requests, with a short in-process cache for the ingest hot path."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations.models import Installation, Shop
from connector.crypto import SecretBox
from connector.db import Database

CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class ShopRef:
    id: int
    domain: str
    active: bool
    webhook_secrets: tuple[str, ...]  # app secret and/or a custom app's own secret


_cache: dict[str, tuple[float, ShopRef | None]] = {}


def shop_ref(db: Database, domain: str, app_secret: str, box: SecretBox) -> ShopRef | None:
    hit = _cache.get(domain)
    now = time.monotonic()
    if hit and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    with db.session() as session:
        ref = _load(session, domain, app_secret, box)
    _cache[domain] = (now, ref)
    return ref


def _load(session: Session, domain: str, app_secret: str, box: SecretBox) -> ShopRef | None:
    shop = session.scalar(sa.select(Shop).where(Shop.domain == domain))
    ref = None
    if shop is not None:
        secrets = [app_secret] if app_secret else []
        inst = session.scalar(
            sa.select(Installation).where(Installation.shop_id == shop.id, Installation.provider == "shopify")
        )
        own = (inst.extra or {}).get("api_secret_enc") if inst else None
        if own:
            secrets.insert(0, box.decrypt(own) or "")
        ref = ShopRef(shop.id, shop.domain, shop.active, tuple(s for s in secrets if s))
    return ref


def forget(domain: str | None = None) -> None:
    """Drop cached lookups (after install, uninstall, or in tests)."""
    if domain is None:
        _cache.clear()
    else:
        _cache.pop(domain, None)
