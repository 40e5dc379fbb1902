"""SMS consent: an append-only ledger of statements and the contact's current state.

Every statement (who, when, where, how, with the evidence) is kept in `ConsentEvent`. The
contact's current consent follows the newest statement only: a stale one is kept in the ledger
but changes nothing. An identical repeat from the same source (such as our own change echoed
back by Shopify) is not recorded twice. STOP (`opt_out`) means nothing at all is sent again,
transactional included, until the contact opts in again. Each change is queued for Shopify and
HubSpot (`OutboundWrite`) and for the contact's CRM timeline (`TimelineEntry`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import chunk, dispatch, webhooks
from automations.events import CONSENT_STATES, SUBSCRIBED, UNSUBSCRIBED, ConsentData
from automations.models import ConsentEvent, Contact, FlowRun, OutboundWrite, TimelineEntry

OPTED_OUT = "opted out"
CONSENT_WITHDRAWN = "marketing consent withdrawn"


def record(
    session: Session, contact: Contact, consent: ConsentData, now: datetime
) -> ConsentEvent | None:
    """Add a statement to the ledger and apply it when it is the newest; None for a repeat."""
    if consent.status not in CONSENT_STATES:
        raise ValueError(f"unknown consent status {consent.status!r}")
    occurred_at = consent.occurred_at or now
    if _is_repeat(session, contact, consent.status, consent.source):
        return None
    entry = ConsentEvent(
        shop_id=contact.shop_id,
        contact_id=contact.id,
        status=consent.status,
        source=consent.source,
        evidence=dict(consent.evidence or {}),
        occurred_at=occurred_at,
        recorded_at=now,
    )
    loaded = chunk.active(session)
    if loaded is None:
        session.add(entry)
        session.flush()
    else:  # its id is needed now (the pushes' keys); it is written with the rest of the chunk
        entry = loaded.give_id(session, entry)
        loaded.add_consent(entry)
    if contact.consent_updated_at is not None and occurred_at < contact.consent_updated_at:
        return entry  # stale: kept as evidence, the current state stays
    changed = contact.consent_status != consent.status
    contact.consent_status = consent.status
    contact.consent_source = consent.source
    contact.consent_updated_at = occurred_at
    if consent.status == SUBSCRIBED and contact.opted_out_at and occurred_at > contact.opted_out_at:
        contact.opted_out_at = None  # a newer explicit opt-in lifts an earlier STOP
        changed = True
    if consent.status != SUBSCRIBED:
        dispatch.cancel_scheduled(
            session, contact_id=contact.id, reason=CONSENT_WITHDRAWN, now=now, marketing_only=True
        )
    if changed:
        _queue_writes(session, contact, entry)
    if loaded is None:
        session.flush()
    return entry


def opt_out(
    session: Session, contact: Contact, source: str, evidence: dict[str, Any], now: datetime
) -> ConsentEvent | None:
    """STOP: no SMS at all from now on; queued messages are cancelled and flows end."""
    already = contact.opted_out_at is not None
    dispatch.cancel_scheduled(session, contact_id=contact.id, reason=OPTED_OUT, now=now)
    runs = session.scalars(
        sa.select(FlowRun).where(FlowRun.contact_id == contact.id, FlowRun.status == "active")
    ).all()
    dispatch.end_flow_runs(session, runs, reason=OPTED_OUT, now=now)
    contact.opted_out_at = contact.opted_out_at or now
    entry = record(session, contact, ConsentData(UNSUBSCRIBED, source, now, evidence), now)
    contact.consent_status = UNSUBSCRIBED
    contact.consent_source = source
    contact.consent_updated_at = max(contact.consent_updated_at or now, now)
    if entry is not None and not already and not _has_writes(session, entry):
        _queue_writes(session, contact, entry)  # the status was already unsubscribed: STOP is news
    session.flush()
    return entry


def opt_in(
    session: Session, contact: Contact, source: str, evidence: dict[str, Any], now: datetime
) -> ConsentEvent | None:
    """An explicit opt-in (START, a signed form…): clears a STOP and subscribes the contact."""
    was_opted_out = contact.opted_out_at is not None
    entry = record(session, contact, ConsentData(SUBSCRIBED, source, now, evidence), now)
    contact.opted_out_at = None
    contact.consent_status = SUBSCRIBED
    contact.consent_source = source
    contact.consent_updated_at = max(contact.consent_updated_at or now, now)
    if entry is not None and was_opted_out and not _has_writes(session, entry):
        _queue_writes(session, contact, entry)
    session.flush()
    return entry


def _is_repeat(session: Session, contact: Contact, status: str, source: str) -> bool:
    """The same source saying again what it said last, or echoing our own last write to it."""
    if contact.id is None:
        return False
    loaded = chunk.active(session)
    known, last = loaded.newest_consent(contact.id, source) if loaded else (False, None)
    if loaded is not None and not known:
        session.flush()  # a contact the chunk did not load: what it holds must be read back
    if not known:
        last = session.scalars(
            sa.select(ConsentEvent)
            .where(ConsentEvent.contact_id == contact.id, ConsentEvent.source == source)
            .order_by(ConsentEvent.occurred_at.desc(), ConsentEvent.id.desc())
            .limit(1)
        ).first()
    if last is not None and last.status == status:
        return True
    if contact.consent_status != status:
        return False
    echo = next((w for w in reversed(list(session.new)) if isinstance(w, OutboundWrite)
                 and w.contact_id == contact.id and w.target == source and w.action == "consent"), None)
    if echo is None and loaded is not None:
        known, echo = loaded.newest_write(contact.id, source)
    if echo is None and not known:  # none queued in this session: the last one written
        echo = session.scalars(
            sa.select(OutboundWrite)
            .where(OutboundWrite.contact_id == contact.id, OutboundWrite.target == source,
                   OutboundWrite.action == "consent")
            .order_by(OutboundWrite.id.desc())
            .limit(1)
        ).first()
    return echo is not None and echo.payload.get("status") == status


def _has_writes(session: Session, entry: ConsentEvent) -> bool:
    return session.scalar(
        sa.select(sa.func.count()).select_from(OutboundWrite).where(
            OutboundWrite.key.like(f"consent:{entry.id}:%")
        )
    ) > 0


def _queue_writes(session: Session, contact: Contact, entry: ConsentEvent) -> None:
    """Tell Shopify (when the contact is a Shopify customer) and HubSpot; log it on the timeline.

    The source the statement came from is not told back what it just told us.
    """
    payload = {
        "status": contact.consent_status,
        "opted_out": contact.opted_out_at is not None,
        "source": entry.source,
        "occurred_at": entry.occurred_at.isoformat(),
        "phone": contact.phone_e164,
        "email": contact.email,
        "shopify_customer_id": contact.shopify_customer_id,
        "hubspot_contact_id": contact.hubspot_contact_id,
        "consent_event_id": entry.id,
    }
    targets = (["shopify"] if contact.shopify_customer_id else []) + ["hubspot"]
    for target in targets:
        if target == entry.source:
            continue
        session.add(OutboundWrite(
            shop_id=contact.shop_id, contact_id=contact.id, target=target, action="consent",
            key=f"consent:{entry.id}:{target}", payload=payload,
        ))
    webhooks.consent_changed(session, contact, entry)
    stop = " (STOP)" if contact.opted_out_at is not None else ""
    session.add(TimelineEntry(
        shop_id=contact.shop_id, contact_id=contact.id, kind="consent", key=f"consent:{entry.id}",
        body=f"SMS consent: {contact.consent_status}{stop} — source {entry.source}",
        occurred_at=entry.occurred_at,
    ))

