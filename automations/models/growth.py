"""Growing the list: sign-up requests awaiting their double opt-in, the catalogue as the store
last described it, and back-in-stock requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from automations.models.base import Base, utcnow

__all__ = ["SignupRequest", "CatalogVariant", "StockAlert"]


class SignupRequest(Base):
    """One request to join the SMS list (keyword, web page, pop-up, back-in-stock form).

    It stays `pending` until the number confirms (OUI/YES by SMS, or the code typed on the page),
    then `confirmed`; else `expired` or `cancelled` (STOP, a newer request). Everything captured
    is kept as evidence and copied into the consent ledger on confirmation.
    """

    __tablename__ = "signup_requests"
    __table_args__ = (sa.Index("ix_signup_requests_phone", "shop_id", "phone_e164", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    phone_e164: Mapped[str] = mapped_column(sa.String(32))
    channel: Mapped[str] = mapped_column(sa.String(16))  # keyword | web | back_in_stock
    keyword: Mapped[str | None] = mapped_column(sa.String(64))
    page_url: Mapped[str | None] = mapped_column(sa.Text)
    locale: Mapped[str] = mapped_column(sa.String(8), default="fr")
    legal_text: Mapped[str | None] = mapped_column(sa.Text)
    legal_version: Mapped[str | None] = mapped_column(sa.String(32))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.Text)
    code_hash: Mapped[str | None] = mapped_column(sa.String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    status_reason: Mapped[str | None] = mapped_column(sa.String(255))
    messages: Mapped[list[Any]] = mapped_column(default=list)  # the texts exchanged, in order
    product_id: Mapped[str | None] = mapped_column(sa.String(64))
    variant_id: Mapped[str | None] = mapped_column(sa.String(64))
    discount_code: Mapped[str | None] = mapped_column(sa.String(64))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    welcomed_at: Mapped[datetime | None]


class CatalogVariant(Base):
    """A product variant as the last products webhook described it (price, stock item)."""

    __tablename__ = "catalog_variants"
    __table_args__ = (
        sa.UniqueConstraint("shop_id", "variant_id"),
        sa.Index("ix_catalog_variants_item", "shop_id", "inventory_item_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    product_id: Mapped[str] = mapped_column(sa.String(64))
    variant_id: Mapped[str] = mapped_column(sa.String(64))
    inventory_item_id: Mapped[str | None] = mapped_column(sa.String(64))
    title: Mapped[str | None] = mapped_column(sa.String(255))
    handle: Mapped[str | None] = mapped_column(sa.String(255))
    price: Mapped[str | None] = mapped_column(sa.String(32))
    available: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StockAlert(Base):
    """"Text me when it is back": one request, answered by at most one alert."""

    __tablename__ = "stock_alerts"
    __table_args__ = (sa.Index("ix_stock_alerts_variant", "shop_id", "variant_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[str | None] = mapped_column(sa.String(64))
    variant_id: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), default="waiting")  # waiting|notified|cancelled
    signup_id: Mapped[int | None] = mapped_column(sa.ForeignKey("signup_requests.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(sa.ForeignKey("messages.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    notified_at: Mapped[datetime | None]
