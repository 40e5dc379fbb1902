"""REST API v1: contacts — search, show, consent history with its evidence, messages, and the
merchant's actions on a contact: unsubscribe from marketing, export everything held, erase.

`q` searches the phone (any format the shop's region reads), the email and the name. Unsubscribing
records a consent statement (source `api`, who asked and why as evidence): marketing stops, and
Shopify and HubSpot are told. Erasing removes the contact's personal data for good, as a
privacy request does; anonymous counts stay.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy.dialects.postgresql import JSONB

from automations import consent, privacy
from automations.contacts import normalise_phone
from automations.events import CONSENT_STATES, UNSUBSCRIBED, ConsentData
from automations.models import ConsentEvent, Contact, Message, Shop, utcnow
from connector.web import rt
from connector.web.api_messages import MessageListArgs, MessageSchema, message_query
from connector.web.rest import (
    SHOP_FIELD,
    ApiError,
    PageArgs,
    ShopBody,
    ShopQuery,
    api_blueprint,
    caller,
    page_schema,
    paginate,
    request_shop,
)

bp = api_blueprint("contacts", "Contacts and their SMS consent: search, history, unsubscribe, export, erase")


class ContactSchema(Schema):
    id = fields.Integer(required=True)
    phone = fields.String(attribute="phone_e164", allow_none=True)
    phone_raw = fields.String(allow_none=True)
    phone_error = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    locale = fields.String(allow_none=True)
    tags = fields.List(fields.Raw(), required=True)
    orders_count = fields.Integer(allow_none=True)
    total_spent = fields.String(allow_none=True)
    last_order_at = fields.DateTime(allow_none=True)
    consent_status = fields.String(required=True, validate=validate.OneOf(CONSENT_STATES))
    consent_source = fields.String(allow_none=True)
    consent_updated_at = fields.DateTime(allow_none=True)
    opted_out_at = fields.DateTime(allow_none=True, metadata={"description": "replied STOP: no SMS at all"})
    shopify_customer_id = fields.String(allow_none=True)
    hubspot_contact_id = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    deleted_at = fields.DateTime(allow_none=True)
    redacted_at = fields.DateTime(allow_none=True)


class ConsentEventSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)
    source = fields.String(required=True, metadata={"description": "shopify, hubspot, sms, carrier, api…"})
    evidence = fields.Dict(required=True, metadata={"description": "what proves it: form, keyword, message…"})
    occurred_at = fields.DateTime(required=True)
    recorded_at = fields.DateTime(required=True)


class ContactListArgs(PageArgs):
    q = fields.String(validate=validate.Length(min=1, max=255), metadata={"description": "phone, email or name"})
    consent_status = fields.String(validate=validate.OneOf(CONSENT_STATES))
    opted_out = fields.Boolean()
    tag = fields.String()


class UnsubscribeBody(Schema):
    class Meta:
        unknown = RAISE

    shop = fields.String(metadata=SHOP_FIELD)
    reason = fields.String(validate=validate.Length(max=500), metadata={"description": "kept as evidence"})


class RecordSchema(Schema):
    contact = fields.Dict(required=True)
    consent_ledger = fields.List(fields.Dict(), required=True)
    messages = fields.List(fields.Dict(), required=True)
    conversations = fields.List(fields.Dict(), required=True)


class ErasedSchema(Schema):
    contact_id = fields.Integer(required=True)
    messages_redacted = fields.Integer(required=True)


def _contact(session: sa.orm.Session, shop: Shop, contact_id: int) -> Contact:
    contact = session.scalar(sa.select(Contact).where(Contact.id == contact_id, Contact.shop_id == shop.id))
    if contact is None:
        raise ApiError(404, {"contact": [f"no contact {contact_id} in this shop"]})
    return contact


def _search(shop: Shop, q: str) -> sa.ColumnElement[bool]:
    like = f"%{q.strip().lower()}%"
    clauses = [sa.func.lower(Contact.email).like(like), sa.func.lower(Contact.first_name).like(like),
               sa.func.lower(Contact.last_name).like(like),
               sa.func.lower(sa.func.coalesce(Contact.first_name, "") + " " + sa.func.coalesce(Contact.last_name, ""))
               .like(like)]
    phone = normalise_phone(q, shop.default_region).e164
    if phone:
        clauses.append(Contact.phone_e164 == phone)
    digits = "".join(c for c in q if c.isdigit())
    if len(digits) >= 4:
        clauses.append(Contact.phone_e164.like(f"%{digits}%"))
    return sa.or_(*clauses)


def _has_tag(session: sa.orm.Session, tag: str) -> sa.ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(Contact.tags, JSONB).contains([tag])
    tags = sa.func.json_each(Contact.tags).table_valued("value")
    return sa.exists(sa.select(1).select_from(tags).where(tags.c.value == tag))


@bp.get("/contacts")
@bp.arguments(ContactListArgs, location="query")
@bp.response(200, page_schema(ContactSchema))
def list_contacts(args: dict[str, Any]):  # noqa: ANN201
    """The shop's contacts, newest first; `q` searches phone, email and name."""
    with rt().db.session() as session:
        shop = request_shop(session)
        query = sa.select(Contact).where(Contact.shop_id == shop.id)
        if args.get("q"):
            query = query.where(_search(shop, args["q"]))
        if args.get("consent_status"):
            query = query.where(Contact.consent_status == args["consent_status"])
        if args.get("opted_out") is not None:
            query = query.where(Contact.opted_out_at.is_not(None) if args["opted_out"] else Contact.opted_out_at.is_(None))
        if args.get("tag"):
            query = query.where(_has_tag(session, args["tag"]))
        return paginate(session, query, Contact.id, args)


@bp.get("/contacts/<id:contact_id>")
@bp.arguments(ShopQuery, location="query")
@bp.response(200, ContactSchema)
def show_contact(_args: dict[str, Any], contact_id: int):  # noqa: ANN201
    with rt().db.session() as session:
        return _contact(session, request_shop(session), contact_id)


@bp.get("/contacts/<id:contact_id>/consent")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_schema(ConsentEventSchema))
def consent_history(args: dict[str, Any], contact_id: int):  # noqa: ANN201
    """Every consent statement, newest first: who, when, where, how, with the evidence."""
    with rt().db.session() as session:
        contact = _contact(session, request_shop(session), contact_id)
        query = sa.select(ConsentEvent).where(ConsentEvent.contact_id == contact.id)
        return paginate(session, query, ConsentEvent.id, args)


@bp.get("/contacts/<id:contact_id>/messages")
@bp.arguments(MessageListArgs, location="query")
@bp.response(200, page_schema(MessageSchema))
def contact_messages(args: dict[str, Any], contact_id: int):  # noqa: ANN201
    """The contact's messages both ways (and notes), newest first, with the messages' filters."""
    with rt().db.session() as session:
        shop = request_shop(session)
        contact = _contact(session, shop, contact_id)
        return paginate(session, message_query(shop.id, {**args, "contact_id": contact.id}), Message.id, args)


@bp.post("/contacts/<id:contact_id>/unsubscribe")
@bp.arguments(UnsubscribeBody, required=False)
@bp.response(200, ContactSchema)
def unsubscribe(body: dict[str, Any], contact_id: int):  # noqa: ANN201
    """No more marketing SMS to this contact (transactional ones still go); recorded with evidence."""
    now = utcnow()
    with rt().db.transaction() as session:
        contact = _contact(session, request_shop(session), contact_id)
        evidence = {"requested_by": caller().name, "reason": body.get("reason") or "unsubscribed through the API"}
        consent.record(session, contact, ConsentData(UNSUBSCRIBED, "api", now, evidence), now)
    rt().signal("crm")
    rt().signal("webhooks")
    return contact


@bp.get("/contacts/<id:contact_id>/export")
@bp.arguments(ShopQuery, location="query")
@bp.response(200, RecordSchema)
def export_contact(_args: dict[str, Any], contact_id: int):  # noqa: ANN201
    """Everything held on the contact (as a data request's export has it): contact, consent
    ledger, messages, conversations."""
    with rt().db.session() as session:
        return privacy.contact_record(session, _contact(session, request_shop(session), contact_id))


@bp.post("/contacts/<id:contact_id>/erase")
@bp.arguments(ShopBody, required=False)
@bp.response(200, ErasedSchema)
def erase_contact(_body: dict[str, Any], contact_id: int):  # noqa: ANN201
    """Erase the contact's personal data for good (phone, email, names, message bodies,
    evidence…); what was sent is still counted. Waiting messages are cancelled."""
    with rt().db.transaction() as session:
        contact = _contact(session, request_shop(session), contact_id)
        if contact.redacted_at is not None:
            return {"contact_id": contact.id, "messages_redacted": 0}
        return {"contact_id": contact.id, "messages_redacted": privacy.redact_contact(session, contact, utcnow())}
