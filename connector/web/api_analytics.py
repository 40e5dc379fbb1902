"""REST API v1: what SMS earned, shop-wide over a period (campaigns and flows apart, each flow,
by day) and per flow (with each step). Orders are attributed before the figures are read."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from connector.services import campaigns as service
from connector.web import rt
from connector.web.api_campaigns import DayFigures, Figures
from connector.web.rest import SHOP_FIELD, ShopQuery, api_blueprint, request_shop

bp = api_blueprint("analytics", "What SMS earned: shop-wide, per flow and flow step, by day")



class PeriodArgs(Schema):
    shop = fields.String(metadata=SHOP_FIELD)
    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=366))


class FlowFigures(Figures):
    rule_id = fields.Integer(required=True)
    key = fields.String(required=True)
    name = fields.String(required=True)


class ShopAnalytics(Figures):
    since = fields.String(required=True, metadata={"format": "date-time"})
    until = fields.String(required=True, metadata={"format": "date-time"})
    campaigns = fields.Nested(Figures, required=True)
    flows = fields.Nested(Figures, required=True)
    per_flow = fields.List(fields.Nested(FlowFigures), required=True)
    by_day = fields.List(fields.Nested(DayFigures), required=True)


class StepFigures(Figures):
    step = fields.Integer(required=True)


class FlowAnalytics(FlowFigures):
    steps = fields.List(fields.Nested(StepFigures), required=True)
    by_day = fields.List(fields.Nested(DayFigures), required=True)


def _domain() -> str:
    with rt().db.session() as session:
        return request_shop(session).domain


@bp.get("/analytics")
@bp.arguments(PeriodArgs, location="query")
@bp.response(200, ShopAnalytics)
def shop_analytics(args: dict[str, Any]):  # noqa: ANN201
    """The last `days` days (messages created in them)."""
    return service.analytics(rt(), _domain(), days=args["days"])


@bp.get("/analytics/flows/<id:rule_id>")
@bp.arguments(ShopQuery, location="query")
@bp.response(200, FlowAnalytics)
def flow_analytics(_args: dict[str, Any], rule_id: int):  # noqa: ANN201
    return service.analytics(rt(), _domain(), rule_id=rule_id)
