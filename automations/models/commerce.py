"""Stored deliveries (store events), checkouts and orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from automations.models.base import Base, utcnow


class StoreEvent(Base):
    """An incoming delivery from an outside system, stored before anything acts on it."""

    __tablename__ = "store_events"
    __table_args__ = (
        sa.UniqueConstraint("source", "delivery_id"),
        # one event may come under several delivery ids (Shopify's X-Shopify-Event-Id)
        sa.Index("uq_store_events_source_event_id", "source", "event_id", unique=True,
                 postgresql_where=sa.text("event_id IS NOT NULL"), sqlite_where=sa.text("event_id IS NOT NULL")),
        # what the events drain reads: only the events not processed yet are in it
        sa.Index("ix_store_events_pending", "id", postgresql_where=sa.text("status = 'received'"),
                 sqlite_where=sa.text("status = 'received'")),
        # a shop's events over a time (simulation), and a shop's removal
        sa.Index("ix_store_events_shop_received", "shop_id", "received_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int | None] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(sa.String(32))
    delivery_id: Mapped[str] = mapped_column(sa.String(128))
    event_id: Mapped[str | None] = mapped_column(sa.String(128))  # the sender's event, when it names it
    topic: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="received")
    outcome: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]


class Checkout(Base):
    __tablename__ = "checkouts"
    __table_args__ = (sa.UniqueConstraint("shop_id", "token"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(sa.String(128))
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id", ondelete="SET NULL"))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    abandoned_checkout_url: Mapped[str | None] = mapped_column(sa.Text)
    completed_at: Mapped[datetime | None]
    order_gid: Mapped[str | None] = mapped_column(sa.String(64))
    abandoned_at: Mapped[datetime | None]
    abandon_check_at: Mapped[datetime | None] = mapped_column(index=True)  # abandoned if no order by then
    source_updated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (sa.UniqueConstraint("shop_id", "gid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    gid: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str | None] = mapped_column(sa.String(64))
    checkout_token: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(sa.String(32), default="placed")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source_updated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
