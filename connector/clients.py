"""Per-shop clients for outside systems, built from the shop's stored (encrypted) credentials.

Expiring tokens are refreshed ahead of expiry, once across all workers (a Redis lock), and the
rotated tokens are stored encrypted.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations.models import Installation, Shop, utcnow
from connector.runtime import Runtime
from integrations.hubspot import install as hubspot_install
from integrations.hubspot.client import HubSpotClient
from integrations.shopify import install as shopify_install
from integrations.shopify.client import ShopifyClient


def installation(session: Session, shop: Shop, provider: str) -> Installation | None:
    return session.scalar(
        sa.select(Installation).where(Installation.shop_id == shop.id, Installation.provider == provider)
    )


def store_tokens(runtime: Runtime, inst: Installation, *, access_token: str, refresh_token: str | None,
                 expires_at: datetime | None, refresh_expires_at: datetime | None = None) -> None:
    inst.access_token_enc = runtime.secrets.encrypt(access_token)
    inst.refresh_token_enc = runtime.secrets.encrypt(refresh_token)
    inst.expires_at = expires_at
    inst.refresh_expires_at = refresh_expires_at
    inst.updated_at = utcnow()


def _hubspot_token(runtime: Runtime, inst_id: int) -> str:
    """A valid HubSpot access token for this installation, refreshed once if it is about to expire."""
    cfg = runtime.config

    def load() -> hubspot_install.TokenSet:
        with runtime.db.session() as s:
            inst = s.get(Installation, inst_id)
            return hubspot_install.TokenSet(
                access_token=runtime.secrets.decrypt(inst.access_token_enc) or "",
                refresh_token=runtime.secrets.decrypt(inst.refresh_token_enc) or "",
                expires_at=inst.expires_at.timestamp() if inst.expires_at else float("inf"),
                hub_id=int(inst.external_id) if inst.external_id else None,
            )

    def do_refresh() -> hubspot_install.TokenSet:
        current = load()
        fresh = hubspot_install.refresh(
            current.refresh_token, cfg.hubspot_client_id, cfg.hubspot_client_secret,
            cfg.hubspot_base_url or None, hub_id=current.hub_id,
        )
        with runtime.db.transaction() as s:
            inst = s.get(Installation, inst_id)
            store_tokens(runtime, inst, access_token=fresh.access_token, refresh_token=fresh.refresh_token,
                         expires_at=datetime.fromtimestamp(fresh.expires_at, UTC))
        return fresh

    current = load()
    if not current.refresh_token:  # private app token: no expiry
        return current.access_token
    return hubspot_install.refresh_once(runtime.redis, str(inst_id), current, do_refresh, load).access_token


def hubspot_for(runtime: Runtime, session: Session, shop: Shop) -> HubSpotClient | None:
    inst = installation(session, shop, "hubspot")
    if inst is None or not inst.access_token_enc:
        return None
    limit = int((inst.extra or {}).get("rate_limit") or runtime.config.hubspot_rate_limit)
    return HubSpotClient(
        lambda: _hubspot_token(runtime, inst.id),
        portal_id=inst.external_id or "0",
        base_url=runtime.config.hubspot_base_url or None,
        redis_conn=runtime.redis,
        limit=limit,
    )


def _shopify_token(runtime: Runtime, session: Session, shop: Shop, inst: Installation) -> str:
    token = runtime.secrets.decrypt(inst.access_token_enc) or ""
    refresh = runtime.secrets.decrypt(inst.refresh_token_enc)
    if not refresh or inst.expires_at is None:
        return token
    current = shopify_install.TokenSet(access_token=token, scope=inst.scopes or "", expires_at=inst.expires_at,
                                       refresh_token=refresh, refresh_token_expires_at=inst.refresh_expires_at)
    if not shopify_install.needs_refresh(current, utcnow()):
        return token
    lock = runtime.redis.lock(f"parlons:oauth:shopify:refresh:{shop.id}", timeout=30, blocking_timeout=30)
    with lock:
        session.refresh(inst)
        current = shopify_install.TokenSet(
            access_token=runtime.secrets.decrypt(inst.access_token_enc) or "", scope=inst.scopes or "",
            expires_at=inst.expires_at, refresh_token=runtime.secrets.decrypt(inst.refresh_token_enc),
        )
        if not shopify_install.needs_refresh(current, utcnow()):
            return current.access_token
        fresh = shopify_install.refresh_token(
            shop.domain, current.refresh_token or "", runtime.config.shopify_api_key,
            runtime.config.shopify_api_secret, base_url=runtime.config.shopify_base_url or None,
        )
        store_tokens(runtime, inst, access_token=fresh.access_token, refresh_token=fresh.refresh_token,
                     expires_at=fresh.expires_at, refresh_expires_at=fresh.refresh_token_expires_at)
        session.flush()
        return fresh.access_token


def shopify_for(runtime: Runtime, session: Session, shop: Shop) -> ShopifyClient | None:
    inst = installation(session, shop, "shopify")
    if inst is None or not inst.access_token_enc:
        return None
    return ShopifyClient(
        shop.domain, _shopify_token(runtime, session, shop, inst),
        base_url=runtime.config.shopify_base_url or None,
    )
