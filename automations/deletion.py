"""A contact deleted at its source (a Shopify customer, a HubSpot contact): no SMS to it from now
on, its flows ended and its waiting messages cancelled with the reason. What was already sent
keeps its status and nothing is erased (erasure is a privacy request: automations.privacy)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import dispatch
from automations.models import Contact, FlowRun

SOURCE_LINKS = {"shopify": "shopify_customer_id", "hubspot": "hubspot_contact_id"}


def delete_contact(session: Session, contact: Contact, *, source: str, now: datetime) -> list[int]:
    """Stop messaging `contact` and unlink it from `source`; returns the cancelled message ids."""
    reason = f"contact deleted in {source.capitalize() if source != 'hubspot' else 'HubSpot'}"
    runs = session.scalars(
        sa.select(FlowRun).where(FlowRun.contact_id == contact.id, FlowRun.status == "active")
    ).all()
    dispatch.end_flow_runs(session, runs, reason=reason, now=now)
    cancelled = dispatch.cancel_scheduled(session, reason=reason, now=now, contact_id=contact.id)
    if source in SOURCE_LINKS:
        setattr(contact, SOURCE_LINKS[source], None)
    contact.deleted_at = now
    session.flush()
    return list(cancelled)
