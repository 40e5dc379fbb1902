"""The Brevo sandbox's other routes: the transactional SMS events report, the account, and
webhook creation, each as Brevo serves them (the `api-key` header on every request).

`GET /v3/transactionalSMS/statistics/events`: `limit` 0-100 (default 50), `offset`,
`startDate`/`endDate` (YYYY-MM-DD, both or neither, not with `days`), `days`, `phoneNumber`,
`event`, `tags` (a serialized array), `sort` (desc by default); answers `{"events": [...]}`.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import TYPE_CHECKING

from flask import Flask, jsonify, request

if TYPE_CHECKING:
    from integrations.brevo.sandbox import BrevoSandbox

REPORT_EVENTS = ("bounces", "hardBounces", "softBounces", "delivered", "sent", "accepted",
                 "unsubscription", "replies", "blocked", "rejected", "skipped")
# the report's filter names and the event names it lists
_FILTERS = {"hardBounces": {"hardBounce"}, "softBounces": {"softBounce"},
            "bounces": {"hardBounce", "softBounce"}, "unsubscription": {"unsubscribe"},
            "replies": {"replied"}, "skipped": {"skip"}}
WEBHOOK_SMS_EVENTS = ("sent", "delivered", "hardBounce", "softBounce", "blocked", "unsubscribed",
                      "reply", "accepted", "rejected", "skip")


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None):
    """Brevo's error answer: `{"code", "message"}`."""
    response = jsonify({"code": code, "message": message})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def add_read_routes(app: Flask, sandbox: BrevoSandbox) -> None:
    webhook_ids = count(1)

    @app.get("/v3/transactionalSMS/statistics/events")
    def sms_events():
        if not sandbox.authorized():
            return sandbox.unauthorized()
        args = request.args
        try:
            limit = int(args.get("limit", 50))
            offset = int(args.get("offset", 0))
            days = int(args["days"]) if "days" in args else None
            start = date.fromisoformat(args["startDate"]) if "startDate" in args else None
            end = date.fromisoformat(args["endDate"]) if "endDate" in args else None
            tags = json.loads(args["tags"]) if "tags" in args else None
        except (ValueError, json.JSONDecodeError):
            return error(400, "invalid_parameter", "invalid limit, offset, days, date or tags")
        if not 0 <= limit <= 100 or offset < 0:
            return error(400, "invalid_parameter", "limit must be between 0 and 100")
        if (start is None) != (end is None):
            return error(400, "invalid_parameter", "startDate and endDate go together")
        if days is not None and start is not None:
            return error(400, "invalid_parameter", "days is not compatible with startDate and endDate")
        if start and end and end < start:
            return error(400, "invalid_parameter", "endDate is before startDate")
        if args.get("event") and args["event"] not in REPORT_EVENTS:
            return error(400, "invalid_parameter", f"event must be one of {', '.join(REPORT_EVENTS)}")
        if tags is not None and not isinstance(tags, list):
            return error(400, "invalid_parameter", "tags is a serialized array")
        if days is not None:
            end = datetime.now(UTC).date()
            start = end - timedelta(days=days - 1)
        wanted = _FILTERS.get(args.get("event", ""), {args.get("event")}) if args.get("event") else None
        phone = args.get("phoneNumber", "").removeprefix("+")
        rows = list(sandbox.events)
        rows = [e for e in rows
                if (not phone or e["phoneNumber"] == phone)
                and (wanted is None or e["event"] in wanted)
                and (tags is None or e.get("tag") in tags)
                and (start is None or start <= datetime.fromisoformat(e["date"]).date() <= end)]
        if args.get("sort", "desc") == "desc":
            rows.reverse()
        return jsonify({"events": [{k: v for k, v in e.items() if v is not None}
                                   for e in rows[offset:offset + limit]]})

    @app.get("/v3/account")
    def account():
        if not sandbox.authorized():
            return sandbox.unauthorized()
        return jsonify({
            "organization_id": "5f0b0f0e0d0c0b0a09080706", "user_id": 1, "enterprise": False,
            "email": "boutique@parlons.example", "firstName": "Camille", "lastName": "Martin",
            "companyName": "Parlons demo shop",
            "plan": [{"type": "sms", "creditsType": "sendLimit", "credits": sandbox.credits}],
            "relay": {"enabled": False, "data": {"userName": "", "relay": "", "port": 0}},
        })

    @app.post("/v3/webhooks")
    def create_webhook():
        if not sandbox.authorized():
            return sandbox.unauthorized()
        body = request.get_json(silent=True) or {}
        if not isinstance(body.get("url"), str) or not body["url"].startswith(("http://", "https://")):
            return error(400, "invalid_parameter", "url is invalid")
        events = body.get("events") or []
        if body.get("type", "transactional") != "transactional" or body.get("channel") != "sms":
            return error(400, "invalid_parameter", "this sandbox offers transactional SMS webhooks")
        if not events or any(e not in WEBHOOK_SMS_EVENTS for e in events):
            return error(400, "invalid_parameter", f"events must be among {', '.join(WEBHOOK_SMS_EVENTS)}")
        auth = body.get("auth")
        if auth is not None and not (isinstance(auth, dict) and auth.get("type") == "bearer" and auth.get("token")):
            return error(400, "invalid_parameter", "auth must be {type: bearer, token}")
        headers = {h["key"]: h["value"] for h in body.get("headers") or [] if "key" in h and "value" in h}
        webhook_id = next(webhook_ids)
        sandbox.webhooks[webhook_id] = {"url": body["url"], "events": events, "auth": auth, "headers": headers}
        return jsonify({"id": webhook_id}), 201
