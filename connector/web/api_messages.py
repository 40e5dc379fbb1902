"""REST API v1: messages (list with filters, show) and the preview of a text before it is sent.

`POST /messages/preview` answers what a text would look like, cost and when it would leave, as
`parlons preview` does; with a shop key, or a shop named, the shop's settings apply.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from marshmallow import RAISE, Schema, fields, validate

from automations.models import Message
from connector.services.preview import PreviewError, preview
from connector.web import rt
from connector.web.rest import (
    ApiError,
    IdField,
    PageArgs,
    ShopQuery,
    api_blueprint,
    page_schema,
    paginate,
    read_only,
    request_shop,
)
from connector.web.rest.auth import optional_shop

bp = api_blueprint("messages", "SMS in and out: list, show, and preview before sending")

DIRECTIONS = ("outbound", "inbound", "note")
STATUSES = ("scheduled", "sending", "sent", "delivered", "undelivered", "failed", "suppressed", "cancelled",
            "received", "note")
_TIME = {"format": "date-time"}


class PreviewBody(Schema):
    class Meta:
        unknown = RAISE

    text = fields.String(required=True)
    to = fields.String(allow_none=True, metadata={"description": "recipient phone: country, window, cost"})
    at = fields.String(allow_none=True, metadata={**_TIME, "description": "when it would be sent; now by default"})
    marketing = fields.Boolean(metadata={"description": "false: transactional (no footer, no window)"})
    shop = fields.String(allow_none=True, metadata={"description": "apply this shop's settings"})
    raw = fields.Boolean(metadata={"description": "count the text exactly as given"})
    smart = fields.Boolean(allow_none=True, metadata={"description": "replace typographic characters"})
    locale = fields.String(allow_none=True)


class LinkSchema(Schema):
    original = fields.String(required=True)
    short = fields.String(required=True)


class PreviewSchema(Schema):
    body = fields.String(required=True)
    encoding = fields.String(required=True, validate=validate.OneOf(("GSM-7", "UCS-2")))
    segments = fields.Integer(required=True)
    characters = fields.Integer(required=True)
    units = fields.Integer(required=True)
    non_gsm_characters = fields.List(fields.String(), required=True)
    parts = fields.List(fields.String(), required=True)
    marketing = fields.Boolean(required=True)
    footer_added = fields.Boolean(required=True)
    smart_encoded = fields.Boolean(required=True)
    links = fields.List(fields.Nested(LinkSchema), required=True)
    to = fields.String(allow_none=True)
    country = fields.String(allow_none=True)
    timezone = fields.String(allow_none=True)
    send_at = fields.String(allow_none=True, metadata=_TIME)
    deferred_reason = fields.String(allow_none=True)
    cost = fields.String(allow_none=True)
    price_per_segment = fields.String(allow_none=True)
    currency = fields.String(allow_none=True)


class MessageSchema(Schema):
    id = fields.Integer(required=True)
    contact_id = fields.Integer(allow_none=True)
    conversation_id = fields.Integer(allow_none=True)
    rule_id = fields.Integer(allow_none=True)
    direction = fields.String(required=True)
    kind = fields.String(required=True)
    to = fields.String(attribute="to_phone", allow_none=True)
    from_ = fields.String(attribute="from_phone", data_key="from", allow_none=True)
    body = fields.String(allow_none=True)
    encoding = fields.String(allow_none=True)
    segments = fields.Integer(allow_none=True)
    cost = fields.String(allow_none=True)
    status = fields.String(required=True)
    status_reason = fields.String(allow_none=True)
    error_code = fields.String(allow_none=True)
    author = fields.String(allow_none=True)
    send_at = fields.DateTime(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class MessageListArgs(PageArgs):
    direction = fields.String(validate=validate.OneOf(DIRECTIONS))
    status = fields.String(validate=validate.OneOf(STATUSES))
    kind = fields.String(validate=validate.OneOf(("marketing", "transactional", "conversational", "system")))
    contact_id = IdField()
    conversation_id = IdField()
    rule_id = IdField()
    since = fields.AwareDateTime(metadata={"description": "created at or after (ISO date-time with zone)"})
    until = fields.AwareDateTime(metadata={"description": "created before"})


def message_query(shop_id: int, args: dict[str, Any]) -> sa.Select:
    query = sa.select(Message).where(Message.shop_id == shop_id)
    for name in ("direction", "status", "kind", "contact_id", "conversation_id", "rule_id"):
        if args.get(name) is not None:
            query = query.where(getattr(Message, name) == args[name])
    if args.get("since"):
        query = query.where(Message.created_at >= args["since"])
    if args.get("until"):
        query = query.where(Message.created_at < args["until"])
    return query


@bp.post("/messages/preview")
@read_only
@bp.arguments(PreviewBody)
@bp.response(200, PreviewSchema)
def messages_preview(body: dict[str, Any]):  # noqa: ANN201
    """What a text would look like, cost and when it would leave; nothing is sent or stored."""
    with rt().db.session() as session:
        shop = optional_shop(session)
        domain = shop.domain if shop is not None else None
    try:
        return preview(rt(), {**body, "shop": domain})
    except PreviewError as exc:
        raise ApiError(400, exc.messages) from exc


@bp.get("/messages")
@bp.arguments(MessageListArgs, location="query")
@bp.response(200, page_schema(MessageSchema))
def list_messages(args: dict[str, Any]):  # noqa: ANN201
    """The shop's messages, newest first, filtered by direction, status, kind, contact, time…"""
    with rt().db.session() as session:
        shop = request_shop(session)
        return paginate(session, message_query(shop.id, args), Message.id, args)


@bp.get("/messages/<id:message_id>")
@bp.arguments(ShopQuery, location="query")
@bp.response(200, MessageSchema)
def show_message(_args: dict[str, Any], message_id: int):  # noqa: ANN201
    with rt().db.session() as session:
        shop = request_shop(session)
        message = session.scalar(sa.select(Message).where(Message.id == message_id, Message.shop_id == shop.id))
        if message is None:
            raise ApiError(404, {"message": [f"no message {message_id} in this shop"]})
        return message
