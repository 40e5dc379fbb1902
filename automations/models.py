"""The data the product keeps, as SQLAlchemy 2 models.

The database is the system of record for shops, contacts and their consent ledger, store events,
rules, messages, conversations, links and the outbox of writes to the CRM. Schema changes go
through Alembic migrations (connector/migrations).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite keeps no zone: we store UTC, read it back aware)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: sa.JSON, list[Any]: sa.JSON}


class Shop(Base):
    __tablename__ = "shops"
    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(sa.String(255), unique=True)
    name: Mapped[str | None] = mapped_column(sa.String(255))
    currency: Mapped[str | None] = mapped_column(sa.String(8))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Europe/Paris")
    country: Mapped[str | None] = mapped_column(sa.String(2))
    locale: Mapped[str] = mapped_column(sa.String(16), default="fr")
    default_region: Mapped[str] = mapped_column(sa.String(2), default="FR")
    sms_number: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="active")  # active | uninstalled
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    installed_at: Mapped[datetime | None]
    uninstalled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def active(self) -> bool:
        return self.status == "active"


class Installation(Base):
    """Credentials for one outside system on one shop (tokens encrypted at rest)."""

    __tablename__ = "installations"
    __table_args__ = (sa.UniqueConstraint("shop_id", "provider"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(sa.String(32))  # shopify | hubspot | twilio
    external_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)  # e.g. HubSpot hub_id
    access_token_enc: Mapped[str | None] = mapped_column(sa.Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(sa.Text)
    expires_at: Mapped[datetime | None]
    refresh_expires_at: Mapped[datetime | None]
    scopes: Mapped[str | None] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


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


class StoreEvent(Base):
    """An incoming delivery from an outside system, stored before anything acts on it."""

    __tablename__ = "store_events"
    __table_args__ = (
        sa.UniqueConstraint("source", "delivery_id"),
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


class Rule(Base):
    """An automation rule, stored as validated data (see automations.rules)."""

    __tablename__ = "rules"
    __table_args__ = (sa.UniqueConstraint("shop_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(255))
    trigger: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(16))  # marketing | transactional
    priority: Mapped[int] = mapped_column(default=100)
    enabled: Mapped[bool] = mapped_column(default=True)
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RuleVersion(Base):
    __tablename__ = "rule_versions"
    __table_args__ = (sa.UniqueConstraint("rule_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("rules.id", ondelete="CASCADE"))
    version: Mapped[int]
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Template(Base):
    __tablename__ = "templates"
    __table_args__ = (sa.UniqueConstraint("shop_id", "key", "locale"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(64))
    locale: Mapped[str] = mapped_column(sa.String(16), default="fr")
    body: Mapped[str] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FlowRun(Base):
    """One contact going through one rule for one subject: at most one per (rule, subject)."""

    __tablename__ = "flow_runs"
    __table_args__ = (sa.UniqueConstraint("rule_id", "subject_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("rules.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    subject_key: Mapped[str] = mapped_column(sa.String(255), index=True)  # exits look runs up by it
    status: Mapped[str] = mapped_column(sa.String(16), default="active")  # active|completed|exited
    step: Mapped[int] = mapped_column(default=0)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    exit_reason: Mapped[str | None] = mapped_column(sa.String(255))
    next_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


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
    from_phone: Mapped[str | None] = mapped_column(sa.String(32))
    body: Mapped[str | None] = mapped_column(sa.Text)
    encoding: Mapped[str | None] = mapped_column(sa.String(8))
    segments: Mapped[int | None]
    cost: Mapped[str | None] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16))
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    provider: Mapped[str | None] = mapped_column(sa.String(32))
    provider_message_id: Mapped[str | None] = mapped_column(sa.String(64))
    error_code: Mapped[str | None] = mapped_column(sa.String(16))
    idempotency_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    send_at: Mapped[datetime | None]
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
