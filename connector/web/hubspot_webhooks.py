"""`POST /webhooks/hubspot`: HubSpot's batches of contact events.

Checks in order: signature v3 over the raw body and the URI as HubSpot called it, timestamp
within 5 minutes (401 otherwise), a readable batch of at most 100 events (400 otherwise). Each
event is stored once per shop its portal serves (delivery id `<eventId>:<shop id>`, so a
re-delivered event is a duplicate); events of portals no shop uses are logged and answered
200. The worker does the rest.
"""

from __future__ import annotations

import json
import logging

import sqlalchemy as sa
from flask import Blueprint, jsonify, request

from automations.models import Installation
from connector.deliveries import record_delivery
from connector.web import rt
from connector.web.limits import refuse_bad_signature, too_many
from integrations.hubspot import webhooks as hubspot_webhooks
from integrations.hubspot.schemas import PayloadError, parse_batch

log = logging.getLogger("parlons.webhooks.hubspot")


bp = Blueprint("hubspot_webhooks", __name__, url_prefix="/webhooks")


@bp.post("/hubspot")
def hubspot():
    runtime = rt()
    raw = request.get_data(cache=False)
    uri = hubspot_webhooks.public_uri(request.url, request.headers, runtime.config.public_url or None)
    if not hubspot_webhooks.verify_signature_v3(
        request.method, uri, raw, request.headers.get("X-HubSpot-Request-Timestamp"),
        request.headers.get("X-HubSpot-Signature-v3"), runtime.config.hubspot_client_secret,
    ):
        wait = refuse_bad_signature("hubspot")
        if wait:
            return too_many(wait)
        log.warning("hubspot webhook rejected: bad, stale or missing signature v3")
        return jsonify(outcome="bad_signature"), 401
    try:
        events = parse_batch(raw)
        by_id = {int(item["eventId"]): item for item in json.loads(raw)}
    except PayloadError as exc:
        log.warning("hubspot webhook anomalous: %s", exc)
        return jsonify(outcome="bad_payload", reason=str(exc)), 400
    stored, duplicates, unknown = [], 0, set()
    with runtime.db.session() as session:
        portals = {str(e.portal_id) for e in events}
        shops: dict[str, list[int]] = {}
        for portal, shop_id in session.execute(
            sa.select(Installation.external_id, Installation.shop_id)
            .where(Installation.provider == "hubspot", Installation.external_id.in_(portals))
            .order_by(Installation.shop_id)
        ):
            shops.setdefault(portal, []).append(shop_id)
        for event in events:
            served = shops.get(str(event.portal_id), [])
            if not served:
                unknown.add(event.portal_id)
            for shop_id in served:
                new_id = record_delivery(
                    session, source="hubspot", delivery_id=f"{event.event_id}:{shop_id}",
                    topic=event.subscription_type, shop_id=shop_id,
                    payload=json.dumps(by_id[event.event_id], separators=(",", ":")),
                )
                if new_id is None:
                    duplicates += 1
                else:
                    stored.append(new_id)
        session.commit()
    if unknown:
        log.info("hubspot webhook: events for portals no shop uses: %s", sorted(unknown))
    if stored:
        runtime.signal("events")
    return jsonify(outcome="stored", stored=len(stored), duplicates=duplicates,
                   unknown_portals=sorted(unknown)), 200
