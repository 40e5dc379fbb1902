"""Dispatch: due messages are claimed in batches, re-checked at send time, handed to each shop's
provider with many requests in flight under the senders' rate limits, and every outcome of a
batch is recorded in one transaction (never sent twice, never dropped).

One batch is three steps:
1. claim (one transaction): due messages -> `sending` (checks at send time, route chosen,
   claimed by this worker), and unknown outcomes past their grace -> `reconciling`;
2. talk to the providers: sends and lookups run on a thread pool, as fast as the senders'
   and accounts' rate limits allow (`send_limits`);
3. record (one transaction): sent, failed (and what it says of the contact), scheduled again
   when the provider did not take it, or `unknown` when it may have.

A worker keeps a heartbeat in Redis while it lives. The messages a dead worker held (`sending`
or `reconciling`) become `unknown` (`recover_stuck`) and are reconciled like any unknown outcome.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa

from automations import dispatch, sending
from automations.models import Message, utcnow
from connector.providers import (
    ProviderNotConfigured,
    Route,
    provider,
    routes_for,
    status_callback_url,
)
from connector.runtime import Runtime
from connector.worker.dispatch_lease import lease
from connector.worker.dispatch_outcomes import Job, record
from connector.worker.send_limits import SendLimits
from integrations.sms import (
    LookupUnavailable,
    OutboundSms,
    Sender,
    SenderKind,
    SmsProvider,
    Unknown,
)

log = logging.getLogger("parlons.sending")
BATCH_SECONDS = 5.0  # what a sender's rate does not let go within this is scheduled again
STUCK_AFTER = timedelta(minutes=10)  # messages in flight with no worker named (older versions)
RECOVER_EVERY = 5.0

_pools: dict[int, ThreadPoolExecutor] = {}
_last_recovery = [0.0]


_pool_lock = threading.Lock()


def _pool(size: int) -> ThreadPoolExecutor:
    with _pool_lock:
        if size not in _pools:
            _pools[size] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="sms-send")
        return _pools[size]


def dispatch_due(runtime: Runtime, limit: int | None = None) -> int:
    """Send what is due now and reconcile unknown outcomes whose grace has passed; returns how
    many messages this batch took."""
    if time.monotonic() - _last_recovery[0] > RECOVER_EVERY:
        _last_recovery[0] = time.monotonic()
        recover_stuck(runtime)
    limits = SendLimits(runtime.redis, runtime.config)
    jobs, taken = _claim(runtime, limit or runtime.config.dispatch_batch_size, limits)
    if jobs:
        _talk(runtime, jobs, limits)
        with runtime.db.transaction() as session:
            record(session, jobs, limits, lease(runtime).worker_id, utcnow())
    return taken


def _claim(runtime: Runtime, limit: int, limits: SendLimits) -> tuple[list[Job], int]:
    now, worker = utcnow(), lease(runtime).worker_id
    grace = timedelta(seconds=runtime.config.unknown_grace_seconds)
    jobs: list[Job] = []
    with runtime.db.transaction() as session:
        messages = dispatch.claim_due(session, now, limit)
        unknown = sending.claim_unknown(session, now - grace, limit, worker, now)
        if not messages and not unknown:
            return [], 0
        sending.load_batch(session, messages)
        routes = routes_for(session, runtime.config, {m.shop_id for m in messages})
        down: dict[str, float] = {}
        for message in messages:
            try:
                if not dispatch.check_before_send(session, message, now, runtime.redis).send:
                    continue
            except ValueError as error:  # a number that cannot be parsed: this message only
                message.status, message.status_reason = "suppressed", str(error)[:500]
                continue
            shop = routes.get(message.shop_id)
            if shop is None or shop.primary is None:
                message.status, message.status_reason = "suppressed", (shop.problem if shop else "shop not found")
                continue
            route = shop.primary
            for name in {route.provider} | ({shop.failover.provider} if shop.failover else set()):
                down.setdefault(name, limits.down(name))
            if down[route.provider] and shop.failover and not down[shop.failover.provider]:
                route = shop.failover
            elif down[route.provider]:
                sending.retry_later(message, send_at=now + timedelta(seconds=down[route.provider]), now=now,
                                    reason=f"{route.provider} is failing; waiting for it to recover")
                continue
            message.provider, message.from_phone = route.provider, route.sender.value
            message.attempted_at, message.claimed_by = now, worker
            jobs.append(Job(message.id, route, _outbound(runtime, message, route.sender)))
        for message in unknown:
            message.provider = message.provider or "twilio"  # the only provider before there were several
            sender = Sender(sending_kind(message.provider, message.from_phone or ""), message.from_phone or "")
            after = (message.attempted_at or message.created_at) - timedelta(seconds=1)
            jobs.append(Job(message.id, Route(message.provider, sender, 1.0),
                            _outbound(runtime, message, sender), reconcile_after=after))
    return jobs, len(messages) + len(unknown)


def sending_kind(provider_name: str, value: str) -> SenderKind:
    """The kind of a sender recorded on a message (from_phone)."""
    if provider_name == "twilio" and value.startswith("MG"):
        return SenderKind.MESSAGING_SERVICE
    if value.startswith("+"):
        return SenderKind.NUMBER
    return SenderKind.SHORT_CODE if value.isdigit() and len(value) <= 8 else SenderKind.ALPHANUMERIC


def _outbound(runtime: Runtime, message: Message, sender: Sender) -> OutboundSms:
    return OutboundSms(to=message.to_phone or "", body=message.body or "", sender=sender,
                       reference=message.idempotency_key,
                       status_callback=status_callback_url(runtime.config, message.provider or "twilio"),
                       media_urls=tuple(message.media_urls or ()))


def _talk(runtime: Runtime, jobs: list[Job], limits: SendLimits) -> None:
    """Hand every job to its provider, as many at once as the pool holds and the rates allow."""
    pool = _pool(runtime.config.dispatch_concurrency)
    futures: list[Future] = []
    queues: dict[Route, deque[Job]] = {}
    for job in jobs:
        try:
            target = provider(runtime.config, job.route.provider)
        except (ProviderNotConfigured, KeyError) as error:
            job.outcome = error
            continue
        if job.reconcile_after is not None:
            futures.append(pool.submit(_lookup, target, job))
        else:
            queues.setdefault(job.route, deque()).append(job)
    deadline = time.monotonic() + BATCH_SECONDS
    while queues:
        waits = []
        for route, queue in list(queues.items()):
            taken, wait = limits.take(route, len(queue))
            target = provider(runtime.config, route.provider)
            for _ in range(taken):
                futures.append(pool.submit(_send, target, queue.popleft()))
            if not queue:
                del queues[route]
            else:
                waits.append(0.0 if taken else wait)
        pause = min(waits, default=0.0)
        if queues and time.monotonic() + pause > deadline:
            for queue in queues.values():  # left for a later batch: the rate would hold this one
                for job in queue:
                    job.outcome = "rate"
            break
        if pause:
            time.sleep(min(pause, 0.25))
    for future in futures:
        future.result()


def _send(target: SmsProvider, job: Job) -> None:
    try:
        job.outcome = target.send(job.sms)
    except Exception as error:  # noqa: BLE001 - whatever it was, the request may have left
        log.exception("message %s: unexpected error while sending", job.message_id)
        job.outcome = Unknown(f"unexpected error while sending: {type(error).__name__}")


def _lookup(target: SmsProvider, job: Job) -> None:
    assert job.reconcile_after is not None
    try:
        job.outcome = target.find(job.sms, job.reconcile_after)
        job.looked_up = True
    except LookupUnavailable as error:
        job.outcome = error
    except Exception as error:  # noqa: BLE001 - the provider could not be asked now: later
        job.outcome = Unknown(f"could not ask {job.route.provider} yet: {type(error).__name__}")


def recover_stuck(runtime: Runtime) -> int:
    """Messages held by a worker that died (its heartbeat expired) become `unknown`: they are
    reconciled with the provider, never resent blindly."""
    now = utcnow()
    with runtime.db.transaction() as session:
        holders = set(session.scalars(
            sa.select(Message.claimed_by).where(Message.status.in_(sending.IN_FLIGHT)).distinct()))
        dead = [w for w in holders if w is not None and not lease(runtime).alive(w)]
        where = [Message.claimed_by.in_(dead)] if dead else []
        if None in holders:
            where.append(sa.and_(Message.claimed_by.is_(None), Message.updated_at < now - STUCK_AFTER))
        if not where:
            return 0
        return session.execute(
            sa.update(Message).where(Message.status.in_(sending.IN_FLIGHT), sa.or_(*where))
            .values(status=sending.UNKNOWN, claimed_by=None, updated_at=now,
                    status_reason="the worker sending it stopped; the provider will be asked before anything else")
            .execution_options(synchronize_session=False)
        ).rowcount

