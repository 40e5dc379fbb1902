"""Alerts the catalogue triggers: back in stock and price drop.

* **Back in stock**: a stock level above zero for a variant with waiting requests ("text me when it
  is back") alerts them first come, first served: no more people than the units there are (less
  those alerted for the same variant in the last `RESERVED_FOR`, who may still be buying). Each
  request gets one alert at most; the others keep waiting for the next restock.
* **Price drop**: a variant whose price falls by more than the shop's share
  (`signup.price_drop_share`, default 10 %) alerts the subscribers who asked for it or left it in
  an abandoned checkout in the last `CHECKOUT_DAYS` days, once per price.

Alerts are marketing SMS: only subscribed contacts get them, and dispatch checks consent, send
window and caps again at send time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations.conversations import queue_reply
from automations.engine import eligibility
from automations.models import CatalogVariant, Checkout, Contact, Message, Shop, StockAlert
from automations.signup_texts import lang_of, text

RESERVED_FOR = timedelta(hours=24)
CHECKOUT_DAYS = 7
DEFAULT_DROP_SHARE = Decimal("0.10")


@dataclass(frozen=True)
class VariantData:
    product_id: str
    variant_id: str
    product_title: str
    variant_title: str | None = None
    handle: str | None = None
    price: str | None = None
    inventory_item_id: str | None = None
    available: int | None = None
    active: bool = True


@dataclass(frozen=True)
class StockLevel:
    inventory_item_id: str | None
    available: int | None
    location_id: int | None = None


def apply_products(session: Session, shop: Shop, variants: list[VariantData], now: datetime) -> dict[str, Any]:
    """A products webhook: remember each variant, alert on a restock or a price drop."""
    alerted: dict[str, list[int]] = {"back_in_stock": [], "price_drop": []}
    for data in variants:
        row = _variant(session, shop, data.variant_id)
        old_price = row.price
        row.product_id, row.title, row.handle = data.product_id, _title(data), data.handle
        row.inventory_item_id = data.inventory_item_id or row.inventory_item_id
        row.price = data.price or row.price
        if data.available is not None:
            row.available = data.available
        row.updated_at = now
        session.flush()
        if not data.active:
            continue
        if data.available is not None and data.available > 0:
            alerted["back_in_stock"] += back_in_stock(session, shop, row, now)
        if _dropped(shop, old_price, data.price):
            alerted["price_drop"] += price_drop(session, shop, row, now)
    return {"variants": len(variants), **alerted}


def apply_stock(session: Session, shop: Shop, level: StockLevel, now: datetime) -> dict[str, Any]:
    """An inventory level: the variant it stocks, alerted when it is above zero."""
    row = session.scalar(sa.select(CatalogVariant).where(
        CatalogVariant.shop_id == shop.id, CatalogVariant.inventory_item_id == level.inventory_item_id))
    if row is None:
        return {"ignored": "an inventory item no products webhook described yet"}
    if level.available is not None:
        row.available, row.updated_at = level.available, now
    sent = back_in_stock(session, shop, row, now) if (level.available or 0) > 0 else []
    return {"variant_id": row.variant_id, "available": level.available, "back_in_stock": sent}


def back_in_stock(session: Session, shop: Shop, row: CatalogVariant, now: datetime) -> list[int]:
    recent = session.scalar(sa.select(sa.func.count()).select_from(StockAlert).where(
        StockAlert.shop_id == shop.id, StockAlert.variant_id == row.variant_id,
        StockAlert.status == "notified", StockAlert.notified_at > now - RESERVED_FOR))
    room = max(0, (row.available or 0) - recent)
    if not room:
        return []
    waiting = session.scalars(sa.select(StockAlert).where(
        StockAlert.shop_id == shop.id, StockAlert.variant_id == row.variant_id, StockAlert.status == "waiting",
    ).order_by(StockAlert.created_at, StockAlert.id)).all()
    sent = []
    for alert in waiting:
        if len(sent) >= room:
            break
        contact = session.get(Contact, alert.contact_id)
        reason = eligibility(shop, contact, "marketing")
        if reason:
            alert.status = "cancelled"
            continue
        lang = lang_of(contact.locale, shop)
        body = text(shop, "back_in_stock", lang, product=row.title, url=product_url(shop, row))
        message = queue_reply(session, shop, contact, None, body, f"back_in_stock:{alert.id}", now,
                              kind="marketing")
        alert.status, alert.notified_at, alert.message_id = "notified", now, message.id
        sent.append(message.id)
    return sent


def price_drop(session: Session, shop: Shop, row: CatalogVariant, now: datetime) -> list[int]:
    asked = sa.select(StockAlert.contact_id).where(
        StockAlert.shop_id == shop.id, StockAlert.variant_id == row.variant_id,
        StockAlert.status.in_(("waiting", "notified")))
    contact_ids = set(session.scalars(asked))
    carts = session.scalars(sa.select(Checkout).where(
        Checkout.shop_id == shop.id, Checkout.contact_id.is_not(None), Checkout.abandoned_at.is_not(None),
        Checkout.completed_at.is_(None), Checkout.abandoned_at > now - timedelta(days=CHECKOUT_DAYS)))
    contact_ids |= {c.contact_id for c in carts
                    if any(i.get("product_id") == row.product_id for i in (c.data or {}).get("line_items") or [])}
    sent = []
    for contact_id in sorted(contact_ids):
        contact = session.get(Contact, contact_id)
        key = f"price_drop:{row.variant_id}:{row.price}:{contact_id}"
        if eligibility(shop, contact, "marketing") or session.scalar(
                sa.select(Message.id).where(Message.idempotency_key == key)):
            continue
        lang = lang_of(contact.locale, shop)
        body = text(shop, "price_drop", lang, product=row.title, url=product_url(shop, row),
                    price=_money(row.price, shop.currency, lang))
        sent.append(queue_reply(session, shop, contact, None, body, key, now, kind="marketing").id)
    return sent


def product_url(shop: Shop, row: CatalogVariant) -> str:
    base = str((shop.settings or {}).get("shop_url") or f"https://{shop.domain}").rstrip("/")
    if not row.handle:
        return base
    return f"{base}/products/{row.handle}?variant={row.variant_id.rsplit('/', 1)[-1]}"


def variant_gid(value: str | None) -> str | None:
    """A variant as a form gives it (the theme's numeric id, or a gid) as its gid."""
    if not value:
        return None
    value = value.strip()
    return f"gid://shopify/ProductVariant/{value}" if value.isdigit() else value


def _variant(session: Session, shop: Shop, variant_id: str) -> CatalogVariant:
    row = session.scalar(sa.select(CatalogVariant).where(
        CatalogVariant.shop_id == shop.id, CatalogVariant.variant_id == variant_id))
    if row is None:
        row = CatalogVariant(shop_id=shop.id, variant_id=variant_id, product_id="")
        session.add(row)
    return row


def _title(data: VariantData) -> str:
    if data.variant_title and data.variant_title != "Default Title":
        return f"{data.product_title} ({data.variant_title})"[:255]
    return data.product_title[:255]


def _dropped(shop: Shop, old: str | None, new: str | None) -> bool:
    try:
        before, after = Decimal(old or ""), Decimal(new or "")
    except InvalidOperation:
        return False
    setting = ((shop.settings or {}).get("signup") or {}).get("price_drop_share")
    share = Decimal(str(setting)) if setting else DEFAULT_DROP_SHARE
    return before > 0 and (before - after) / before > share


def _money(amount: str | None, currency: str | None, lang: str) -> str:
    value = f"{Decimal(amount or '0'):.2f}"
    symbol = {"EUR": "€", "USD": "$", "GBP": "£"}.get((currency or "").upper(), currency or "")
    return f"{value.replace('.', ',')} {symbol}".strip() if lang == "fr" else f"{symbol}{value}"
