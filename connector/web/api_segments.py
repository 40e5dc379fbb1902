"""REST API v1: segments (list, show, create, replace, delete) and their live count and sample.

A segment is `{"key", "name", "description", "conditions"}`, conditions in the rule condition
language with segment fields (see the README's "Campaigns, segments and attribution"). Every
shop has the built-in segments (engaged, buyers, vip, never-purchased, lapsed,
abandoned-checkout). `POST /segments/count` and `/segments/sample` take a saved segment
(`segment_id`) or a definition not saved yet (`conditions`), for a form that recounts as the
merchant types. Refusals: 400 field-keyed, 404, 409.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from marshmallow import INCLUDE, Schema, fields, validate

from automations import segments
from automations.models import Segment
from connector.services import campaigns as service
from connector.web import rt
from connector.web.rest import (
    SHOP_FIELD,
    ApiError,
    IdField,
    PageArgs,
    ShopQuery,
    api_blueprint,
    idempotent,
    page_schema,
    paginate,
    read_only,
    request_shop,
)

bp = api_blueprint("segments", "Segments of a shop's contacts: saved, versioned, counted live")
_TIME = {"format": "date-time"}



class SegmentBody(Schema):
    class Meta:
        unknown = INCLUDE

    shop = fields.String(metadata=SHOP_FIELD)
    key = fields.String(metadata={"example": "vip-paris", "description": "required on creation; cannot change"})
    name = fields.String(required=True)
    description = fields.String(allow_none=True)
    conditions = fields.Dict(required=True, metadata={
        "description": '{"all": [...]} | {"any": [...]} | {"field": "commerce.total_spent", "op": "gte", "value": 200}'})


class SegmentSchema(Schema):
    id = fields.Integer(required=True)
    key = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(allow_none=True)
    conditions = fields.Dict(required=True, attribute="definition")
    version = fields.Integer(required=True)
    builtin = fields.Boolean(required=True)
    created_at = fields.String(allow_none=True, metadata=_TIME)
    updated_at = fields.String(allow_none=True, metadata=_TIME)


class CountBody(Schema):
    class Meta:
        unknown = INCLUDE

    shop = fields.String(metadata=SHOP_FIELD)
    segment_id = IdField(metadata={"description": "a saved segment"})
    conditions = fields.Dict(metadata={"description": "or a definition not saved yet"})
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=service.SAMPLE_LIMIT),
                           metadata={"description": "sample size (sample only)"})


class Unreachable(Schema):
    redacted = fields.Integer(required=True)
    opted_out = fields.Integer(required=True)
    invalid_phone = fields.Integer(required=True)
    no_consent = fields.Integer(required=True)


class SampleContact(Schema):
    id = fields.Integer(required=True)
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True, metadata={"description": "masked"})
    locale = fields.String(allow_none=True)
    reachable = fields.Boolean(required=True)
    unreachable_reason = fields.String(allow_none=True)


class CountSchema(Schema):
    matching = fields.Integer(required=True)
    reachable = fields.Integer(required=True, metadata={"description": "may receive marketing now"})
    unreachable = fields.Nested(Unreachable, required=True)
    sample = fields.List(fields.Nested(SampleContact))


def _domain() -> str:
    with rt().db.session() as session:
        return request_shop(session).domain


def _body(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "shop"}


@bp.get("/segments")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_schema(SegmentSchema))
def list_segments(args: dict[str, Any]):  # noqa: ANN201
    service.list_segments(rt(), _domain())  # the built-in segments exist from the first look
    with rt().db.session() as session:
        shop = request_shop(session)
        page, headers = paginate(session, sa.select(Segment).where(Segment.shop_id == shop.id), Segment.id, args)
        page["data"] = [_as_row(segments.to_json(row)) for row in page["data"]]
        return page, headers


@bp.post("/segments")
@bp.arguments(SegmentBody)
@idempotent
@bp.response(201, SegmentSchema)
def create_segment(body: dict[str, Any]):  # noqa: ANN201
    return _as_row(service.create_segment(rt(), _domain(), _body(body)))


@bp.get("/segments/<id:segment_id>")
@bp.arguments(ShopQuery, location="query")
@bp.response(200, SegmentSchema)
def show_segment(_args: dict[str, Any], segment_id: int):  # noqa: ANN201
    return _as_row(service.show_segment(rt(), _domain(), segment_id))


@bp.put("/segments/<id:segment_id>")
@bp.arguments(SegmentBody)
@bp.response(200, SegmentSchema)
def update_segment(body: dict[str, Any], segment_id: int):  # noqa: ANN201
    """Replace name, description and conditions; a change of conditions is a new version."""
    return _as_row(service.update_segment(rt(), _domain(), segment_id, _body(body)))


@bp.delete("/segments/<id:segment_id>")
@bp.arguments(ShopQuery, location="query")
@bp.response(204)
def delete_segment(_args: dict[str, Any], segment_id: int):  # noqa: ANN201
    """Refused (409) for a built-in segment, or one a campaign or another segment uses."""
    service.delete_segment(rt(), _domain(), segment_id)


@bp.post("/segments/count")
@read_only
@bp.arguments(CountBody)
@bp.response(200, CountSchema)
def count_segment(body: dict[str, Any]):  # noqa: ANN201
    """How many contacts match, how many are reachable, and why the others are not."""
    return service.count_segment(rt(), _domain(), _count_body(body))


@bp.post("/segments/sample")
@read_only
@bp.arguments(CountBody)
@bp.response(200, CountSchema)
def sample_segment(body: dict[str, Any]):  # noqa: ANN201
    """The count and a few matching contacts (newest first, phones masked)."""
    return service.count_segment(rt(), _domain(), _count_body(body), sample_size=body["limit"])


def _count_body(body: dict[str, Any]) -> dict[str, Any]:
    if not body.get("segment_id") and "conditions" not in body:
        raise ApiError(400, {"conditions": ["give conditions, or the segment_id of a saved segment"]})
    return body


def _as_row(found: dict[str, Any]) -> dict[str, Any]:
    """The service's JSON with `definition` where SegmentSchema reads the conditions from."""
    return {**found, "definition": found["conditions"]}
