"""Consent proof for an audit: every consent statement of a contact or of the whole base, with
what was captured — channel, keyword or page, the legal text shown and its version, IP and user
agent for web sign-ups, the messages exchanged, the Shopify or HubSpot user — as rows for CSV or
JSON. Rows are read in batches (a large base is never loaded at once)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations.models import ConsentEvent, Contact, Shop

FIELDS = (
    "contact_id", "phone", "email", "first_name", "last_name", "current_status", "consent_event_id",
    "status", "source", "occurred_at", "recorded_at", "channel", "keyword", "page_url", "legal_text",
    "legal_version", "ip", "user_agent", "confirmation", "captured_by", "messages", "evidence",
)


def rows(session: Session, shop: Shop, contact_id: int | None = None, batch: int = 500) -> Iterator[dict[str, Any]]:
    """One row per statement, by contact then time, oldest first."""
    query = (
        sa.select(ConsentEvent, Contact).join(Contact, Contact.id == ConsentEvent.contact_id)
        .where(ConsentEvent.shop_id == shop.id)
        .order_by(ConsentEvent.contact_id, ConsentEvent.occurred_at, ConsentEvent.id)
        .execution_options(yield_per=batch)
    )
    if contact_id is not None:
        query = query.where(ConsentEvent.contact_id == contact_id)
    for entry, contact in session.execute(query):
        yield row(contact, entry)


def row(contact: Contact, entry: ConsentEvent) -> dict[str, Any]:
    evidence = dict(entry.evidence or {})
    channel = evidence.get("channel") or {"sms": "sms reply", "api": "api", "admin": "admin"}.get(
        entry.source, entry.source)
    return {
        "contact_id": contact.id, "phone": contact.phone_e164, "email": contact.email,
        "first_name": contact.first_name, "last_name": contact.last_name,
        "current_status": "opted_out" if contact.opted_out_at else contact.consent_status,
        "consent_event_id": entry.id, "status": entry.status, "source": entry.source,
        "occurred_at": entry.occurred_at.isoformat(), "recorded_at": entry.recorded_at.isoformat(),
        "channel": channel, "keyword": evidence.get("keyword"), "page_url": evidence.get("page_url"),
        "legal_text": evidence.get("legal_text"), "legal_version": evidence.get("legal_version"),
        "ip": evidence.get("ip"), "user_agent": evidence.get("user_agent"),
        "confirmation": evidence.get("confirmation"), "captured_by": captured_by(entry.source, evidence),
        "messages": evidence.get("messages") or _message_of(evidence),
        "evidence": evidence,
    }


def captured_by(source: str, evidence: dict[str, Any]) -> str | None:
    """Who or what collected the statement, in words."""
    if source == "hubspot":
        who = " ".join(str(v) for v in (evidence.get("changeSource"), evidence.get("sourceId")) if v)
        return f"HubSpot {who}".strip()
    if source == "shopify":
        return f"Shopify {evidence.get('consent_collected_from') or ''}".strip()
    if source in ("api", "admin"):
        return evidence.get("requested_by")
    if source == "sms" or source.startswith("signup_") or source == "sms_keyword":
        return "the number itself"
    return None


def to_csv(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    """CSV text, header first, line by line; messages and evidence as JSON in their cells."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    yield _take(out)
    for record in records:
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v
                         for k, v in record.items()})
        yield _take(out)


def to_json(shop: Shop, records: Iterable[dict[str, Any]], generated_at: str) -> Iterator[str]:
    """`{"shop", "generated_at", "fields", "records": [...]}`, written record by record."""
    head = {"shop": shop.domain, "generated_at": generated_at, "fields": list(FIELDS)}
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "records": ['
    for n, record in enumerate(records):
        yield ("," if n else "") + "\n" + json.dumps(record, ensure_ascii=False)
    yield "\n]}\n"


def _take(out: io.StringIO) -> str:
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    return text


def _message_of(evidence: dict[str, Any]) -> list[dict[str, Any]]:
    """An SMS keyword statement (STOP, START) keeps its one inbound message."""
    if evidence.get("body") is None:
        return []
    return [{"direction": "in", "body": evidence.get("body"), "message_id": evidence.get("message_id")}]
