"""Lists in the REST API: newest first, a page at a time, behind an opaque cursor.

Every list answers `{"data": [...], "has_more": bool, "next_cursor": str | null}` and, when there
is more, a `Link: <…&cursor=…>; rel="next"` header. `limit` is 1–200 (default 50); `cursor`
is the `next_cursor` of the page before. Rows come by descending id, so a row written while a
client walks the pages never shifts what it has not read yet.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import request
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from connector.web.rest.errors import ApiError
from connector.web.rest.schemas import MAX_ID, SHOP_FIELD

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_PAGES: dict[type[Schema], type[Schema]] = {}


class PageArgs(Schema):
    """The query parameters of every list (endpoints add their filters to a subclass)."""

    shop = fields.String(metadata=SHOP_FIELD)
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None, metadata={"description": "next_cursor of the page before"})


def page_schema(item: type[Schema]) -> type[Schema]:
    """The envelope of a list of `item` (one schema class per item schema, named after it)."""
    if item not in _PAGES:
        name = item.__name__.removesuffix("Schema") + "PageSchema"
        _PAGES[item] = type(name, (Schema,), {
            "data": fields.List(fields.Nested(item), required=True),
            "has_more": fields.Boolean(required=True),
            "next_cursor": fields.String(required=True, allow_none=True),
        })
    return _PAGES[item]


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind == "id" and value.isdigit() and int(value) <= MAX_ID:
            return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ApiError(400, {"cursor": ["not a cursor this API gave: pass next_cursor as it came"]})


def paginate(session: Session, query: sa.Select, id_column: Any, args: dict[str, Any]
             ) -> tuple[dict[str, Any], dict[str, str]]:
    """One page of `query` (rows of one model, filtered to the shop by the caller) and its
    headers: `return paginate(...)` from a view whose response schema is `page_schema(Item)`."""
    limit = args.get("limit") or DEFAULT_LIMIT
    if args.get("cursor"):
        query = query.where(id_column < decode_cursor(args["cursor"]))
    rows = list(session.scalars(query.order_by(id_column.desc()).limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    cursor = encode_cursor(rows[-1].id) if has_more else None
    headers = {"Link": f'<{next_url(cursor, limit)}>; rel="next"'} if cursor else {}
    return {"data": rows, "has_more": has_more, "next_cursor": cursor}, headers


def next_url(cursor: str, limit: int) -> str:
    params = [(k, v) for k, v in request.args.items(multi=True) if k not in ("cursor", "limit")]
    return f"{request.base_url}?{urlencode([*params, ('limit', limit), ('cursor', cursor)])}"
