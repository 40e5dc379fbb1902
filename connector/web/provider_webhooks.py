"""SMS provider webhooks: delivery status callbacks and inbound messages (Twilio).

Same fixed order as every webhook: signature (401), payload (400), store once, signal, answer.
"""

from __future__ import annotations

import json
import logging

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, request

from automations.models import Shop
from connector.web import rt
from integrations.twilio import webhooks as twilio_webhooks
from integrations.twilio.schemas import PayloadError

log = logging.getLogger("parlons.webhooks")
bp = Blueprint("provider_webhooks", __name__, url_prefix="/webhooks/twilio")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _verified() -> bool:
    runtime = rt()
    url = twilio_webhooks.public_url(request.url, request.headers, runtime.config.public_url)
    return twilio_webhooks.verify_signature(
        url, request.form, request.headers.get("X-Twilio-Signature"), runtime.config.twilio_auth_token
    )


def _store(topic: str, delivery_id: str, shop_id: int | None, data: dict) -> int | None:
    runtime = rt()
    event_id = runtime.deliveries.record(
        source="twilio", delivery_id=delivery_id, topic=topic, shop_id=shop_id,
        payload=json.dumps(data),
    )
    return event_id


@bp.post("/status")
def status():
    if not _verified():
        log.warning("twilio status callback rejected: bad signature")
        return jsonify(outcome="bad_signature"), 401
    try:
        update = twilio_webhooks.parse_status(request.form)
    except PayloadError as exc:
        log.warning("twilio status callback anomalous: %s", exc)
        return jsonify(outcome="bad_payload", reason=str(exc)), 400
    delivery_id = f"status:{update.message_sid}:{update.status}"
    event_id = _store("status", delivery_id, None, update.raw)
    return jsonify(outcome="stored" if event_id else "duplicate"), 200


@bp.post("/inbound")
def inbound():
    if not _verified():
        log.warning("twilio inbound rejected: bad signature")
        return jsonify(outcome="bad_signature"), 401
    try:
        sms = twilio_webhooks.parse_inbound(request.form)
    except PayloadError as exc:
        log.warning("twilio inbound anomalous: %s", exc)
        return jsonify(outcome="bad_payload", reason=str(exc)), 400
    with rt().db.session() as session:
        shop_id = session.scalar(
            sa.select(Shop.id).where(Shop.sms_number == sms.to).order_by(Shop.id).limit(1)
        )
    if shop_id is None:
        log.warning("inbound SMS to %s matches no shop: stored for review", sms.to)
    _store("inbound", f"inbound:{sms.message_sid}", shop_id, sms.raw)
    return Response(EMPTY_TWIML, status=200, mimetype="text/xml")
