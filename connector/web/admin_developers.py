"""Admin settings for developers: the shop's API keys (created with their secret shown once,
revoked at once) and outgoing webhooks (endpoints with their signing secret shown once, the
delivery log with each attempt, replay). The same services as the REST API's."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy.orm import joinedload, selectinload

from automations import webhooks
from automations.models import WebhookDelivery, WebhookEndpoint, utcnow
from connector.services import api_keys as keys
from connector.services import webhook_endpoints as endpoints
from connector.web import rt
from connector.web.admin_auth import admin_required
from connector.web.admin_i18n import translate

bp = Blueprint("admin_developers", __name__, url_prefix="/admin/settings")
LOG_SIZE = 50


def _keys_page(errors: dict[str, str] | None = None, created: keys.NewKey | None = None, status: int = 200):
    return render_template("admin_keys.html", shop=g.shop, keys=keys.list_keys(g.db, g.shop), errors=errors or {},
                           created=created, scopes=keys.SCOPES), status


@bp.get("/api-keys")
@admin_required
def keys_page():
    return _keys_page()


@bp.post("/api-keys")
@admin_required
def create_key():
    try:
        created = keys.create_key(g.db, g.shop, request.form.get("name", ""), request.form.get("scope", ""),
                                  "merchant (admin)")
    except keys.ApiKeyError as exc:
        g.db.rollback()
        return _keys_page({k: translate(" ".join(v)) for k, v in exc.messages.items()}, status=400)
    g.db.commit()
    return _keys_page(created=created)  # the secret is shown this once, never stored in clear


@bp.post("/api-keys/<int:key_id>/revoke")
@admin_required
def revoke_key(key_id: int):
    try:
        key = keys.revoke_key(g.db, g.shop, key_id)
    except keys.ApiKeyError:
        abort(404, description="no such API key in this shop")
    g.db.commit()
    flash(translate("Key “{name}” revoked: it no longer opens anything.", name=key.name))
    return redirect(url_for("admin_developers.keys_page"))


def _webhooks_page(errors: dict[str, str] | None = None, secret: str | None = None, status: int = 200):
    listed = g.db.scalars(sa.select(WebhookEndpoint).where(WebhookEndpoint.shop_id == g.shop.id)
                          .order_by(WebhookEndpoint.id)).all()
    log = g.db.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.shop_id == g.shop.id)
                       .options(joinedload(WebhookDelivery.event), selectinload(WebhookDelivery.attempt_log))
                       .order_by(WebhookDelivery.id.desc()).limit(LOG_SIZE)).all()
    return render_template("admin_webhooks.html", shop=g.shop, endpoints=listed, deliveries=log,
                           errors=errors or {}, secret=secret, event_types=webhooks.EVENT_TYPES,
                           form=request.form if errors else {}), status


@bp.get("/webhooks")
@admin_required
def webhooks_page():
    return _webhooks_page()


@bp.post("/webhooks")
@admin_required
def create_endpoint():
    url = request.form.get("url", "").strip()
    events = request.form.getlist("events")
    errors: dict[str, str] = {}
    problem = endpoints.url_problem(url, rt().config.webhooks_allow_private) if url else translate("Required.")
    if problem:
        errors["url"] = problem
    if not events:
        errors["events"] = translate("Choose at least one event.")
    if errors:
        return _webhooks_page(errors, status=400)
    try:
        endpoint, secret = endpoints.create_endpoint(g.db, rt().secrets, g.shop, url, events,
                                                     request.form.get("description", "").strip()[:255])
    except ValueError as exc:
        g.db.rollback()
        return _webhooks_page({"events": str(exc)}, status=400)
    g.db.commit()
    return _webhooks_page(secret=secret)


@bp.post("/webhooks/<int:endpoint_id>/delete")
@admin_required
def delete_endpoint(endpoint_id: int):
    endpoint = g.db.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.shop_id != g.shop.id:
        abort(404, description="no such webhook endpoint in this shop")
    g.db.delete(endpoint)
    g.db.commit()
    flash(translate("Endpoint deleted with its deliveries."))
    return redirect(url_for("admin_developers.webhooks_page"))


@bp.post("/webhooks/deliveries/<int:delivery_id>/replay")
@admin_required
def replay(delivery_id: int):
    delivery = g.db.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.shop_id != g.shop.id:
        abort(404, description="no such webhook delivery in this shop")
    webhooks.replay(g.db, delivery, utcnow())
    g.db.commit()
    rt().signal("webhooks")
    flash(translate("Delivery {id} queued again: it leaves now.", id=delivery_id))
    return redirect(url_for("admin_developers.webhooks_page"))
