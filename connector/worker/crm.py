"""The crm queue's work: timeline entries and consent pushes go out to HubSpot and Shopify.

Each outbox row is written by its own short transaction, retried with backoff until it lands;
a refusal that retrying cannot fix (4xx other than 429) is kept as `failed` with the reason.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from automations.models import OutboundWrite, TimelineEntry, utcnow
from connector.runtime import Runtime
from connector.worker.consent_push import carry_out
from connector.worker.timeline import write_timeline_entry
from integrations.errors import ApiError

log = logging.getLogger("parlons.crm")
MAX_ATTEMPTS = 12


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


def _due(rows, now: datetime):  # noqa: ANN001
    """Rows never tried, or pending again after a success (an update); failed tries wait a backoff."""
    return [r for r in rows if r.last_error is None or r.updated_at + backoff(r.attempts) <= now]


def write_pending(runtime: Runtime, limit: int = 200) -> int:
    """Write what is due; returns how many rows were settled (written, failed or skipped)."""
    now = utcnow()
    with runtime.db.session() as session:
        entries = _due(session.scalars(
            sa.select(TimelineEntry).where(TimelineEntry.status == "pending")
            .order_by(TimelineEntry.id).limit(limit)
        ).all(), now)
        writes = _due(session.scalars(
            sa.select(OutboundWrite).where(OutboundWrite.status == "pending")
            .order_by(OutboundWrite.id).limit(limit)
        ).all(), now)
    settled = 0
    for entry in entries:
        settled += _settle(runtime, TimelineEntry, entry.id, write_timeline_entry)
    for write in writes:
        settled += _settle(runtime, OutboundWrite, write.id, carry_out)
    return settled


def _settle(runtime: Runtime, model, row_id: int, work) -> int:  # noqa: ANN001
    with runtime.db.transaction() as session:
        row = session.execute(
            sa.select(model).where(model.id == row_id, model.status == "pending").with_for_update()
        ).scalar_one_or_none()
        if row is None:
            return 0
        try:
            outcome = work(runtime, session, row)
        except ApiError as error:
            row.attempts += 1
            row.last_error = f"{error.status or 'no answer'}: {error}"[:2000]
            if not error.retryable or row.attempts >= MAX_ATTEMPTS:
                row.status = "failed"
                log.warning("%s %s failed for good: %s", model.__tablename__, row_id, row.last_error)
                return 1
            row.updated_at = utcnow()
            return 0
        row.status = outcome
        row.attempts += 1
        if outcome in ("written", "done"):
            row.last_error = None  # a skipped or failed row keeps the reason its work gave
        return 1


