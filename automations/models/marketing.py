"""Segments (saved, versioned audiences), campaigns with their variants and recipients, and the
attribution of orders to the SMS that earned them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from automations.models.base import Base, utcnow

__all__ = ["Segment", "SegmentVersion", "Campaign", "CampaignVariant", "CampaignRecipient", "Attribution"]


class Segment(Base):
    """A condition tree over a shop's contacts; every change of definition is a new version."""

    __tablename__ = "segments"
    __table_args__ = (sa.UniqueConstraint("shop_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str | None] = mapped_column(sa.Text)
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(default=1)
    builtin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SegmentVersion(Base):
    __tablename__ = "segment_versions"
    __table_args__ = (sa.UniqueConstraint("segment_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(sa.ForeignKey("segments.id", ondelete="CASCADE"))
    version: Mapped[int]
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Campaign(Base):
    """One marketing send to an audience: draft -> scheduled -> sending -> sent (or paused,
    cancelled). `audience` is {"include": [segment ids], "exclude": [segment ids]}."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    status: Mapped[str] = mapped_column(sa.String(16), default="draft")
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    schedule: Mapped[dict[str, Any]] = mapped_column(default=dict)  # mode: now | at | local
    throttle_hours: Mapped[int | None]
    ab: Mapped[dict[str, Any]] = mapped_column(default=dict)  # mode fixed | winner, test_share, metric, after_hours
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the A/B winner and its test
    media_url: Mapped[str | None] = mapped_column(sa.Text)
    discount_code: Mapped[str | None] = mapped_column(sa.String(64))
    send_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CampaignVariant(Base):
    __tablename__ = "campaign_variants"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(sa.String(8))
    templates: Mapped[dict[str, Any]] = mapped_column(default=dict)  # locale -> template
    share: Mapped[int] = mapped_column(default=100)  # percent of the audience (of the test group for a winner test)


class CampaignRecipient(Base):
    """One contact of a campaign's audience, resolved when it starts: unique, so nobody gets a
    campaign twice. status: pending (to compose), held (waits for the A/B winner), queued
    (its message exists), skipped (and why)."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "contact_id"),
        sa.Index("ix_campaign_recipients_todo", "campaign_id", "status", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("campaign_variants.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(sa.ForeignKey("messages.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(sa.String(255))
    attempt: Mapped[int] = mapped_column(default=0)
    planned_at: Mapped[datetime | None]


class Attribution(Base):
    """An order credited to one SMS (click, receipt or an SMS-only discount code), once."""

    __tablename__ = "attributions"
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    message_id: Mapped[int | None] = mapped_column(sa.ForeignKey("messages.id", ondelete="SET NULL"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="SET NULL"), index=True)
    variant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("campaign_variants.id", ondelete="SET NULL"))
    rule_id: Mapped[int | None] = mapped_column(sa.ForeignKey("rules.id", ondelete="SET NULL"))
    step: Mapped[int | None]
    method: Mapped[str] = mapped_column(sa.String(16))  # click | receipt | discount_code
    amount: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2))
    reversed_amount: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2), default=Decimal("0"))
    currency: Mapped[str | None] = mapped_column(sa.String(8))
    ordered_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
