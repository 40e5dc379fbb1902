"""REST API v1: rules (list, show, create, replace, enable/disable, versions, simulate).

A rule of another shop is not found. Refusals are `{"error": ..., "messages": {field: [...]}}`
with 400 (invalid), 404 (unknown) or 409 (key taken). The rule itself is validated by
`automations.rules` (errors keyed by field, nested for steps and templates).
"""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, RAISE, Schema, fields, validate

from automations.events import EVENT_TYPES
from automations.rules import KINDS
from connector.services import rules as service
from connector.web import rt
from connector.web.rest import (
    SHOP_FIELD,
    ApiError,
    ShopBody,
    ShopQuery,
    api_blueprint,
    idempotent,
    read_only,
    request_shop,
)
from connector.web.rest.errors import handle_api_error

bp = api_blueprint("rules", "Automation rules: triggers, conditions, steps; versions and simulation")

_ERRORS = {400: "invalid", 404: "not_found", 409: "conflict"}
_TIME = {"format": "date-time"}


@bp.errorhandler(service.RulesError)
def _refused(exc: service.RulesError):  # noqa: ANN202
    return handle_api_error(ApiError(exc.status, exc.messages, error=_ERRORS.get(exc.status, "invalid")))


class RuleBody(Schema):
    """A rule's definition (see the README's "Rules are data")."""

    class Meta:
        unknown = INCLUDE

    shop = fields.String(metadata=SHOP_FIELD)
    key = fields.String(required=True, metadata={"example": "merci-vip"})
    name = fields.String(required=True)
    description = fields.String()
    trigger = fields.String(required=True, validate=validate.OneOf(sorted(EVENT_TYPES)))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    priority = fields.Integer(validate=validate.Range(min=0, max=10_000))
    enabled = fields.Boolean()
    abandon_after = fields.String(allow_none=True, metadata={"example": "1h"})
    conditions = fields.Dict(metadata={"description": '{"all": [...]} | {"any": [...]} | a leaf'})
    steps = fields.List(fields.Dict(), required=True, metadata={"description": "send, wait, branch"})
    exit_on = fields.List(fields.Dict())


class RuleReplaceBody(RuleBody):
    key = fields.String(metadata={"description": "the rule's key, which cannot change"})


class RuleStats(Schema):
    messages = fields.Integer(required=True)
    sent = fields.Integer(required=True)
    clicks = fields.Integer(required=True)
    clicked_messages = fields.Integer(required=True)
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class RuleSchema(Schema):
    id = fields.Integer(required=True)
    shop = fields.String(required=True)
    key = fields.String(required=True)
    name = fields.String(required=True)
    trigger = fields.String(required=True)
    kind = fields.String(required=True)
    priority = fields.Integer(required=True)
    enabled = fields.Boolean(required=True)
    version = fields.Integer(required=True)
    definition = fields.Dict(required=True)
    created_at = fields.String(allow_none=True, metadata=_TIME)
    updated_at = fields.String(allow_none=True, metadata=_TIME)
    stats = fields.Nested(RuleStats)


class RuleListSchema(Schema):
    rules = fields.List(fields.Nested(RuleSchema), required=True)


class VersionSchema(Schema):
    version = fields.Integer(required=True)
    created_at = fields.String(allow_none=True, metadata=_TIME)
    current = fields.Boolean(required=True)
    definition = fields.Dict(required=True)


class VersionListSchema(Schema):
    versions = fields.List(fields.Nested(VersionSchema), required=True)


class SimulateBody(Schema):
    class Meta:
        unknown = RAISE

    shop = fields.String(metadata=SHOP_FIELD)
    since = fields.String(required=True, metadata={"description": "30d, 12h, 2w back from until, or an ISO date"})
    until = fields.String(allow_none=True, metadata={"description": "ISO date or date-time; now by default"})


class SimulationSchema(Schema):
    rule_id = fields.Integer(required=True)
    shop = fields.String(required=True)
    rule = fields.String(required=True)
    since = fields.String(required=True, metadata=_TIME)
    until = fields.String(required=True, metadata=_TIME)
    store_events = fields.Integer(required=True)
    triggers = fields.Integer(required=True)
    matched = fields.Integer(required=True)
    messages = fields.Integer(required=True)
    contacts = fields.Integer(required=True)
    segments = fields.Integer(required=True)
    cost = fields.String(required=True)
    currency = fields.String(allow_none=True)
    by_hour = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    deferred_by_window = fields.Integer(required=True)
    suppressed = fields.Integer(required=True)
    suppressed_reasons = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    exited = fields.Integer(required=True)
    waiting_at_end = fields.Integer(required=True)


def _domain() -> str:
    """The domain of the shop this request may act on (the rules service looks it up again)."""
    with rt().db.session() as session:
        return request_shop(session).domain


@bp.get("/rules")
@bp.arguments(ShopQuery, location="query")
@bp.response(200, RuleListSchema)
def list_rules(_args: dict[str, Any]):  # noqa: ANN201
    return {"rules": service.list_rules(rt(), _domain())}


@bp.post("/rules")
@bp.arguments(RuleBody)
@idempotent
@bp.response(201, RuleSchema)
def create_rule(body: dict[str, Any]):  # noqa: ANN201
    return service.create_rule(rt(), _domain(), body)


@bp.get("/rules/<id:rule_id>")
@bp.arguments(ShopQuery, location="query")
@bp.response(200, RuleSchema)
def show_rule(_args: dict[str, Any], rule_id: int):  # noqa: ANN201
    return service.show_rule(rt(), rule_id, _domain())


@bp.put("/rules/<id:rule_id>")
@bp.arguments(RuleReplaceBody)
@bp.response(200, RuleSchema)
def update_rule(body: dict[str, Any], rule_id: int):  # noqa: ANN201
    """Replace the whole definition; a change bumps the version."""
    return service.update_rule(rt(), rule_id, _domain(), body)


@bp.post("/rules/<id:rule_id>/enable")
@bp.arguments(ShopBody, required=False)
@bp.response(200, RuleSchema)
def enable_rule(_body: dict[str, Any], rule_id: int):  # noqa: ANN201
    return service.set_enabled(rt(), rule_id, _domain(), True)


@bp.post("/rules/<id:rule_id>/disable")
@bp.arguments(ShopBody, required=False)
@bp.response(200, RuleSchema)
def disable_rule(_body: dict[str, Any], rule_id: int):  # noqa: ANN201
    return service.set_enabled(rt(), rule_id, _domain(), False)


@bp.get("/rules/<id:rule_id>/versions")
@bp.arguments(ShopQuery, location="query")
@bp.response(200, VersionListSchema)
def rule_versions(_args: dict[str, Any], rule_id: int):  # noqa: ANN201
    return {"versions": service.versions(rt(), rule_id, _domain())}


@bp.post("/rules/<id:rule_id>/simulate")
@read_only
@bp.arguments(SimulateBody)
@bp.response(200, SimulationSchema)
def simulate_rule(body: dict[str, Any], rule_id: int):  # noqa: ANN201
    """What the rule would have sent over a past period; writes nothing."""
    return service.simulate(rt(), rule_id, _domain(), body)
