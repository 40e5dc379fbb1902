"""REST API v1: the human inbox — conversations listed and read, answered, assigned, annotated
and closed, as in the admin's inbox (automations.inbox does the work for both).

A reply is an SMS the dispatcher sends at once (not held by marketing windows); it is refused
(409) for a contact who replied STOP. Closing resumes automation for the contact.
`GET /analytics/conversations` gives the conversation figures (replies, handoffs, response and
resolution times) for the shop, a flow, or a period.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from marshmallow import RAISE, Schema, fields, validate

from automations import inbox
from automations.models import Conversation, Shop, utcnow
from connector.web import rt
from connector.web.api_messages import MessageSchema
from connector.web.rest import (
    SHOP_FIELD,
    ApiError,
    IdField,
    PageArgs,
    ShopBody,
    ShopQuery,
    api_blueprint,
    caller,
    idempotent,
    page_schema,
    paginate,
    request_shop,
)

bp = api_blueprint("conversation-inbox", "The human inbox: conversations read, answered, assigned, closed")


class ConversationSchema(Schema):
    id = fields.Integer(required=True)
    contact_id = fields.Integer(required=True)
    flow_key = fields.String(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(inbox.STATUSES))
    assigned_to = fields.String(allow_none=True)
    unread_count = fields.Integer(required=True)
    handoff_at = fields.DateTime(allow_none=True)
    first_human_reply_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    closed_at = fields.DateTime(allow_none=True)


class HistoryItemSchema(Schema):
    at = fields.DateTime(required=True)
    kind = fields.String(required=True, metadata={"description": "outbound, inbound, note, keyword, handoff, consent"})
    body = fields.String(required=True)
    author = fields.String(allow_none=True)
    status = fields.String(allow_none=True)
    message_id = fields.Integer(allow_none=True)


class ConversationDetailSchema(ConversationSchema):
    history = fields.List(fields.Nested(HistoryItemSchema), required=True)


class ConversationListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(inbox.STATUSES))
    assigned_to = fields.String()
    unread = fields.Boolean()
    contact_id = IdField()


class TextBody(Schema):
    class Meta:
        unknown = RAISE

    shop = fields.String(metadata=SHOP_FIELD)
    text = fields.String(required=True, validate=validate.Length(min=1, max=1600))
    agent = fields.String(validate=validate.Length(min=1, max=255),
                          metadata={"description": "who answers (default: the key's name, or operator)"})


class AssignBody(Schema):
    class Meta:
        unknown = RAISE

    shop = fields.String(metadata=SHOP_FIELD)
    assignee = fields.String(required=True, validate=validate.Length(min=1, max=255))


class KpiArgs(Schema):
    shop = fields.String(metadata=SHOP_FIELD)
    flow_key = fields.String()
    since = fields.AwareDateTime()


class KpiSchema(Schema):
    conversations = fields.Integer(required=True)
    replies = fields.Integer(required=True)
    answers = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    handoffs = fields.Integer(required=True)
    handoff_rate = fields.Float(required=True)
    first_human_response_median_seconds = fields.Float(allow_none=True)
    duration_median_seconds = fields.Float(allow_none=True)
    resolved = fields.Integer(required=True)
    resolution_rate = fields.Float(required=True)
    expired = fields.Integer(required=True)
    opt_outs = fields.Integer(required=True)
    opt_out_rate = fields.Float(required=True)


def _conversation(session: sa.orm.Session, shop: Shop, conversation_id: int) -> Conversation:
    conversation = session.scalar(sa.select(Conversation).where(
        Conversation.id == conversation_id, Conversation.shop_id == shop.id))
    if conversation is None:
        raise ApiError(404, {"conversation": [f"no conversation {conversation_id} in this shop"]})
    return conversation


def _agent(body: dict[str, Any]) -> str:
    return body.get("agent") or caller().name


def _act(conversation_id: int, action: Any) -> Any:  # noqa: ANN401
    """Run an inbox action in a transaction; its refusals become 400 (409 for a STOP)."""
    with rt().db.transaction() as session:
        conversation = _conversation(session, request_shop(session), conversation_id)
        try:
            return action(session, conversation, utcnow())
        except inbox.ContactOptedOut as exc:
            raise ApiError(409, {"conversation": [str(exc)]}, error="refused") from exc
        except inbox.InboxError as exc:
            raise ApiError(400, {"conversation": [str(exc)]}) from exc


@bp.get("/conversations")
@bp.arguments(ConversationListArgs, location="query")
@bp.response(200, page_schema(ConversationSchema))
def list_conversations(args: dict[str, Any]):  # noqa: ANN201
    with rt().db.session() as session:
        shop = request_shop(session)
        query = sa.select(Conversation).where(Conversation.shop_id == shop.id)
        for name in ("status", "assigned_to", "contact_id"):
            if args.get(name) is not None:
                query = query.where(getattr(Conversation, name) == args[name])
        if args.get("unread") is not None:
            query = query.where(Conversation.unread_count > 0 if args["unread"] else Conversation.unread_count == 0)
        return paginate(session, query, Conversation.id, args)


@bp.get("/conversations/<id:conversation_id>")
@bp.arguments(ShopQuery, location="query")
@bp.response(200, ConversationDetailSchema)
def show_conversation(_args: dict[str, Any], conversation_id: int):  # noqa: ANN201
    """The conversation and its history in time order (SMS both ways, notes, keywords, consent)."""
    with rt().db.session() as session:
        conversation = _conversation(session, request_shop(session), conversation_id)
        conversation.history = inbox.history(session, conversation)
        return conversation


@bp.post("/conversations/<id:conversation_id>/reply")
@bp.arguments(TextBody)
@idempotent
@bp.response(201, MessageSchema)
def reply(body: dict[str, Any], conversation_id: int):  # noqa: ANN201
    message = _act(conversation_id, lambda s, c, now: inbox.agent_reply(s, c, body["text"], _agent(body), now))
    rt().signal("dispatch")
    return message


@bp.post("/conversations/<id:conversation_id>/notes")
@bp.arguments(TextBody)
@idempotent
@bp.response(201, MessageSchema)
def add_note(body: dict[str, Any], conversation_id: int):  # noqa: ANN201
    """An internal note: kept in the history, never sent."""
    return _act(conversation_id, lambda s, c, now: inbox.add_note(s, c, body["text"], _agent(body), now))


@bp.post("/conversations/<id:conversation_id>/assign")
@bp.arguments(AssignBody)
@bp.response(200, ConversationSchema)
def assign(body: dict[str, Any], conversation_id: int):  # noqa: ANN201
    def do(session: sa.orm.Session, conversation: Conversation, now: Any) -> Conversation:  # noqa: ANN401
        inbox.assign(session, conversation, body["assignee"], now)
        return conversation

    return _act(conversation_id, do)


@bp.post("/conversations/<id:conversation_id>/close")
@bp.arguments(ShopBody, required=False)
@bp.response(200, ConversationSchema)
def close(_body: dict[str, Any], conversation_id: int):  # noqa: ANN201
    """Close it; automation resumes for the contact and messages it held leave now."""
    def do(session: sa.orm.Session, conversation: Conversation, now: Any) -> Conversation:  # noqa: ANN401
        inbox.close(session, conversation, now)
        return conversation

    conversation = _act(conversation_id, do)
    rt().signal("dispatch")
    return conversation


@bp.get("/analytics/conversations")
@bp.arguments(KpiArgs, location="query")
@bp.response(200, KpiSchema)
def conversation_kpis(args: dict[str, Any]):  # noqa: ANN201
    with rt().db.session() as session:
        return inbox.kpis(session, request_shop(session), flow_key=args.get("flow_key"), since=args.get("since"))


