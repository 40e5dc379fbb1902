"""The Messages list (`GET .../Messages.json`) for the Twilio sandbox, as Twilio serves it.

Filters `To`, `From` and `DateSent` (`DateSent`, `DateSent<`, `DateSent>` with a YYYY-MM-DD
date in GMT), `PageSize` (default 50, at most 1000) and `Page`/`PageToken` paging; most recent
first; HTTP Basic auth as for every resource. `add_messages_list` registers it on the
sandbox's app.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flask import Flask, jsonify, request

from integrations.twilio.sandbox.messages import API, authenticated, twilio_error

if TYPE_CHECKING:
    from integrations.twilio.sandbox import TwilioSandbox

MAX_PAGE_SIZE = 1000


def _when(value: str | None) -> datetime:
    return parsedate_to_datetime(value) if value else datetime.max.replace(tzinfo=UTC)


def _date_filter(args) -> tuple[str, date] | None:
    for key, op in (("DateSent<", "<="), ("DateSent>", ">="), ("DateSent", "=")):
        if key in args:
            return op, date.fromisoformat(args[key])
    return None


def add_messages_list(sandbox: TwilioSandbox, app: Flask) -> None:
    @app.get(f"{API}/Accounts/<account_sid_in_path>/Messages.json", endpoint="list_messages")
    @authenticated(sandbox.account_sid, sandbox.auth_token)
    def list_messages():
        try:
            size = int(request.args.get("PageSize", 50))
            page = int(request.args.get("Page", 0))
            sent = _date_filter(request.args)
        except ValueError as error:
            return twilio_error(400, 20001, f"Invalid filter: {error}")
        if not 1 <= size <= MAX_PAGE_SIZE or page < 0:
            return twilio_error(400, 20001, "PageSize must be between 1 and 1000 and Page at least 0")
        rows = sandbox.messages(to=request.args.get("To"), from_=request.args.get("From"))
        if sent is not None:
            op, day = sent
            rows = [r for r in rows if r["date_sent"] and _matches(_when(r["date_sent"]).date(), op, day)]
        rows.sort(key=lambda r: (_when(r["date_sent"]), _when(r["date_created"])), reverse=True)
        chunk = rows[page * size:(page + 1) * size]
        base = request.path
        query = {k: v for k, v in request.args.items() if k not in ("Page", "PageToken")}

        def uri(number: int) -> str:
            return f"{base}?{urlencode({**query, 'PageSize': size, 'Page': number})}"

        has_next = (page + 1) * size < len(rows)
        return jsonify({
            "messages": chunk, "page": page, "page_size": size, "start": page * size,
            "end": page * size + max(len(chunk) - 1, 0), "uri": uri(page), "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1) + f"&PageToken=PA{page + 1}" if has_next else None,
            "previous_page_uri": uri(page - 1) if page > 0 else None,
        })


def _matches(day: date, op: str, wanted: date) -> bool:
    return {"=": day == wanted, "<=": day <= wanted, ">=": day >= wanted}[op]
