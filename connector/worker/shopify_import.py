"""One batch of Shopify customers into contacts and their consent ledger.

Customers we do not know yet (no contact with their customer id, phone or email) are inserted
together, with the same values `contacts.upsert_contact` and `consent.record` would give them;
any customer that matches an existing contact goes through those two functions one by one, so
merging and stale-update rules stay in one place.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import consent as consent_ledger
from automations.contacts import normalise_phone, upsert_contact
from automations.events import NOT_SUBSCRIBED, ContactData
from automations.models import (
    ConsentEvent,
    Contact,
    OutboundWrite,
    Shop,
    TimelineEntry,
)
from connector.worker.bulk_rows import among, stored_time, write_rows
from integrations.shopify.client import customer_to_contact

SOURCE = "shopify"


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@dataclass
class BatchOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: list[dict] | None = None
    processed: int = 0  # for the whole sync, after this batch
    total: int | None = None


def import_batch(session: Session, shop: Shop, nodes: Iterable[dict], now: datetime) -> BatchOutcome:
    """Import GraphQL Customer nodes (page nodes or bulk lines) into contacts and the ledger."""
    rows, invalid = [], []
    for node in nodes:
        if "__parentId" in node:
            continue  # a nested connection's line: not a customer
        contact, consent = customer_to_contact(node)
        phone = normalise_phone(contact.phone, contact.country, shop.default_region)
        if phone.error:
            invalid.append({"customer": contact.shopify_customer_id, "phone": contact.phone, "error": phone.error})
        rows.append((contact, consent, phone, parse_time(node.get("updatedAt"))))
    outcome = BatchOutcome(invalid=invalid)
    known, held = _known_keys(session, shop, rows)
    fresh, matched, seen = [], [], set()
    for row in rows:
        if _unchanged(row, held):
            outcome.unchanged += 1
            continue
        keys = _keys(row[0], row[2].e164)
        new = row[0].shopify_customer_id and keys.isdisjoint(known) and keys.isdisjoint(seen)
        (fresh if new else matched).append(row)
        seen |= keys
    _insert_new(session, shop, fresh, now)
    outcome.created = len(fresh)
    for contact, consent, _, updated_at in matched:
        result = upsert_contact(session, shop, contact, source=SOURCE, source_updated_at=updated_at)
        if consent is not None:
            consent_ledger.record(session, result.contact, consent, now)
        outcome.created += int(result.created)
        outcome.updated += int(not result.created)
    session.flush()
    return outcome


def _keys(contact: ContactData, e164: str | None) -> set[tuple[str, str]]:
    keys = set()
    if contact.shopify_customer_id:
        keys.add(("gid", contact.shopify_customer_id))
    if e164:
        keys.add(("phone", e164))
    if contact.email and contact.email.strip():
        keys.add(("email", contact.email.strip().lower()))
    return keys


def _known_keys(session: Session, shop: Shop, rows: list) -> tuple[set[tuple[str, str]], dict[str, tuple]]:
    """Which of the batch's customer ids, phones and emails an existing contact already has, and
    for known customer ids, what we hold (source_updated_at, consent status)."""
    gids = [c.shopify_customer_id for c, _, _, _ in rows if c.shopify_customer_id]
    phones = [p.e164 for _, _, p, _ in rows if p.e164]
    emails = [c.email.strip().lower() for c, _, _, _ in rows if c.email and c.email.strip()]
    known: set[tuple[str, str]] = set()
    held: dict[str, tuple] = {}
    dialect = session.get_bind().dialect
    if gids:
        found = session.execute(
            sa.select(Contact.shopify_customer_id, Contact.source_updated_at, Contact.consent_status)
            .where(Contact.shop_id == shop.id, among(dialect, Contact.shopify_customer_id, gids))
        )
        for gid, updated_at, status in found:
            known.add(("gid", gid))
            held[gid] = (updated_at, status)
    for kind, column, values in (("phone", Contact.phone_e164, phones), ("email", Contact.email, emails)):
        if values:
            found = session.scalars(sa.select(column).where(Contact.shop_id == shop.id,
                                                            among(dialect, column, values)))
            known |= {(kind, value) for value in found}
    return known, held


def _unchanged(row: tuple, held: dict[str, tuple]) -> bool:
    """A customer we already hold as it is now (not updated since, same consent): nothing to do."""
    contact, consent, _, updated_at = row
    ours = held.get(contact.shopify_customer_id or "")
    if ours is None or ours[0] is None or updated_at is None or updated_at > ours[0]:
        return False
    return consent is None or consent.status == ours[1]


_CONTACT_COLUMNS = (
    "shop_id", "phone_e164", "phone_raw", "phone_error", "email", "first_name", "last_name", "locale", "tags",
    "orders_count", "total_spent", "last_order_at", "shopify_customer_id", "properties", "consent_status",
    "consent_source", "consent_updated_at", "source_updated_at", "created_at", "updated_at",
)
_LEDGER_COLUMNS = ("shop_id", "contact_id", "status", "source", "evidence", "occurred_at", "recorded_at")
_WRITE_COLUMNS = ("shop_id", "contact_id", "target", "action", "key", "payload", "status", "attempts",
                  "created_at", "updated_at")
_TIMELINE_COLUMNS = ("shop_id", "contact_id", "kind", "key", "occurred_at", "body", "status", "attempts",
                     "created_at", "updated_at")
_CREATED_FROM = json.dumps({"created_from": SOURCE})


def _insert_new(session: Session, shop: Shop, rows: list, now: datetime) -> None:
    """Insert contacts nobody knows yet, with their first consent statement, in a few statements.
    Values are built once, in the form the columns store (see `write_rows`)."""
    if not rows:
        return
    connection = session.connection()
    stored = stored_time(connection.dialect)
    at = stored(now)
    contacts = ((
        shop.id, phone.e164, contact.phone[:64] if contact.phone else None, phone.error,
        contact.email.strip().lower() if contact.email else None, contact.first_name or None,
        contact.last_name or None, contact.locale or None, json.dumps(contact.tags) if contact.tags else "[]",
        contact.orders_count, contact.total_spent or None, stored(contact.last_order_at),
        contact.shopify_customer_id, _CREATED_FROM,
        consent.status if consent is not None else NOT_SUBSCRIBED,
        consent.source if consent is not None else None,
        stored(consent.occurred_at or now) if consent is not None else None,
        stored(updated_at), at, at,
    ) for contact, consent, phone, updated_at in rows)
    write_rows(connection, Contact.__table__, _CONTACT_COLUMNS, contacts)
    gids = [contact.shopify_customer_id for contact, _, _, _ in rows]
    id_of = dict(connection.execute(
        sa.select(Contact.shopify_customer_id, Contact.id)
        .where(Contact.shop_id == shop.id, among(connection.dialect, Contact.shopify_customer_id, gids))
    ).all())
    stated = [(id_of[contact.shopify_customer_id], contact, consent, phone.e164, consent.occurred_at or now)
              for contact, consent, phone, _ in rows if consent is not None]
    if not stated:
        return
    write_rows(connection, ConsentEvent.__table__, _LEDGER_COLUMNS, (
        (shop.id, contact_id, consent.status, consent.source, json.dumps(consent.evidence or {}),
         stored(occurred_at), at) for contact_id, _, consent, _, occurred_at in stated))
    entry_of = dict(connection.execute(
        sa.select(ConsentEvent.contact_id, ConsentEvent.id)
        .where(among(connection.dialect, ConsentEvent.contact_id, [entry[0] for entry in stated]))
    ).all())
    # A new contact starts not subscribed: that statement changes nothing, nothing to tell.
    told = [(entry_of[entry[0]], *entry) for entry in stated if entry[2].status != NOT_SUBSCRIBED]
    write_rows(connection, OutboundWrite.__table__, _WRITE_COLUMNS, (
        (shop.id, contact_id, "hubspot", "consent", f"consent:{entry_id}:hubspot", json.dumps({
            "status": consent.status, "opted_out": False, "source": consent.source,
            "occurred_at": occurred_at.isoformat(), "phone": e164,
            "email": contact.email.strip().lower() if contact.email else None,
            "shopify_customer_id": contact.shopify_customer_id, "hubspot_contact_id": None,
            "consent_event_id": entry_id,
        }), "pending", 0, at, at) for entry_id, contact_id, contact, consent, e164, occurred_at in told))
    write_rows(connection, TimelineEntry.__table__, _TIMELINE_COLUMNS, (
        (shop.id, contact_id, "consent", f"consent:{entry_id}", stored(occurred_at),
         f"SMS consent: {consent.status} — source {consent.source}", "pending", 0, at, at)
        for entry_id, contact_id, _, consent, _, occurred_at in told))

