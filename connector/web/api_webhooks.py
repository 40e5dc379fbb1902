"""REST API v1: outgoing webhooks — the endpoints a shop subscribes, and their deliveries.

An endpoint's secret is in the answer to its creation only (`whsec_…`); it signs every delivery
(see connector.worker.webhooks for the headers and README "Outgoing webhooks" to verify them).
Every delivery and each of its attempts is kept; `POST …/replay` sends a delivery's event again.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates
from sqlalchemy.orm import joinedload, selectinload

from automations import webhooks
from automations.models import (
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    utcnow,
)
from connector.services import webhook_endpoints as endpoints
from connector.web import rt
from connector.web.rest import (
    SHOP_FIELD,
    ApiError,
    IdField,
    PageArgs,
    ShopBody,
    ShopQuery,
    api_blueprint,
    idempotent,
    page_schema,
    paginate,
    request_shop,
)

bp = api_blueprint("webhook-endpoints", "Outgoing webhooks: endpoints a shop subscribes, deliveries, replays")
EVENTS = fields.List(fields.String(validate=validate.OneOf(webhooks.EVENT_TYPES)),
                     validate=validate.Length(min=1), metadata={"description": "event types to receive"})


class EndpointBody(Schema):
    class Meta:
        unknown = RAISE

    shop = fields.String(metadata=SHOP_FIELD)
    url = fields.String(required=True, validate=validate.Length(max=2000),
                        metadata={"example": "https://example.com/parlons-webhooks"})
    events = fields.List(EVENTS.inner, required=True, validate=validate.Length(min=1),
                         metadata=EVENTS.metadata)
    description = fields.String(load_default="", validate=validate.Length(max=255))
    enabled = fields.Boolean(load_default=True)

    @validates("url")
    def _public_https(self, url: str, **_: Any) -> None:
        check_url(url)


class EndpointChange(EndpointBody):
    url = fields.String(validate=validate.Length(max=2000))
    events = fields.List(EVENTS.inner, validate=validate.Length(min=1), metadata=EVENTS.metadata)
    description = fields.String(validate=validate.Length(max=255))
    enabled = fields.Boolean()


class EndpointSchema(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    description = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    enabled = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class NewEndpointSchema(EndpointSchema):
    secret = fields.String(required=True, metadata={"description": "signs the deliveries: shown this once"})


class AttemptSchema(Schema):
    attempt = fields.Integer(required=True)
    status_code = fields.Integer(allow_none=True)
    duration_ms = fields.Integer(required=True)
    error = fields.String(allow_none=True)
    response_body = fields.String(allow_none=True, metadata={"description": "its first 1,000 characters"})
    next_attempt_at = fields.DateTime(allow_none=True)
    attempted_at = fields.DateTime(required=True)


class DeliverySchema(Schema):
    id = fields.Integer(required=True)
    endpoint_id = fields.Integer(required=True)
    event_id = fields.Integer(required=True)
    event_type = fields.String(required=True, attribute="event.type")
    replay_of = fields.Integer(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(("pending", "delivered", "failed")))
    attempts = fields.Integer(required=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    delivered_at = fields.DateTime(allow_none=True)


class DeliveryDetailSchema(DeliverySchema):
    event = fields.Function(lambda d: {"id": d.event.id, "type": d.event.type, "created_at":
                                       d.event.occurred_at.isoformat(), "data": d.event.data},
                            metadata={"description": "the event as it is sent"})
    log = fields.List(fields.Nested(AttemptSchema), required=True, attribute="attempt_log",
                      metadata={"description": "every attempt, first first"})


class EndpointListArgs(PageArgs):
    enabled = fields.Boolean()


class DeliveryListArgs(PageArgs):
    endpoint_id = IdField()
    status = fields.String(validate=validate.OneOf(("pending", "delivered", "failed")))
    event_type = fields.String(validate=validate.OneOf(webhooks.EVENT_TYPES))


def check_url(url: str) -> None:
    problem = endpoints.url_problem(url, rt().config.webhooks_allow_private)
    if problem:
        raise ValidationError(problem)


def _endpoint(session: sa.orm.Session, shop_id: int, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.scalar(sa.select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.shop_id == shop_id))
    if endpoint is None:
        raise ApiError(404, {"endpoint": [f"no webhook endpoint {endpoint_id} in this shop"]})
    return endpoint


def _delivery(session: sa.orm.Session, shop_id: int, delivery_id: int) -> WebhookDelivery:
    delivery = session.scalar(sa.select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.shop_id == shop_id,
    ).options(joinedload(WebhookDelivery.event), selectinload(WebhookDelivery.attempt_log)))
    if delivery is None:
        raise ApiError(404, {"delivery": [f"no webhook delivery {delivery_id} in this shop"]})
    return delivery


@bp.post("/webhook-endpoints")
@bp.arguments(EndpointBody)
@idempotent
@bp.response(201, NewEndpointSchema)
def create_endpoint(body: dict[str, Any]):  # noqa: ANN201
    with rt().db.transaction() as session:
        endpoint, secret = endpoints.create_endpoint(
            session, rt().secrets, request_shop(session), body["url"], body["events"], body["description"],
            body["enabled"])
        return {**{name: getattr(endpoint, name) for name in EndpointSchema().fields}, "secret": secret}


@bp.get("/webhook-endpoints")
@bp.arguments(EndpointListArgs, location="query")
@bp.response(200, page_schema(EndpointSchema))
def list_endpoints(args: dict[str, Any]):  # noqa: ANN201
    with rt().db.session() as session:
        shop = request_shop(session)
        query = sa.select(WebhookEndpoint).where(WebhookEndpoint.shop_id == shop.id)
        if args.get("enabled") is not None:
            query = query.where(WebhookEndpoint.enabled.is_(args["enabled"]))
        return paginate(session, query, WebhookEndpoint.id, args)


@bp.get("/webhook-endpoints/<id:endpoint_id>")
@bp.arguments(ShopQuery, location="query")
@bp.response(200, EndpointSchema)
def show_endpoint(_args: dict[str, Any], endpoint_id: int):  # noqa: ANN201
    with rt().db.session() as session:
        return _endpoint(session, request_shop(session).id, endpoint_id)


@bp.patch("/webhook-endpoints/<id:endpoint_id>")
@bp.arguments(EndpointChange)
@bp.response(200, EndpointSchema)
def change_endpoint(body: dict[str, Any], endpoint_id: int):  # noqa: ANN201
    """Change the URL, the events, the description, or turn it off and on (the secret stays)."""
    with rt().db.transaction() as session:
        endpoint = _endpoint(session, request_shop(session).id, endpoint_id)
        for name in ("url", "description", "enabled"):
            if name in body:
                setattr(endpoint, name, body[name])
        if "events" in body:
            endpoint.events = sorted(set(body["events"]))
        endpoint.updated_at = utcnow()
        return endpoint


@bp.delete("/webhook-endpoints/<id:endpoint_id>")
@bp.arguments(ShopQuery, location="query")
@bp.response(204)
def delete_endpoint(_args: dict[str, Any], endpoint_id: int):  # noqa: ANN201
    """Delete the endpoint with its deliveries and their log."""
    with rt().db.transaction() as session:
        session.delete(_endpoint(session, request_shop(session).id, endpoint_id))


@bp.get("/webhook-deliveries")
@bp.arguments(DeliveryListArgs, location="query")
@bp.response(200, page_schema(DeliverySchema))
def list_deliveries(args: dict[str, Any]):  # noqa: ANN201
    with rt().db.session() as session:
        shop = request_shop(session)
        query = sa.select(WebhookDelivery).where(WebhookDelivery.shop_id == shop.id).options(
            joinedload(WebhookDelivery.event))
        if args.get("endpoint_id"):
            query = query.where(WebhookDelivery.endpoint_id == args["endpoint_id"])
        if args.get("status"):
            query = query.where(WebhookDelivery.status == args["status"])
        if args.get("event_type"):
            query = query.where(WebhookDelivery.event_id.in_(
                sa.select(WebhookEvent.id).where(WebhookEvent.shop_id == shop.id,
                                                 WebhookEvent.type == args["event_type"])))
        return paginate(session, query, WebhookDelivery.id, args)


@bp.get("/webhook-deliveries/<id:delivery_id>")
@bp.arguments(ShopQuery, location="query")
@bp.response(200, DeliveryDetailSchema)
def show_delivery(_args: dict[str, Any], delivery_id: int):  # noqa: ANN201
    """The delivery, the event it carries and every attempt: status code, duration, next try."""
    with rt().db.session() as session:
        return _delivery(session, request_shop(session).id, delivery_id)


@bp.post("/webhook-deliveries/<id:delivery_id>/replay")
@bp.arguments(ShopBody, required=False)
@idempotent
@bp.response(202, DeliverySchema)
def replay_delivery(_body: dict[str, Any], delivery_id: int):  # noqa: ANN201
    """Send the delivery's event to its endpoint again, now, as a new delivery."""
    with rt().db.transaction() as session:
        delivery = _delivery(session, request_shop(session).id, delivery_id)
        again = webhooks.replay(session, delivery, utcnow())
        again.event = delivery.event
    rt().signal("webhooks")
    return again
