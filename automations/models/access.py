"""Access to the REST API: per-shop API keys, and the requests made with an Idempotency-Key."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from automations.models.base import Base, utcnow

__all__ = ["ApiKey", "IdempotentRequest"]


class ApiKey(Base):
    """A shop's API key. Only a hash of the key is kept; `prefix` finds it and names it on screen."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    prefix: Mapped[str] = mapped_column(sa.String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64))
    scope: Mapped[str] = mapped_column(sa.String(16))  # read | read_write
    created_by: Mapped[str] = mapped_column(sa.String(64))  # operator | key:<id> | admin
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class IdempotentRequest(Base):
    """A POST made with an Idempotency-Key: what was asked (fingerprint) and what was answered.

    One row per shop and key (the unique constraint is what makes two concurrent requests with
    the same key safe); the answer is encrypted like every stored secret, since it may hold one."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (sa.UniqueConstraint("shop_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(255))
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int | None]  # None while the first request is being answered
    response_enc: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
