"""How a shop sends SMS: its provider and sender, an optional failover, its own rate."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from automations.models.base import Base, utcnow

__all__ = ["ShopSmsSettings"]


class ShopSmsSettings(Base):
    """One row per shop that chose; a shop without one sends through the installation's default
    provider (Twilio) from its `sms_number`."""

    __tablename__ = "shop_sms_settings"
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    provider: Mapped[str] = mapped_column(sa.String(32), default="twilio")
    # number | short_code | alphanumeric | messaging_service (integrations.sms.SenderKind)
    sender_kind: Mapped[str] = mapped_column(sa.String(24), default="number")
    sender: Mapped[str] = mapped_column(sa.String(64))
    sender_mps: Mapped[float | None]  # messages per second of this sender; empty: the default
    failover_provider: Mapped[str | None] = mapped_column(sa.String(32))
    failover_sender_kind: Mapped[str | None] = mapped_column(sa.String(24))
    failover_sender: Mapped[str | None] = mapped_column(sa.String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
