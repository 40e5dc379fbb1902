"""REST API v1: rules (list, show, create, replace, enable/disable, versions, simulate).

Same bearer token as the rest of the API. Every call names its shop (`?shop=DOMAIN` or "shop"
in the JSON body); a rule of another shop is not found. Refusals are
`{"error": ..., "messages": {field: [...]}}` with 400 (invalid), 404 (unknown) or 409 (key taken).
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request

from connector.services import rules as service
from connector.web import rt
from connector.web.api import _authenticate

bp = Blueprint("api_rules", __name__, url_prefix="/api/v1")
bp.before_request(_authenticate)

_ERRORS = {400: "invalid", 404: "not_found", 409: "conflict"}


@bp.errorhandler(service.RulesError)
def _refused(exc: service.RulesError):
    return jsonify(error=_ERRORS.get(exc.status, "invalid"), messages=exc.messages), exc.status


def _body(required: bool = True) -> dict:
    body = request.get_json(silent=True)
    if body is None and not required and not request.get_data():
        return {}
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object")
    return body


def _shop(body: dict | None = None) -> str | None:
    return request.args.get("shop") or (body or {}).get("shop")


@bp.get("/rules")
def list_rules():
    return jsonify(rules=service.list_rules(rt(), _shop()))


@bp.post("/rules")
def create_rule():
    body = _body()
    return jsonify(service.create_rule(rt(), _shop(body), body)), 201


@bp.get("/rules/<int:rule_id>")
def show_rule(rule_id: int):
    return jsonify(service.show_rule(rt(), rule_id, _shop()))


@bp.put("/rules/<int:rule_id>")
def update_rule(rule_id: int):
    body = _body()
    return jsonify(service.update_rule(rt(), rule_id, _shop(body), body))


@bp.post("/rules/<int:rule_id>/enable")
def enable_rule(rule_id: int):
    return jsonify(service.set_enabled(rt(), rule_id, _shop(_body(required=False)), True))


@bp.post("/rules/<int:rule_id>/disable")
def disable_rule(rule_id: int):
    return jsonify(service.set_enabled(rt(), rule_id, _shop(_body(required=False)), False))


@bp.get("/rules/<int:rule_id>/versions")
def rule_versions(rule_id: int):
    return jsonify(versions=service.versions(rt(), rule_id, _shop()))


@bp.post("/rules/<int:rule_id>/simulate")
def simulate_rule(rule_id: int):
    body = _body()
    return jsonify(service.simulate(rt(), rule_id, _shop(body), body))
