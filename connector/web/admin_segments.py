"""Admin: segments. The list with each one's reachable count; the builder: conditions picked
field by field (all or any of them), with the live count of matching and reachable contacts and
a sample, recounted as the merchant edits. Saved through the same service as the REST API's."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for

from automations import segments as model
from automations.segments import MarketingError
from connector.services import campaigns as service
from connector.web import rt
from connector.web.admin_auth import admin_required
from connector.web.admin_flows import flatten
from connector.web.admin_i18n import translate

bp = Blueprint("admin_segments", __name__, url_prefix="/admin/segments")
SAMPLE = 5


def conditions_from_form(form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """{"all"|"any": [...]} from the rows of the builder; a value that is not of its field's kind
    is an error keyed `rows.<i>.value`."""
    rows, errors = [], {}
    for i, (name, op, raw) in enumerate(zip(form.getlist("field"), form.getlist("op"), form.getlist("value"),
                                            strict=False)):
        if not name:
            continue
        raw = raw.strip()
        value: Any = raw
        if op in ("in", "not_in"):
            value = [v.strip() for v in raw.split(",") if v.strip()]
            if name == "segment":
                value = [int(v) for v in value if v.isdigit()]
        elif name in model.NUMBER_FIELDS or op == "within_days":
            try:
                value = float(raw.replace(",", ".")) if "." in raw or "," in raw else int(raw)
            except ValueError:
                errors[f"rows.{i}.value"] = translate("A number.")
        elif name in model.FLAG_FIELDS:
            value = raw.lower() in ("1", "true", "yes", "oui")
        elif op == "exists":
            value = raw.lower() not in ("0", "false", "no", "non")
        rows.append({"field": name, "op": op, "value": value})
    return {"any" if form.get("match") == "any" else "all": rows}, errors


def _rows(conditions: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    match = "any" if "any" in conditions else "all"
    rows = []
    for c in conditions.get(match, []):
        value = c.get("value")
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else ("" if value is None else str(value))
        rows.append({"field": c.get("field", ""), "op": c.get("op", ""), "value": shown})
    return match, rows


def _page(segment: dict[str, Any] | None, errors: dict[str, str] | None = None, status: int = 200,
          conditions: dict[str, Any] | None = None):
    conditions = conditions if conditions is not None else (segment or {}).get("conditions") or {"all": []}
    match, rows = _rows(conditions)
    others = [s for s in service.list_segments(rt(), g.shop.domain) if not segment or s["id"] != segment["id"]]
    return render_template("admin_segment.html", shop=g.shop, segment=segment, match=match,
                           rows=rows or [{"field": "", "op": "", "value": ""}], errors=errors or {},
                           fields=model.FIELDS, ops=model._OPS, others=others), status


@bp.get("")
@admin_required
def index():
    listed = service.list_segments(rt(), g.shop.domain)
    counts = {s["id"]: service.count_segment(rt(), g.shop.domain, {"segment_id": s["id"]}) for s in listed}
    return render_template("admin_segments.html", shop=g.shop, segments=listed, counts=counts)


@bp.get("/new")
@admin_required
def new():
    return _page(None)


@bp.get("/<int:segment_id>")
@admin_required
def show(segment_id: int):
    try:
        return _page(service.show_segment(rt(), g.shop.domain, segment_id))
    except MarketingError:
        abort(404, description="no such segment in this shop")


@bp.post("/count")
@admin_required
def live_count():
    conditions, errors = conditions_from_form(request.form)
    if errors:
        return jsonify(errors=errors), 400
    try:
        return jsonify(service.count_segment(rt(), g.shop.domain, {"conditions": conditions}, SAMPLE))
    except MarketingError as exc:
        return jsonify(errors=flatten(exc.messages)), exc.status


@bp.post("")
@bp.post("/<int:segment_id>")
@admin_required
def save(segment_id: int | None = None):
    current = None
    if segment_id is not None:
        try:
            current = service.show_segment(rt(), g.shop.domain, segment_id)
        except MarketingError:
            abort(404, description="no such segment in this shop")
    conditions, errors = conditions_from_form(request.form)
    body = {"name": request.form.get("name", "").strip(), "description": request.form.get("description") or None,
            "conditions": conditions}
    if current is None:
        body["key"] = request.form.get("key", "").strip()
    if errors:
        return _page(current, errors, 400, conditions)
    try:
        saved = (service.update_segment(rt(), g.shop.domain, segment_id, body) if current
                 else service.create_segment(rt(), g.shop.domain, body))
    except MarketingError as exc:
        found = flatten(exc.messages)
        shown = {(f"rows.{k.split('.')[2]}.{k.split('.')[-1]}" if k.startswith("conditions.") and
                  k.count(".") >= 3 else k): v for k, v in found.items()}
        return _page(current or {"name": body["name"], "key": body.get("key")}, shown, exc.status, conditions)
    flash(translate("Segment “{name}” saved.", name=saved["name"]))
    return redirect(url_for("admin_segments.show", segment_id=saved["id"]))
