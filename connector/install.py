"""Connecting a store and a CRM: the steps shared by OAuth callbacks, the CLI and the demo."""

from __future__ import annotations

import logging
from datetime import datetime

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations.models import Installation, Shop, utcnow
from automations.shops import install_default_rules
from connector.clients import installation, store_tokens
from connector.runtime import Runtime
from connector.shops import forget
from integrations.hubspot.client import HubSpotClient
from integrations.shopify.client import ShopifyClient
from integrations.shopify.webhooks import COMPLIANCE_TOPICS, SUPPORTED_TOPICS

log = logging.getLogger("parlons.install")
WEBHOOK_TOPICS = sorted(SUPPORTED_TOPICS - COMPLIANCE_TOPICS)


def connect_shopify(
    runtime: Runtime,
    session: Session,
    domain: str,
    access_token: str,
    *,
    scopes: str | None = None,
    expires_at: datetime | None = None,
    refresh_token: str | None = None,
    refresh_expires_at: datetime | None = None,
    api_secret: str | None = None,
    register_webhooks: bool = True,
) -> Shop:
    """Install (or re-install) a store: read it, keep its token, subscribe to its webhooks and
    create its ready-made rules. Idempotent: running it again changes nothing it need not."""
    client = ShopifyClient(domain, access_token, base_url=runtime.config.shopify_base_url or None)
    info = client.shop_info()
    shop = session.scalar(sa.select(Shop).where(Shop.domain == domain))
    if shop is None:
        shop = Shop(domain=domain)
        session.add(shop)
    shop.name = info.get("name") or shop.name
    shop.currency = info.get("currency") or shop.currency
    shop.timezone = info.get("iana_timezone") or shop.timezone or "Europe/Paris"
    country = info.get("country_code")
    if country and phonenumbers.country_code_for_region(country):
        shop.country = country
        shop.default_region = country
    shop.locale = (info.get("primary_locale") or shop.locale or "fr").split("-")[0]
    shop.status, shop.installed_at, shop.uninstalled_at = "active", utcnow(), None
    session.flush()
    inst = installation(session, shop, "shopify") or Installation(shop_id=shop.id, provider="shopify")
    session.add(inst)
    store_tokens(runtime, inst, access_token=access_token, refresh_token=refresh_token,
                 expires_at=expires_at, refresh_expires_at=refresh_expires_at)
    inst.scopes = scopes
    extra = dict(inst.extra or {})
    if api_secret:
        extra["api_secret_enc"] = runtime.secrets.encrypt(api_secret)
    if register_webhooks:
        callback = runtime.config.public_url.rstrip("/") + "/webhooks/shopify"
        extra["webhooks"] = client.register_webhooks(WEBHOOK_TOPICS, callback)
    inst.extra = extra
    install_default_rules(session, shop)
    session.flush()
    forget(domain)
    log.info("shop %s connected (%s)", domain, shop.name)
    return shop


def connect_hubspot(
    runtime: Runtime,
    session: Session,
    shop: Shop,
    access_token: str,
    *,
    hub_id: int | str,
    refresh_token: str | None = None,
    expires_at: datetime | None = None,
    rate_limit: int | None = None,
) -> Installation:
    """Link a HubSpot portal to a shop and make sure our contact properties exist."""
    client = HubSpotClient(access_token, portal_id=hub_id, base_url=runtime.config.hubspot_base_url or None,
                           redis_conn=runtime.redis, limit=rate_limit or runtime.config.hubspot_rate_limit)
    created = client.ensure_properties()
    inst = installation(session, shop, "hubspot") or Installation(shop_id=shop.id, provider="hubspot")
    session.add(inst)
    inst.external_id = str(hub_id)
    store_tokens(runtime, inst, access_token=access_token, refresh_token=refresh_token, expires_at=expires_at)
    inst.extra = {**(inst.extra or {}), **({"rate_limit": rate_limit} if rate_limit else {})}
    session.flush()
    log.info("HubSpot portal %s linked to %s (properties created: %s)", hub_id, shop.domain, created or "none")
    return inst
