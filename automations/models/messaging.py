"""Conversations, messages, tracked links and their clicks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from automations.models.base import Base, utcnow
from automations.models.flows import FlowRun

__all__ = ["Conversation", "Message", "Link", "LinkClick"]


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    flow_key: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), default="open")  # open|waiting|assigned|closed
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    assigned_to: Mapped[str | None] = mapped_column(sa.String(255))
    unread_count: Mapped[int] = mapped_column(default=0)
    handoff_at: Mapped[datetime | None]
    first_human_reply_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None]


class Message(Base):
    """One SMS in or out, or an internal note; every one ends in a status that says why."""

    __tablename__ = "messages"
    __table_args__ = (
        sa.UniqueConstraint("provider", "provider_message_id"),
        sa.Index("ix_messages_due", "status", "send_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    rule_id: Mapped[int | None] = mapped_column(sa.ForeignKey("rules.id", ondelete="SET NULL"))
    flow_run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("flow_runs.id", ondelete="SET NULL"))
    conversation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("conversations.id", ondelete="SET NULL"), index=True)
    store_event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("store_events.id", ondelete="SET NULL"))
    direction: Mapped[str] = mapped_column(sa.String(8))  # outbound | inbound | note
    kind: Mapped[str] = mapped_column(sa.String(16), default="transactional")  # marketing|transactional|conversational|system
    to_phone: Mapped[str | None] = mapped_column(sa.String(32))
    from_phone: Mapped[str | None] = mapped_column(sa.String(64))  # or a sender id
    body: Mapped[str | None] = mapped_column(sa.Text)
    encoding: Mapped[str | None] = mapped_column(sa.String(8))
    segments: Mapped[int | None]
    cost: Mapped[str | None] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(32))
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    provider: Mapped[str | None] = mapped_column(sa.String(32))
    provider_message_id: Mapped[str | None] = mapped_column(sa.String(64))
    error_code: Mapped[str | None] = mapped_column(sa.String(16))
    idempotency_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    send_at: Mapped[datetime | None]
    attempted_at: Mapped[datetime | None]  # last handed to the provider (or claimed to be)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(64))  # the dispatch worker sending it
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    media_urls: Mapped[list[Any]] = mapped_column(default=list)
    author: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # Set instead of flow_run_id when the run is not written yet (a chunk of events).
    flow_run: Mapped[FlowRun | None] = relationship()


class Link(Base):
    __tablename__ = "links"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(sa.ForeignKey("messages.id", ondelete="SET NULL"))
    target_url: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message | None] = relationship()  # set when the message is not written yet


class LinkClick(Base):
    __tablename__ = "link_clicks"
    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(sa.ForeignKey("links.id", ondelete="CASCADE"), index=True)
    clicked_at: Mapped[datetime] = mapped_column(default=utcnow)
    user_agent: Mapped[str | None] = mapped_column(sa.Text)
