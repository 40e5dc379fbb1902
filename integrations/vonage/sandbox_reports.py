"""The Vonage sandbox's read side: the Reports API's synchronous records, the account balance and
an application, each as Vonage serves them (HTTP Basic with the API key and secret only).

`GET /v2/reports/records` follows Vonage's published reference: `account_id` (8 characters,
the key's own account), `product` (one of Vonage's products), `direction` (required for SMS
and MESSAGES), either `id` or both `date_start` and `date_end` no more than 24 hours apart
(`date_start` inclusive, `date_end` exclusive, on the time Vonage received the request),
`include_message`; at most `page_size` records per answer, the rest behind
`request_status: TRUNCATED` with `cursor`, `iv` and `_links.next`.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flask import Flask, jsonify, request

if TYPE_CHECKING:
    from integrations.vonage.sandbox import VonageSandbox

PRODUCTS = ("SMS", "VOICE-CALL", "VOICE-FAILED", "IN-APP-VOICE", "WEBSOCKET-CALL", "VERIFY-API",
            "NUMBER-INSIGHT", "MESSAGES", "ASR", "CONVERSATIONS", "REPORTS-USAGE")
MAX_WINDOW = timedelta(hours=24)


def _problem(status: int, title: str, detail: str | None = None, **extra):
    body = {"title": title, "instance": uuid.uuid4().hex, **extra}
    if detail:
        body["detail"] = detail
    return jsonify(body), status


def _when(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _vonage_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def add_account_routes(app: Flask, sandbox: VonageSandbox) -> None:
    @app.get("/v2/reports/records")
    def records():
        if not sandbox.authenticated(basic_only=True):
            return sandbox.unauthorized()
        args = request.args
        missing = [{"name": name, "reason": "Missing required parameter"}
                   for name in ("account_id", "product") if not args.get(name)]
        product = args.get("product")
        if product in ("SMS", "MESSAGES") and not args.get("direction"):
            missing.append({"name": "direction", "reason": "Missing required parameter"})
        if missing:
            return _problem(422, "Unprocessable entity", invalid_parameters=missing)
        if product not in PRODUCTS:
            return _problem(422, "Unprocessable entity", invalid_parameters=[{
                "name": "product", "reason": f"Could not resolve product name. Please use one of the following values {list(PRODUCTS)}"}])
        if len(args["account_id"]) != 8 or args["account_id"] != sandbox.api_key:
            return _problem(403, "Forbidden", "User not authorized to query the requested data")
        if args.get("direction") not in (None, "inbound", "outbound"):
            return _problem(422, "Unprocessable entity", invalid_parameters=[{
                "name": "direction", "reason": "must be inbound or outbound"}])
        if args.get("id") and (args.get("date_start") or args.get("date_end")):
            return _problem(422, "Invalid filter", "When using message_id, the following parameters are not supported: [date_start, date_end]",
                            type="https://developer.nexmo.com/api-errors/reports#invalid-filter")
        if bool(args.get("date_start")) != bool(args.get("date_end")):
            name = "date_end" if args.get("date_start") else "date_start"
            return _problem(422, "Unprocessable entity", invalid_parameters=[{"name": name, "reason": "Missing required parameter"}])
        try:
            start = _when(args["date_start"]) if args.get("date_start") else None
            end = _when(args["date_end"]) if args.get("date_end") else None
        except ValueError:
            return _problem(400, "Invalid request parameter", "Invalid request parameter.",
                            type="https://developer.nexmo.com/api-errors/reports#invalid-request-parameters")
        if start and end and not timedelta(0) < end - start <= MAX_WINDOW:
            return _problem(422, "Invalid filter", "date_end must be after date_start and no more than 24 hours later")
        include = args.get("include_message", "false").lower() == "true"
        rows = []
        if product == "MESSAGES" and args.get("direction") == "outbound":
            ids = set(args["id"].split(",")) if args.get("id") else None
            rows = [m for m in sandbox.messages()
                    if (ids is None or m.message_uuid in ids)
                    and (start is None or start <= m.received_at < end)]
        rows.sort(key=lambda m: m.received_at)
        offset = int(base64.urlsafe_b64decode(args["cursor"]).decode()) if args.get("cursor") else 0
        size = sandbox.records_page_size
        chunk = rows[offset:offset + size]
        truncated = offset + size < len(rows)
        query = {k: v for k, v in args.items() if k not in ("cursor", "iv")}
        body = {
            "_links": {"self": {"href": f"{request.base_url}?{urlencode(query)}"}},
            "request_id": str(uuid.uuid4()), "request_status": "TRUNCATED" if truncated else "SUCCESS",
            "received_at": _vonage_date(datetime.now(UTC)), "product": product,
            "account_id": sandbox.api_key, "direction": args.get("direction"),
            "include_message": include, "items_count": len(chunk),
            "records": [_record(m, sandbox.api_key, include) for m in chunk],
        }
        if ids_missing := (set(args["id"].split(",")) - {m.message_uuid for m in rows}
                           if args.get("id") else set()):
            body["ids_not_found"] = ",".join(sorted(ids_missing))
        if truncated:
            cursor = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
            iv = secrets.token_urlsafe(16)
            body.update(cursor=cursor, iv=iv)
            body["_links"]["next"] = {"href": f"{request.base_url}?{urlencode({**query, 'cursor': cursor, 'iv': iv})}"}
        return jsonify(body)

    @app.get("/account/get-balance")
    def balance():
        if not sandbox.authenticated(basic_only=True):
            return sandbox.unauthorized()
        return jsonify({"value": 10.5, "autoReload": False})

    @app.get("/v2/applications/<application_id>")
    def application(application_id):
        if not sandbox.authenticated(basic_only=True):
            return sandbox.unauthorized()
        if application_id != sandbox.application_id:
            return _problem(404, "Not found", f"Application {application_id} does not exist, or you do not have access.",
                            type="https://developer.nexmo.com/api-errors#not-found")
        return jsonify({
            "id": sandbox.application_id, "name": "Parlons",
            "capabilities": {"messages": {"webhooks": {
                "inbound_url": {"address": sandbox.inbound_url or "", "http_method": "POST"},
                "status_url": {"address": sandbox.status_url or "", "http_method": "POST"}},
                "version": "v1"}},
            "keys": {"public_key": sandbox.public_key},
            "_links": {"self": {"href": f"/v2/applications/{sandbox.application_id}"}},
        })


def _record(message, account_id: str, include: bool) -> dict:
    final = message.status in ("delivered", "rejected", "undeliverable")
    record = {
        "account_id": account_id, "message_id": message.message_uuid,
        "client_ref": message.client_ref, "direction": "outbound", "from": message.from_,
        "to": message.to, "provider": message.channel, "status": message.status,
        "date_received": _vonage_date(message.received_at),
        "date_finalized": _vonage_date(message.received_at) if final else None,
        "error_code": str(message.error_code) if message.error_code else None,
        "currency": "EUR", "total_price": "0.0333", "country": "", "country_name": "",
    }
    if include:
        record["message_body"] = message.text
    return record
