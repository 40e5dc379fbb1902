"""Installing the HubSpot app, and the admin page that says which shop a portal serves.

- `GET /auth/hubspot` sends the merchant to HubSpot's consent screen with our scopes and a
  single-use `state` (naming the shop when an admin is signed in).
- `GET /auth/hubspot/callback` checks the state, trades the code for tokens and learns the
  portal (hub id). With a shop in the state the portal is linked at once; otherwise (an install
  started from HubSpot's marketplace) the tokens wait ten minutes, encrypted, for the merchant
  to choose the shop in the admin. Linking stores the tokens encrypted, creates our contact
  properties and queues a first full sync. A portal may serve several shops; a shop, one portal.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for

from automations.models import Installation, Shop
from connector.install import connect_hubspot
from connector.runtime import Runtime
from connector.web import rt
from connector.web.admin import add_section
from connector.web.admin_auth import admin_required, current_shop
from connector.worker import hubspot_sync
from integrations.errors import ApiError
from integrations.hubspot import install as hubspot_install

log = logging.getLogger("parlons.install.hubspot")
bp = Blueprint("auth_hubspot", __name__)
PENDING_KEY = "parlons:oauth:hubspot:pending:"
PENDING_SECONDS = 600


def redirect_uri(runtime: Runtime) -> str:
    return runtime.config.public_url.rstrip("/") + "/auth/hubspot/callback"


@bp.get("/auth/hubspot")
def start():
    runtime = rt()
    if not runtime.config.hubspot_client_id:
        abort(503, description="the HubSpot app is not configured")
    with runtime.db.session() as db_session:
        shop = current_shop(db_session)
        payload = {"shop": shop.domain} if shop is not None else {}
    state = hubspot_install.issue_state(runtime.redis, payload)
    return redirect(hubspot_install.authorize_url(
        runtime.config.hubspot_client_id, redirect_uri(runtime), hubspot_install.SCOPES, state,
        base_url=runtime.config.hubspot_base_url or None,
    ))


@bp.get("/auth/hubspot/callback")
def callback():
    runtime = rt()
    if request.args.get("error"):
        abort(400, description=f"HubSpot install not approved: {request.args['error']}")
    payload = hubspot_install.consume_state(runtime.redis, request.args.get("state", ""))
    code = request.args.get("code")
    if payload is None or not code:
        log.warning("hubspot install refused: unknown, used or missing state/code")
        abort(400, description="this install link has expired or was already used; start again")
    try:
        tokens = hubspot_install.exchange_code(
            code, runtime.config.hubspot_client_id, runtime.config.hubspot_client_secret, redirect_uri(runtime),
            runtime.config.hubspot_base_url or None)
    except ApiError as error:
        log.warning("hubspot code exchange refused: %s %s", error.status, error.code)
        abort(400 if error.status and error.status < 500 else 502, description="HubSpot refused the install code")
    if payload.get("shop"):
        link(runtime, payload["shop"], tokens)
        return redirect(url_for("auth_hubspot.admin_page", linked=tokens.hub_id))
    pending = secrets.token_urlsafe(18)
    blob = runtime.secrets.encrypt(json.dumps(dataclasses.asdict(tokens)))
    runtime.redis.set(PENDING_KEY + pending, blob, ex=PENDING_SECONDS)
    return redirect(url_for("auth_hubspot.choose", pending=pending))


def link(runtime: Runtime, domain: str, tokens: hubspot_install.TokenSet) -> None:
    """Link the portal of `tokens` to the shop, and queue its first sync."""
    with runtime.db.transaction() as db_session:
        shop = db_session.scalar(sa.select(Shop).where(Shop.domain == domain, Shop.status == "active"))
        if shop is None:
            abort(404, description="no such installed shop")
        connect_hubspot(runtime, db_session, shop, tokens.access_token, hub_id=tokens.hub_id,
                        refresh_token=tokens.refresh_token,
                        expires_at=datetime.fromtimestamp(tokens.expires_at, UTC))
        shop_id = shop.id
    hubspot_sync.enqueue(runtime, shop_id, full=True)


def _choices() -> list[Shop]:
    """Shops this admin may link: any installed shop for an operator signed in with the API
    token, else only the shop the Shopify session names."""
    if session.get("shop"):
        return list(g.db.scalars(sa.select(Shop).where(Shop.status == "active").order_by(Shop.domain)))
    return [g.shop]


@bp.route("/admin/hubspot/choose", methods=["GET", "POST"])
@admin_required
def choose():
    runtime = rt()
    pending = request.values.get("pending", "")
    key = PENDING_KEY + pending
    blob = runtime.redis.get(key) if pending else None
    if blob is None:
        abort(400, description="this HubSpot install has expired; install again from HubSpot")
    tokens = hubspot_install.TokenSet(**json.loads(runtime.secrets.decrypt(blob.decode())))
    choices = _choices()
    if request.method == "POST":
        domain = request.form.get("shop", "")
        if domain not in {s.domain for s in choices}:
            abort(403, description="choose one of your shops")
        if runtime.redis.delete(key) != 1:
            abort(400, description="this HubSpot install was already used")
        link(runtime, domain, tokens)
        return redirect(url_for("auth_hubspot.admin_page", linked=tokens.hub_id))
    return render_template("admin_hubspot.html", shop=g.shop, choosing=tokens.hub_id, pending=pending,
                           choices=choices, installation=None, served=[])


@bp.get("/admin/hubspot")
@admin_required
def admin_page():
    inst = g.db.scalar(sa.select(Installation).where(Installation.shop_id == g.shop.id,
                                                     Installation.provider == "hubspot"))
    served = []
    if inst is not None:
        served = g.db.scalars(sa.select(Shop.domain).join(Installation, Installation.shop_id == Shop.id).where(
            Installation.provider == "hubspot", Installation.external_id == inst.external_id,
            Shop.id != g.shop.id).order_by(Shop.domain)).all()
    return render_template("admin_hubspot.html", shop=g.shop, installation=inst, served=served, choosing=None,
                           linked=request.args.get("linked"))


add_section("auth_hubspot.admin_page", "HubSpot")
