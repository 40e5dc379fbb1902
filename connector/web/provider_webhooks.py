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
from connector.web.limits import refuse_bad_signature, too_many
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


def _signed_form(parse, what: str):  # noqa: ANN001, ANN202
    """(parsed form, None), or (None, the 401/400 answer) — in the fixed order of checks."""
    if not _verified():
        wait = refuse_bad_signature("twilio")
        if wait:
            return None, too_many(wait)
        log.warning("twilio %s rejected: bad signature", what)
        return None, (jsonify(outcome="bad_signature"), 401)
    try:
        return parse(request.form), None
    except PayloadError as exc:
        log.warning("twilio %s anomalous: %s", what, exc)
        return None, (jsonify(outcome="bad_payload", reason=str(exc)), 400)


@bp.post("/status")
def status():
    update, refusal = _signed_form(twilio_webhooks.parse_status, "status callback")
    if refusal:
        return refusal
    delivery_id = f"status:{update.message_sid}:{update.status}"
    event_id = _store("status", delivery_id, None, update.raw)
    return jsonify(outcome="stored" if event_id else "duplicate"), 200


@bp.post("/inbound")
def inbound():
    sms, refusal = _signed_form(twilio_webhooks.parse_inbound, "inbound")
    if refusal:
        return refusal
    with rt().db.session() as session:
        shop_id = session.scalar(
            sa.select(Shop.id).where(Shop.sms_number == sms.to).order_by(Shop.id).limit(1)
        )
    if shop_id is None:
        log.warning("inbound SMS to %s matches no shop: stored for review", sms.to)
    _store("inbound", f"inbound:{sms.message_sid}", shop_id, sms.raw)
    return Response(EMPTY_TWIML, status=200, mimetype="text/xml")
