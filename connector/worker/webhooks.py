"""Outgoing webhooks, the worker side: due deliveries are claimed in batches, POSTed signed to
their endpoints a few at a time, and every attempt is logged.

A delivery is a JSON POST: `{"id", "type", "created_at", "shop", "data"}` with the headers
`Parlons-Webhook-Id` (the event's id: the same on every retry, to drop duplicates),
`Parlons-Webhook-Timestamp` (Unix seconds) and `Parlons-Webhook-Signature`
(`v1=` + hex HMAC-SHA256 of `"<timestamp>.<body>"` under the endpoint's secret).

2xx is delivered. 5xx, 408, 429, a timeout or a connection error is tried again after 30 s, then
twice as long each time (at most an hour between tries, a 429's Retry-After respected) until a
day has passed since the event: then the delivery is failed. Any other answer (a 4xx, a redirect)
fails it at once. A worker that dies mid-batch leaves its claims to expire (LEASE): deliveries
are at least once. An endpoint on a private address is refused unless
`PARLONS_WEBHOOKS_ALLOW_PRIVATE` is on.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import random
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa

from automations.models import (
    IdempotentRequest,
    Shop,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    utcnow,
)
from connector import signals
from connector.runtime import Runtime, current

log = logging.getLogger("parlons.webhooks")

BATCH = 100
SENDERS = 8  # requests in flight at once
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
LEASE = timedelta(minutes=2)  # a claimed delivery is due again after this if its worker died
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
RETRY_FOR = timedelta(days=1)
KEEP_ANSWERS = timedelta(hours=24)  # Idempotency-Key answers
RETRYABLE = frozenset({408, 429})
DRAIN_BUDGET_SECONDS = 60
HOUSEKEEPING_FLAG = "parlons:webhooks:housekeeping"


@dataclass(frozen=True)
class Outgoing:
    delivery_id: int
    attempt: int
    url: str
    secret: str | None
    event_id: int
    event_type: str
    body: bytes
    first_at: datetime
    enabled: bool


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    duration_ms: int
    error: str | None = None
    body: str | None = None
    retry_after: float | None = None


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: what a receiver recomputes to trust a delivery."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def next_attempt(attempt: int, first_at: datetime, now: datetime, retry_after: float | None = None
                 ) -> datetime | None:
    """When to try again after `attempt` failed tries; None once a day has passed."""
    wait = min(FIRST_RETRY * 2 ** (attempt - 1), LONGEST_WAIT) * random.uniform(0.9, 1.1)
    if retry_after:
        wait = max(wait, min(timedelta(seconds=retry_after), LONGEST_WAIT))
    at = now + wait
    return at if at <= first_at + RETRY_FOR else None


def deliver_due(runtime: Runtime, now: datetime | None = None, limit: int = BATCH) -> int:
    """Claim and send one batch of due deliveries; how many were claimed."""
    now = now or utcnow()
    batch = _claim(runtime, now, limit)
    if not batch:
        return 0
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False,
                      headers={"User-Agent": "Parlons-Webhooks/1"}) as client, \
            ThreadPoolExecutor(min(SENDERS, len(batch))) as pool:
        answers = list(pool.map(lambda out: _send(runtime, client, out), batch))
    with runtime.db.transaction() as session:
        for out, answer in zip(batch, answers, strict=True):
            _record(session, out, answer, now)
    return len(batch)


def _claim(runtime: Runtime, now: datetime, limit: int) -> list[Outgoing]:
    with runtime.db.transaction() as session:
        query = (sa.select(WebhookDelivery.id)
                 .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                 .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if not ids:
            return []
        session.execute(sa.update(WebhookDelivery).where(WebhookDelivery.id.in_(ids)).values(
            next_attempt_at=now + LEASE, attempts=WebhookDelivery.attempts + 1))
        rows = session.execute(
            sa.select(WebhookDelivery, WebhookEvent, WebhookEndpoint, Shop.domain)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .join(Shop, Shop.id == WebhookDelivery.shop_id)
            .where(WebhookDelivery.id.in_(ids)).order_by(WebhookDelivery.id)
            .execution_options(populate_existing=True)).all()
        return [Outgoing(
            delivery_id=delivery.id, attempt=delivery.attempts, url=endpoint.url,
            secret=_secret(runtime, endpoint), event_id=event.id, event_type=event.type,
            body=json.dumps({"id": event.id, "type": event.type, "created_at": event.occurred_at.isoformat(),
                             "shop": domain, "data": event.data}, ensure_ascii=False).encode(),
            first_at=delivery.created_at, enabled=endpoint.enabled,
        ) for delivery, event, endpoint, domain in rows]


def _secret(runtime: Runtime, endpoint: WebhookEndpoint) -> str | None:
    try:
        return runtime.secrets.decrypt(endpoint.secret_enc)
    except ValueError:
        log.error("webhook endpoint %s: its secret cannot be decrypted with PARLONS_ENCRYPTION_KEY", endpoint.id)
        return None


def _send(runtime: Runtime, client: httpx.Client, out: Outgoing) -> Answer:
    if not out.enabled:
        return Answer(None, 0, "the endpoint is disabled")
    if out.secret is None:
        return Answer(None, 0, "the endpoint's secret cannot be decrypted with PARLONS_ENCRYPTION_KEY")
    refused = private_address(out.url) if not runtime.config.webhooks_allow_private else None
    if refused:
        return Answer(None, 0, refused)
    timestamp = int(time.time())
    headers = {"Content-Type": "application/json", "Parlons-Webhook-Id": str(out.event_id),
               "Parlons-Webhook-Timestamp": str(timestamp), "Parlons-Event-Type": out.event_type,
               "Parlons-Webhook-Signature": sign(out.secret, timestamp, out.body)}
    started = time.monotonic()
    try:
        response = client.post(out.url, content=out.body, headers=headers)
    except httpx.TimeoutException:
        return Answer(None, _ms(started), "timed out")
    except httpx.HTTPError as exc:
        return Answer(None, _ms(started), f"connection failed: {type(exc).__name__}")
    retry_after = response.headers.get("Retry-After", "")
    return Answer(response.status_code, _ms(started), body=response.text[:1000],
                  retry_after=float(retry_after) if retry_after.isdigit() else None)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _record(session: sa.orm.Session, out: Outgoing, answer: Answer, now: datetime) -> None:
    delivery = session.get(WebhookDelivery, out.delivery_id)
    code = answer.status_code
    transient = answer.error == "timed out" or (answer.error or "").startswith("connection failed")
    retry = transient or (code is not None and (code >= 500 or code in RETRYABLE))
    at = next_attempt(out.attempt, out.first_at, now, answer.retry_after) if retry else None
    if code is not None and 200 <= code < 300:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
    elif at is not None:
        delivery.status, delivery.next_attempt_at = "pending", at
    else:
        delivery.status, delivery.next_attempt_at = "failed", None
    error = answer.error or (None if code is None or code < 300 else f"HTTP {code}")
    if code is not None and 300 <= code < 400:
        error = f"HTTP {code}: redirects are not followed"
    delivery.last_status_code, delivery.last_error = code, error
    session.add(WebhookAttempt(delivery_id=out.delivery_id, attempt=out.attempt, status_code=code,
                               duration_ms=answer.duration_ms, error=error, response_body=answer.body,
                               next_attempt_at=delivery.next_attempt_at, attempted_at=now))


def private_address(url: str) -> str | None:
    """Why the URL may not be called (it resolves to a private, loopback… address), or None."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return None  # an unknown host fails as a connection error, and is retried
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return f"refused: {host} resolves to a non-public address ({address})"
    return None


def housekeeping(runtime: Runtime, now: datetime) -> int:
    """Forget Idempotency-Key answers older than KEEP_ANSWERS (at most once an hour)."""
    if not runtime.redis.set(HOUSEKEEPING_FLAG, 1, nx=True, ex=3600):
        return 0
    with runtime.db.transaction() as session:
        return session.execute(sa.delete(IdempotentRequest).where(
            IdempotentRequest.created_at < now - KEEP_ANSWERS)).rowcount


def has_due(runtime: Runtime) -> bool:
    with runtime.db.session() as session:
        return session.scalar(sa.select(WebhookDelivery.id).where(
            WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= utcnow()).limit(1)) is not None


def drain_webhooks() -> int:
    """The webhooks queue's job: send due deliveries until none is left or the time budget is
    spent (then a fresh job takes over)."""
    runtime = current()
    housekeeping(runtime, utcnow())
    sent, deadline = 0, time.monotonic() + DRAIN_BUDGET_SECONDS
    while True:
        n = deliver_due(runtime)
        sent += n
        if n:
            signals.hold_drain(runtime.redis, "webhooks")
            if time.monotonic() > deadline:
                runtime.queue("webhooks").enqueue(drain_webhooks)
                break
            continue
        if not signals.finish_drain(runtime.redis, "webhooks", lambda: has_due(runtime)):
            break
    return sent
