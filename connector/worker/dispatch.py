"""Dispatch: due messages are claimed in batches, re-checked at send time, handed to the SMS
provider under its rate limit, and every outcome is recorded (never sent twice, never dropped)."""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa

from automations import consent, dispatch
from automations.models import Contact, Message, Shop, utcnow
from connector.providers import sms_client, status_callback_url
from connector.runtime import Runtime
from integrations.errors import ApiError
from integrations.ratelimit import TokenBucket
from integrations.twilio.client import InvalidNumber, OptedOut

log = logging.getLogger("parlons.sending")
RETRY_LATER = timedelta(minutes=1)
STUCK_AFTER = timedelta(minutes=10)


def dispatch_due(runtime: Runtime, limit: int = 200) -> int:
    """Send what is due now; returns how many messages were claimed."""
    now = utcnow()
    with runtime.db.transaction() as session:
        ids = [m.id for m in dispatch.claim_due(session, now, limit)]
    if not ids:
        return 0
    bucket = TokenBucket(runtime.redis, "parlons:ratelimit:sms", runtime.config.sms_rate_per_second, 1.0)
    clients: dict[str | None, object] = {}
    for message_id in ids:
        try:
            _send_one(runtime, message_id, bucket, clients)
        except Exception:  # noqa: BLE001 - one bad message never stops the batch
            log.exception("message %s: unexpected error while sending", message_id)
            with runtime.db.transaction() as session:
                message = session.get(Message, message_id)
                if message is not None and message.status == "sending":
                    message.status, message.send_at = "scheduled", utcnow() + RETRY_LATER
                    message.status_reason = "unexpected error while sending; will retry"
    return len(ids)


def _send_one(runtime: Runtime, message_id: int, bucket: TokenBucket, clients: dict) -> None:
    now = utcnow()
    with runtime.db.transaction() as session:
        message = session.get(Message, message_id)
        decision = dispatch.check_before_send(session, message, now, runtime.redis)
        if not decision.send:
            return
        shop = session.get(Shop, message.shop_id)
        to, body, key, sender = message.to_phone, message.body or "", message.idempotency_key, shop.sms_number
        message.from_phone = sender or runtime.config.twilio_from or None
    if sender not in clients:
        clients[sender] = sms_client(runtime.config, from_number=sender)
    client = clients[sender]
    bucket.acquire()
    outcome: dict = {}
    try:
        result = client.send(to, body, status_callback=status_callback_url(runtime.config), idempotency_key=key)
        outcome = dict(provider_message_id=result.sid, status=result.status)
    except OptedOut as error:
        outcome = dict(status="failed", error_code=str(error.code or 21610),
                       reason="the recipient opted out with the carrier (STOP)")
    except InvalidNumber as error:
        outcome = dict(status="failed", error_code=str(error.code or ""), reason=f"invalid number: {error}")
    except ApiError as error:
        if error.retryable:
            with runtime.db.transaction() as session:
                message = session.get(Message, message_id)
                message.status, message.send_at = "scheduled", utcnow() + RETRY_LATER
                message.status_reason = f"provider unavailable, will retry: {error}"
            return
        outcome = dict(status="failed", error_code=str(error.code or error.status or ""), reason=str(error))
    with runtime.db.transaction() as session:
        message = session.get(Message, message_id)
        dispatch.record_result(session, message, provider="twilio", now=utcnow(), **outcome)
        if outcome.get("error_code") == "21610" and message.contact_id:
            contact = session.get(Contact, message.contact_id)
            if contact.opted_out_at is None:
                consent.opt_out(session, contact, "carrier", {"provider_error": 21610, "message_id": message.id}, utcnow())


def recover_stuck(runtime: Runtime) -> int:
    """Messages left `sending` by a worker that died mid-send. Their outcome is unknown, so they are
    closed as failed with that reason rather than risk a second copy on the customer's phone."""
    cutoff = utcnow() - STUCK_AFTER
    with runtime.db.transaction() as session:
        return session.execute(
            sa.update(Message)
            .where(Message.status == "sending", Message.updated_at < cutoff)
            .values(status="failed", status_reason="worker stopped while sending; not retried to avoid a double send",
                    updated_at=utcnow())
        ).rowcount
