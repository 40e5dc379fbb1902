"""The admin's live SMS counter: characters, segments, encoding and cost of a text as it would
leave, from the same function as `POST /api/v1/messages/preview`, so both always agree."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from connector.services.preview import PreviewError, preview
from connector.web import rt
from connector.web.admin_auth import admin_required

bp = Blueprint("admin_preview", __name__, url_prefix="/admin")


@bp.post("/preview")
@admin_required
def counter():
    params = {"text": request.form.get("text", ""), "shop": g.shop.domain,
              "marketing": request.form.get("marketing", "1") == "1"}
    try:
        return jsonify(preview(rt(), params))
    except PreviewError as exc:
        return jsonify(errors=exc.messages), 400
