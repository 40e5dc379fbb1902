"""Writes waiting to go out: HubSpot timeline entries and consent pushes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from automations.models.base import Base, utcnow

__all__ = ["TimelineEntry", "OutboundWrite"]


class TimelineEntry(Base):
    """Outbox of writes to the CRM timeline: one row per thing to show, written exactly once."""

    __tablename__ = "timeline_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(32))  # sms_out|sms_in|keyword|consent|handoff
    key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    message_id: Mapped[int | None] = mapped_column(sa.ForeignKey("messages.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(sa.Text)
    occurred_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")  # pending|written|failed
    hubspot_id: Mapped[str | None] = mapped_column(sa.String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutboundWrite(Base):
    """Outbox of state pushed back to an outside system (consent to Shopify and HubSpot, …).

    One row per change and target, retried until it lands; errors are kept, never lost.
    """

    __tablename__ = "outbound_writes"
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    target: Mapped[str] = mapped_column(sa.String(32))  # shopify | hubspot
    action: Mapped[str] = mapped_column(sa.String(32))  # consent | contact
    key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")  # pending|done|failed
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
