"""SMS provider webhooks of Vonage and Brevo: delivery status and inbound messages.

Through the provider protocol (`integrations.sms`), in the fixed order of every webhook:
credentials or signature (401, counted by `limits.refuse_bad_signature`), payload (400), store
once (source = the provider's name), signal, answer 200 (both providers retry anything else).

Brevo posts delivery events, replies and unsubscriptions as one kind of webhook, to a
message's `webUrl` and to the SMS webhook registered for the account: both routes take all of
them. A Vonage status posted to the inbound URL (or the reverse) is stored for what it is.
"""

from __future__ import annotations

import hashlib
import json
import logging

import sqlalchemy as sa
from flask import Blueprint, jsonify, request

from automations.models import Message, Shop, ShopSmsSettings
from connector import providers
from connector.web import rt
from connector.web.limits import refuse_bad_signature, too_many
from integrations.sms import InboundSms, SmsProvider, StatusUpdate, WebhookError, WebhookRequest

log = logging.getLogger("parlons.webhooks")
bp = Blueprint("sms_webhooks", __name__, url_prefix="/webhooks")

# Brevo's replies carry the id of the message they answer, not one of their own.
INBOUND_IDS_REPEAT = frozenset({"brevo"})


def _as_request() -> WebhookRequest:
    return WebhookRequest(url=request.url, headers=dict(request.headers), body=request.get_data())


def _read(provider: SmsProvider, hook: WebhookRequest,
          route: str) -> tuple[str, list[StatusUpdate] | InboundSms | None]:
    """("status", updates), ("inbound", sms), or ("ignored", None) for a well-formed event that
    is neither (a Brevo `subscribe`); raises WebhookError for a body we cannot read."""
    if route == "status":
        updates = provider.parse_status(hook)
        if updates:
            return "status", updates
        try:
            return "inbound", provider.parse_inbound(hook)
        except WebhookError:
            return "ignored", None
    try:
        return "inbound", provider.parse_inbound(hook)
    except WebhookError as not_inbound:
        try:
            updates = provider.parse_status(hook)
        except WebhookError:
            raise not_inbound from None
        return ("status", updates) if updates else ("ignored", None)


def _store(name: str, topic: str, delivery_id: str, shop_id: int | None, body: bytes) -> int | None:
    return rt().deliveries.record(source=name, delivery_id=delivery_id, topic=topic, shop_id=shop_id,
                                  payload=body.decode())


def _inbound_id(name: str, sms: InboundSms, body: bytes) -> str:
    if name not in INBOUND_IDS_REPEAT:
        return f"inbound:{sms.provider_id}"
    content = json.loads(body)
    content.pop("id", None)  # the webhook's id: the same event reaches us through two webhooks
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:24]
    return f"inbound:{sms.provider_id}:{digest}"


def shop_for_inbound(name: str, sms: InboundSms) -> int | None:
    """The shop an inbound message is for: by the number it was sent to (the shop's own number
    or a sender it chose), or, when the provider gives none (Brevo), by the message it answers."""
    with rt().db.session() as session:
        if not sms.to:
            replied_to = sms.provider_id.split(":", 1)[0]
            return session.scalar(sa.select(Message.shop_id).where(
                Message.provider == name, Message.provider_message_id == replied_to).limit(1))
        by_setting = session.scalar(
            sa.select(ShopSmsSettings.shop_id)
            .where(sa.or_(sa.and_(ShopSmsSettings.provider == name, ShopSmsSettings.sender == sms.to),
                          sa.and_(ShopSmsSettings.failover_provider == name,
                                  ShopSmsSettings.failover_sender == sms.to)))
            .order_by(ShopSmsSettings.shop_id).limit(1))
        return by_setting or session.scalar(
            sa.select(Shop.id).where(Shop.sms_number == sms.to).order_by(Shop.id).limit(1))


def _receive(name: str, route: str):  # noqa: ANN202 - a Flask answer
    try:
        provider = providers.provider(rt().config, name)
    except providers.ProviderNotConfigured:
        log.warning("%s webhook refused: the provider is not configured here", name)
        return jsonify(outcome="not_configured"), 404
    hook = _as_request()
    if not provider.verify(hook):
        wait = refuse_bad_signature(name)
        if wait:
            return too_many(wait)
        log.warning("%s %s webhook rejected: bad signature or credentials", name, route)
        return jsonify(outcome="bad_signature"), 401
    try:
        topic, content = _read(provider, hook, route)
    except WebhookError as exc:
        log.warning("%s %s webhook anomalous: %s", name, route, exc)
        return jsonify(outcome="bad_payload", reason=str(exc)), 400
    if topic == "ignored":
        return jsonify(outcome="ignored"), 200
    if topic == "status":
        stored = [_store(name, "status", f"status:{u.provider_id}:{u.provider_status}", None, hook.body)
                  for u in content]
        return jsonify(outcome="stored" if any(stored) else "duplicate"), 200
    shop_id = shop_for_inbound(name, content)
    if shop_id is None:
        log.warning("%s inbound SMS matches no shop: stored for review", name)
    stored_id = _store(name, "inbound", _inbound_id(name, content, hook.body), shop_id, hook.body)
    return jsonify(outcome="stored" if stored_id else "duplicate"), 200


@bp.post("/vonage/status")
def vonage_status():
    return _receive("vonage", "status")


@bp.post("/vonage/inbound")
def vonage_inbound():
    return _receive("vonage", "inbound")


@bp.post("/brevo/status")
def brevo_status():
    return _receive("brevo", "status")


@bp.post("/brevo/inbound")
def brevo_inbound():
    return _receive("brevo", "inbound")
