"""REST API v1: campaigns (list, show, create, replace, delete a draft), their estimate, a test
send, scheduling, pause, resume, cancel and report.

States: draft -> scheduled -> sending -> sent, plus paused and cancelled. Only a draft changes.
Scheduling refuses (400, field-keyed) an empty or unreachable audience, a time in the past and a
variant that does not render. Refusals: 400 field-keyed, 404, 409 (not in a state that allows it).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from marshmallow import INCLUDE, Schema, fields
from sqlalchemy.orm import Session

from automations import campaigns
from automations.models import Campaign
from connector.providers import routes_for
from connector.services import campaigns as service
from connector.web import rt
from connector.web.rest import (
    SHOP_FIELD,
    ApiError,
    PageArgs,
    ShopBody,
    ShopQuery,
    api_blueprint,
    idempotent,
    page_schema,
    paginate,
    read_only,
    request_shop,
)
from integrations.providers import capabilities

bp = api_blueprint("campaigns", "Campaigns to segments: estimate, test, schedule, pause, resume, cancel, report")
_TIME = {"format": "date-time"}
_MONEY = {"description": "decimal amount as a string"}



class CampaignBody(Schema):
    class Meta:
        unknown = INCLUDE

    shop = fields.String(metadata=SHOP_FIELD)
    name = fields.String(required=True, metadata={"example": "Vente flash"})
    audience = fields.Dict(required=True, metadata={"example": {"include": [1], "exclude": [2]}})
    variants = fields.List(fields.Dict(), required=True, metadata={
        "description": 'one to four: {"templates": {"fr": "...", "en": "..."}, "share": 50}'})
    ab = fields.Dict(allow_none=True, metadata={
        "description": '{"mode": "fixed"} or {"mode": "winner", "test_share": 20, "metric": '
                       '"clicks|conversions|revenue", "after_hours": 4}'})
    throttle_hours = fields.Integer(allow_none=True, metadata={"description": "spread the send over N hours"})
    media_url = fields.String(allow_none=True, metadata={"description": "https image (MMS where supported)"})
    discount_code = fields.String(allow_none=True)


class VariantSchema(Schema):
    id = fields.Integer(required=True)
    label = fields.String(required=True)
    templates = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    share = fields.Integer(required=True)


class ProgressSchema(Schema):
    audience = fields.Integer(required=True)
    to_compose = fields.Integer(required=True)
    skipped = fields.Integer(required=True)
    queued = fields.Integer(required=True)
    sent = fields.Integer(required=True)
    delivered = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    suppressed = fields.Integer(required=True)
    cancelled = fields.Integer(required=True)


class CampaignSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": list(campaigns.STATES)})
    audience = fields.Dict(required=True)
    variants = fields.List(fields.Nested(VariantSchema), required=True)
    ab = fields.Dict(allow_none=True)
    throttle_hours = fields.Integer(allow_none=True)
    media_url = fields.String(allow_none=True)
    discount_code = fields.String(allow_none=True)
    schedule = fields.Dict(allow_none=True)
    send_at = fields.String(allow_none=True, metadata=_TIME)
    started_at = fields.String(allow_none=True, metadata=_TIME)
    finished_at = fields.String(allow_none=True, metadata=_TIME)
    ab_result = fields.Dict(allow_none=True, metadata={"description": "winner, lift, z, p_value, significant, test"})
    progress = fields.Nested(ProgressSchema, required=True)
    created_at = fields.String(allow_none=True, metadata=_TIME)


class ScheduleBody(Schema):
    class Meta:
        unknown = INCLUDE

    shop = fields.String(metadata=SHOP_FIELD)
    mode = fields.String(required=True, metadata={"enum": ["now", "at", "local"]})
    at = fields.String(metadata={"description": "mode at: ISO date-time, the shop's time zone when it has no offset"})
    date = fields.String(metadata={"description": "mode local: YYYY-MM-DD"})
    time = fields.String(metadata={"description": "mode local: HH:MM in each recipient's time zone"})


class TestBody(Schema):
    shop = fields.String(metadata=SHOP_FIELD)
    phone = fields.String(required=True, metadata={"example": "+33612345678"})
    variant = fields.String(load_default=None, metadata={"example": "A"})


class TestSchema(Schema):
    message_id = fields.Integer(required=True)
    body = fields.String(required=True)
    segments = fields.Integer(required=True)
    encoding = fields.String(required=True)
    status = fields.String(required=True)


class EstimateSchema(Schema):
    campaign_id = fields.Integer(required=True)
    matching = fields.Integer(required=True)
    reachable = fields.Integer(required=True)
    unreachable = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    variants = fields.List(fields.Dict(), required=True, metadata={
        "description": "label, share, locales: {locale: {body, encoding, segments, characters, non_gsm_characters}}"})
    cost_by_country = fields.List(fields.Dict(), required=True, metadata={"description": "country, recipients, cost"})
    cost = fields.String(required=True, metadata=_MONEY)
    currency = fields.String(required=True)
    last_send_at = fields.String(allow_none=True, metadata=_TIME)


class Figures(Schema):
    sent = fields.Integer(required=True)
    delivered = fields.Integer(required=True)
    delivery_rate = fields.Float(allow_none=True)
    clicks = fields.Integer(required=True)
    unique_clicks = fields.Integer(required=True)
    ctr = fields.Float(allow_none=True)
    replies = fields.Integer(required=True)
    opt_outs = fields.Integer(required=True)
    opt_out_rate = fields.Float(allow_none=True)
    orders = fields.Integer(required=True)
    revenue = fields.String(required=True, metadata=_MONEY)
    cost = fields.String(required=True, metadata=_MONEY)
    revenue_per_message = fields.String(allow_none=True, metadata=_MONEY)
    roi = fields.Float(allow_none=True, metadata={"description": "(revenue - cost) / cost"})


class VariantFigures(Figures):
    variant_id = fields.Integer(required=True)
    label = fields.String(required=True)


class DayFigures(Schema):
    date = fields.String(required=True, metadata={"format": "date"})
    sent = fields.Integer(required=True)
    delivered = fields.Integer(required=True)
    clicks = fields.Integer(required=True)
    orders = fields.Integer(required=True)
    revenue = fields.String(required=True, metadata=_MONEY)


class ReportSchema(Figures):
    campaign_id = fields.Integer(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True)
    variants = fields.List(fields.Nested(VariantFigures), required=True)
    ab_result = fields.Dict(allow_none=True)
    by_day = fields.List(fields.Nested(DayFigures), required=True)


def _domain() -> str:
    with rt().db.session() as session:
        return request_shop(session).domain


def _body(body: dict[str, Any]) -> dict[str, Any]:
    """The campaign without its shop; an image only where the shop's providers send MMS."""
    if body.get("media_url"):
        with rt().db.session() as session:
            _refuse_image_without_mms(session, request_shop(session).id)
    return {k: v for k, v in body.items() if k != "shop"}


def _refuse_image_without_mms(session: Session, shop_id: int) -> None:
    """An image is refused when the shop's provider (or its failover) sends no MMS: no
    recipient could get it."""
    routes = routes_for(session, rt().config, [shop_id])[shop_id]
    for role, route in (("provider", routes.primary), ("failover provider", routes.failover)):
        if route is not None and not capabilities(route.provider).mms:
            raise ApiError(400, {"media_url": [
                f"the shop's {role} {route.provider} sends no MMS: remove the image or choose a "
                "provider that sends MMS"]})


@bp.get("/campaigns")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_schema(CampaignSchema))
def list_campaigns(args: dict[str, Any]):  # noqa: ANN201
    with rt().db.session() as session:
        shop = request_shop(session)
        page, headers = paginate(session, sa.select(Campaign).where(Campaign.shop_id == shop.id), Campaign.id, args)
        page["data"] = [campaigns.to_json(session, row) for row in page["data"]]
        return page, headers


@bp.post("/campaigns")
@bp.arguments(CampaignBody)
@idempotent
@bp.response(201, CampaignSchema)
def create_campaign(body: dict[str, Any]):  # noqa: ANN201
    return service.create_campaign(rt(), _domain(), _body(body))


@bp.get("/campaigns/<id:campaign_id>")
@bp.arguments(ShopQuery, location="query")
@bp.response(200, CampaignSchema)
def show_campaign(_args: dict[str, Any], campaign_id: int):  # noqa: ANN201
    """The campaign and its progress (queued, sent, delivered, failed, suppressed…)."""
    return service.show_campaign(rt(), _domain(), campaign_id)


@bp.put("/campaigns/<id:campaign_id>")
@bp.arguments(CampaignBody)
@bp.response(200, CampaignSchema)
def update_campaign(body: dict[str, Any], campaign_id: int):  # noqa: ANN201
    """Replace a draft."""
    return service.update_campaign(rt(), _domain(), campaign_id, _body(body))


@bp.delete("/campaigns/<id:campaign_id>")
@bp.arguments(ShopQuery, location="query")
@bp.response(204)
def delete_campaign(_args: dict[str, Any], campaign_id: int):  # noqa: ANN201
    service.delete_campaign(rt(), _domain(), campaign_id)


@bp.post("/campaigns/<id:campaign_id>/estimate")
@read_only
@bp.arguments(ShopBody, required=False)
@bp.response(200, EstimateSchema)
def estimate_campaign(_body_: dict[str, Any], campaign_id: int):  # noqa: ANN201
    """Reachable recipients and who is excluded why, each variant as composed, cost by country,
    and when the last message will leave."""
    return service.estimate(rt(), _domain(), campaign_id)


@bp.post("/campaigns/<id:campaign_id>/test")
@bp.arguments(TestBody)
@idempotent
@bp.response(202, TestSchema)
def test_campaign(body: dict[str, Any], campaign_id: int):  # noqa: ANN201
    """Send one variant to one number now (not counted in the campaign's figures)."""
    return service.test_send(rt(), _domain(), campaign_id, body["phone"], body.get("variant"))


@bp.post("/campaigns/<id:campaign_id>/schedule")
@bp.arguments(ScheduleBody)
@idempotent
@bp.response(200, CampaignSchema)
def schedule_campaign(body: dict[str, Any], campaign_id: int):  # noqa: ANN201
    """Schedule a draft; its image is checked again (the shop may have changed provider)."""
    with rt().db.session() as session:
        shop_id = request_shop(session).id
        image = session.scalar(sa.select(Campaign.media_url).where(Campaign.id == campaign_id,
                                                                   Campaign.shop_id == shop_id))
        if image:
            _refuse_image_without_mms(session, shop_id)
    return service.schedule(rt(), _domain(), campaign_id, _body(body))


def _transition(action: str):  # noqa: ANN202
    def view(_body_: dict[str, Any], campaign_id: int):  # noqa: ANN202
        return service.transition(rt(), _domain(), campaign_id, action)

    view.__name__ = f"{action}_campaign"
    view.__doc__ = {
        "pause": "Stop sending; what has not left waits, and nobody gets it twice on resume.",
        "resume": "Go on from where the campaign paused.",
        "cancel": "Stop for good: what has not left is cancelled.",
    }[action]
    return view


for _action in ("pause", "resume", "cancel"):
    bp.post(f"/campaigns/<id:campaign_id>/{_action}")(
        bp.arguments(ShopBody, required=False)(bp.response(200, CampaignSchema)(_transition(_action))))


@bp.get("/campaigns/<id:campaign_id>/report")
@bp.arguments(ShopQuery, location="query")
@bp.response(200, ReportSchema)
def campaign_report(_args: dict[str, Any], campaign_id: int):  # noqa: ANN201
    """Sent, delivered, clicks, CTR, replies, opt-outs, orders and revenue attributed, cost, ROI;
    per variant and by day."""
    return service.report(rt(), _domain(), campaign_id)
