"""Contacts and their consent ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from automations.models.base import Base, utcnow
from automations.models.shops import Shop

__all__ = ["Contact", "ConsentEvent"]


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        sa.UniqueConstraint("shop_id", "phone_e164"),
        sa.Index("ix_contacts_shop_shopify", "shop_id", "shopify_customer_id"),
        sa.Index("ix_contacts_shop_hubspot", "shop_id", "hubspot_contact_id"),
        sa.Index("ix_contacts_shop_email", "shop_id", "email"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    phone_e164: Mapped[str | None] = mapped_column(sa.String(32))
    phone_raw: Mapped[str | None] = mapped_column(sa.String(64))
    phone_error: Mapped[str | None] = mapped_column(sa.String(255))
    email: Mapped[str | None] = mapped_column(sa.String(255))
    first_name: Mapped[str | None] = mapped_column(sa.String(255))
    last_name: Mapped[str | None] = mapped_column(sa.String(255))
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    orders_count: Mapped[int | None]
    total_spent: Mapped[str | None] = mapped_column(sa.String(32))
    last_order_at: Mapped[datetime | None]
    birthday: Mapped[str | None] = mapped_column(sa.String(10))  # YYYY-MM-DD
    shopify_customer_id: Mapped[str | None] = mapped_column(sa.String(64))
    hubspot_contact_id: Mapped[str | None] = mapped_column(sa.String(64))
    consent_status: Mapped[str] = mapped_column(sa.String(16), default="not_subscribed")
    consent_source: Mapped[str | None] = mapped_column(sa.String(32))
    consent_updated_at: Mapped[datetime | None]
    opted_out_at: Mapped[datetime | None]  # replied STOP: no SMS at all, transactional included
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    paused_until: Mapped[datetime | None]  # automation paused by a human handoff
    no_order_event_at: Mapped[datetime | None]  # when NoOrderSince was last raised for them
    source_updated_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    redacted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    shop: Mapped[Shop] = relationship(lazy="joined")

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


class ConsentEvent(Base):
    """Append-only ledger of consent statements: who, when, where, how, with the evidence."""

    __tablename__ = "consent_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    source: Mapped[str] = mapped_column(sa.String(32))
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
