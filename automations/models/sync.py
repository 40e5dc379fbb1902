"""Progress of customer syncs, and privacy exports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from automations.models.base import Base, utcnow

__all__ = ["SyncState", "DataExport"]


class SyncState(Base):
    __tablename__ = "sync_states"
    __table_args__ = (sa.UniqueConstraint("shop_id", "source"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16), default="idle")  # idle|running|failed|done
    cursor: Mapped[str | None] = mapped_column(sa.Text)
    since: Mapped[datetime | None]
    processed: Mapped[int] = mapped_column(default=0)
    total: Mapped[int | None]
    invalid: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str | None] = mapped_column(sa.Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class DataExport(Base):
    """A GDPR data-request export the merchant can download."""

    __tablename__ = "data_exports"
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id", ondelete="SET NULL"))
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
