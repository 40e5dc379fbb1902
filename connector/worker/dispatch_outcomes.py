"""Recording a batch's outcomes in one transaction: what each provider answered (or did not),
what reconciliation found, and the failures that count towards failover."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import sending
from automations.models import Message
from connector.providers import Route
from connector.worker.send_limits import SendLimits
from integrations.sms import (
    Accepted,
    Found,
    LookupUnavailable,
    OutboundSms,
    Refusal,
    Refused,
    Unknown,
)

log = logging.getLogger("parlons.sending")
RETRY_LATER = timedelta(seconds=30)


@dataclass(eq=False)
class Job:
    message_id: int
    route: Route
    sms: OutboundSms
    reconcile_after: datetime | None = None  # a lookup of an unknown outcome, from this moment
    outcome: object = None  # SendOutcome, Found | None (lookups), an exception, or "rate"
    looked_up: bool = False


def record(session: Session, jobs: list[Job], limits: SendLimits, worker: str, now: datetime) -> None:
    messages = {m.id: m for m in session.scalars(
        sa.select(Message).where(Message.id.in_([j.message_id for j in jobs])))}
    sending.load_timeline(session, list(messages.values()))
    failures: Counter[str] = Counter()
    for job in jobs:
        message = messages.get(job.message_id)
        if message is None or message.status not in sending.IN_FLIGHT or message.claimed_by != worker:
            log.warning("message %s changed hands while being sent; left as it is", job.message_id)
            continue
        if job.reconcile_after is not None:
            _reconciled(session, message, job, now)
        else:
            failures[job.route.provider] += _sent(session, message, job, limits, now)
    for name, count in failures.items():
        if count:
            limits.failed(name, count)


def _sent(session: Session, message: Message, job: Job, limits: SendLimits, now: datetime) -> int:
    """Record a send; returns 1 when it counts as a failure of the provider."""
    outcome, name = job.outcome, job.route.provider
    if isinstance(outcome, Accepted):
        sending.accepted(session, message, provider=name, provider_id=outcome.provider_id,
                         segments=outcome.segments, now=now)
        return 0
    if isinstance(outcome, Unknown):
        sending.unknown(message, reason=f"{name} did not answer: {outcome.message}", now=now)
        return 1
    if isinstance(outcome, Refused) and outcome.reason is Refusal.RATE_LIMITED:
        wait = outcome.retry_after or 1.0
        limits.retry_after(name, wait)
        sending.retry_later(message, send_at=now + timedelta(seconds=wait), now=now,
                            reason=f"{name} asked to slow down (429)")
        return 0
    if isinstance(outcome, Refused) and outcome.may_retry:
        sending.retry_later(message, send_at=now + RETRY_LATER, now=now,
                            reason=f"{name} did not take it, will retry: {outcome.message}")
        return 1
    if isinstance(outcome, Refused):
        sending.refused(session, message, provider=name, reason=outcome.reason.value, code=outcome.code,
                        text=outcome.message, now=now)
        return 0
    if outcome == "rate":
        sending.retry_later(message, send_at=now + timedelta(seconds=1), now=now,
                            reason="waiting for the sender's rate limit")
        return 0
    # the provider is not configured in this installation: nothing left, the shop must fix it
    message.status, message.status_reason, message.claimed_by = "scheduled", str(outcome)[:500], None
    message.send_at = now + timedelta(minutes=5)
    return 0


def _reconciled(session: Session, message: Message, job: Job, now: datetime) -> None:
    outcome, name = job.outcome, job.route.provider
    if isinstance(outcome, Found):
        sending.accepted(session, message, provider=name, provider_id=outcome.provider_id,
                         status=outcome.status.value if outcome.status else "sent", now=now)
    elif job.looked_up and outcome is None:
        sending.retry_later(message, send_at=now, now=now,
                            reason=f"{name} never received it (asked after an unknown outcome); sending again")
    elif isinstance(outcome, LookupUnavailable):
        sending.lookup_impossible(session, message, reason=str(outcome), now=now)
    elif isinstance(outcome, Unknown):
        sending.unknown(message, reason=outcome.message, now=now)
    else:
        sending.unknown(message, reason=f"could not ask the provider: {outcome}", now=now)
