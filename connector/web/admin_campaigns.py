"""Admin: campaigns. The list with status and results; the composer (audience from segments with
their reachable counts, the message per language with the live counter that is the server's
preview, an optional B variant for an A/B test, throttle, MMS image, discount code); a campaign's
page with the estimate, a test send, scheduling (now, at a time, or at the recipients' local
time), pause / resume / cancel, progress while it sends and its report after. All through the
same service as the REST API's."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from automations import templating
from automations.segments import MarketingError
from connector.services import campaigns as service
from connector.web import rt
from connector.web.admin_auth import admin_required
from connector.web.admin_flows import flatten
from connector.web.admin_i18n import translate

bp = Blueprint("admin_campaigns", __name__, url_prefix="/admin/campaigns")
LOCALES = ("fr", "en")
VARIANTS = ("A", "B")
ACTIONS = ("pause", "resume", "cancel")


def _campaign(campaign_id: int) -> dict[str, Any]:
    try:
        return service.show_campaign(rt(), g.shop.domain, campaign_id)
    except MarketingError:
        abort(404, description="no such campaign in this shop")


@bp.get("")
@admin_required
def index():
    return render_template("admin_campaigns.html", shop=g.shop, campaigns=service.list_campaigns(rt(), g.shop.domain))


def body_from_form(form: Any) -> dict[str, Any]:
    variants = []
    for label in VARIANTS:
        templates = {loc: form.get(f"{label}.{loc}", "").strip() for loc in LOCALES}
        templates = {k: v for k, v in templates.items() if v}
        if templates or label == "A":
            variants.append({"templates": templates})
    body: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "audience": {"include": [int(i) for i in form.getlist("include") if i.isdigit()],
                     "exclude": [int(i) for i in form.getlist("exclude") if i.isdigit()]},
        "variants": variants,
        "throttle_hours": int(form["throttle_hours"]) if form.get("throttle_hours", "").isdigit() else None,
        "media_url": form.get("media_url", "").strip() or None,
        "discount_code": form.get("discount_code", "").strip() or None,
    }
    if len(variants) > 1:
        body["ab"] = {"mode": form.get("ab_mode", "fixed"), "metric": form.get("ab_metric", "clicks")}
    return body


def _composer(campaign: dict[str, Any] | None, errors: dict[str, str] | None = None, status: int = 200):
    segments = service.list_segments(rt(), g.shop.domain)
    counts = {s["id"]: service.count_segment(rt(), g.shop.domain, {"segment_id": s["id"]})["reachable"]
              for s in segments}
    return render_template("admin_campaign_edit.html", shop=g.shop, campaign=campaign, segments=segments,
                           counts=counts, errors=errors or {}, locales=LOCALES, variants=VARIANTS,
                           variables=templating.VARIABLES[templating.CAMPAIGN]), status


def _form_errors(exc: MarketingError) -> dict[str, str]:
    found = flatten(exc.messages)
    out = {}
    for key, text in found.items():  # variants.1.templates.fr -> B.fr
        parts = key.split(".")
        if parts[0] == "variants" and len(parts) >= 4 and parts[1].isdigit():
            out[f"{VARIANTS[int(parts[1])]}.{parts[3]}"] = text
        elif parts[0] == "variants" and len(parts) >= 2 and parts[1].isdigit():
            out[f"{VARIANTS[int(parts[1])]}.fr"] = text
        else:
            out[parts[1] if parts[0] == "audience" and len(parts) > 1 else parts[0]] = text
    return out


@bp.get("/new")
@admin_required
def new():
    return _composer(None)


@bp.post("")
@admin_required
def create():
    body = body_from_form(request.form)
    try:
        saved = service.create_campaign(rt(), g.shop.domain, body)
    except MarketingError as exc:
        return _composer(None, _form_errors(exc), exc.status)
    flash(translate("Campaign saved as a draft."))
    return redirect(url_for("admin_campaigns.show", campaign_id=saved["id"]))


@bp.get("/<int:campaign_id>/edit")
@admin_required
def edit(campaign_id: int):
    return _composer(_campaign(campaign_id))


@bp.post("/<int:campaign_id>/edit")
@admin_required
def update(campaign_id: int):
    campaign = _campaign(campaign_id)
    try:
        service.update_campaign(rt(), g.shop.domain, campaign_id, body_from_form(request.form))
    except MarketingError as exc:
        return _composer(campaign, _form_errors(exc), exc.status)
    flash(translate("Campaign saved."))
    return redirect(url_for("admin_campaigns.show", campaign_id=campaign_id))


def _page(campaign: dict[str, Any], errors: dict[str, str] | None = None, status: int = 200,
          estimate: dict | None = None, test: dict | None = None):
    report = None
    if campaign["status"] in ("sending", "sent", "paused", "cancelled"):
        report = service.report(rt(), g.shop.domain, campaign["id"])
    return render_template("admin_campaign.html", shop=g.shop, campaign=campaign, report=report,
                           errors=errors or {}, estimate=estimate, test=test), status


@bp.get("/<int:campaign_id>")
@admin_required
def show(campaign_id: int):
    return _page(_campaign(campaign_id))


@bp.post("/<int:campaign_id>/estimate")
@admin_required
def estimate(campaign_id: int):
    campaign = _campaign(campaign_id)
    try:
        return _page(campaign, estimate=service.estimate(rt(), g.shop.domain, campaign_id))
    except MarketingError as exc:
        return _page(campaign, flatten(exc.messages), exc.status)


@bp.post("/<int:campaign_id>/test")
@admin_required
def test_send(campaign_id: int):
    campaign = _campaign(campaign_id)
    phone = request.form.get("phone", "").strip()
    if not phone:
        return _page(campaign, {"phone": translate("Required.")}, 400)
    try:
        sent = service.test_send(rt(), g.shop.domain, campaign_id, phone, request.form.get("variant") or None)
    except MarketingError as exc:
        return _page(campaign, flatten(exc.messages), exc.status)
    return _page(campaign, test=sent)


@bp.post("/<int:campaign_id>/schedule")
@admin_required
def schedule(campaign_id: int):
    campaign = _campaign(campaign_id)
    mode = request.form.get("mode", "now")
    body: dict[str, Any] = {"mode": mode}
    if mode == "at":
        body["at"] = request.form.get("at") or None
    elif mode == "local":
        body["date"], body["time"] = request.form.get("date") or None, request.form.get("time") or None
    try:
        service.schedule(rt(), g.shop.domain, campaign_id, body)
    except MarketingError as exc:
        return _page(campaign, flatten(exc.messages), exc.status)
    flash(translate("Campaign scheduled.") if mode != "now" else translate("Campaign sending: progress below."))
    return redirect(url_for("admin_campaigns.show", campaign_id=campaign_id))


@bp.post("/<int:campaign_id>/<action>")
@admin_required
def transition(campaign_id: int, action: str):
    if action not in ACTIONS:
        abort(404, description="no such action")
    campaign = _campaign(campaign_id)
    try:
        service.transition(rt(), g.shop.domain, campaign_id, action)
    except MarketingError as exc:
        return _page(campaign, flatten(exc.messages), exc.status)
    return redirect(url_for("admin_campaigns.show", campaign_id=campaign_id))
