"""REST API v1 (JSON). Authenticated with `Authorization: Bearer <PARLONS_API_TOKEN>`."""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, jsonify, request

from connector.services.preview import PreviewError, preview
from connector.web import rt

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _authenticate() -> None:
    token = rt().config.api_token
    given = request.headers.get("Authorization", "")
    if not token:
        abort(503, description="the API is disabled: set PARLONS_API_TOKEN to enable it")
    if not given.startswith("Bearer ") or not hmac.compare_digest(given[7:].encode(), token.encode()):
        abort(401, description="missing or wrong API token")


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object")
    return body


@bp.post("/messages/preview")
def messages_preview():
    try:
        return jsonify(preview(rt(), _json_body()))
    except PreviewError as exc:
        return jsonify(error="invalid", messages=exc.messages), 400
