"""Shopify public-app install: OAuth authorization code grant with expiring offline tokens.

`GET /auth/shopify?shop=…` checks the launch (shop domain, HMAC, timestamp) and sends the
merchant to Shopify with our scopes and a single-use `state`; `GET /auth/shopify/callback`
checks shop, HMAC, timestamp and state (in that order, so a forged request cannot burn a state),
trades the code for an expiring offline token and its refresh token, connects the store and
queues its first customer sync. Every refusal answers a clear status and logs one line.
"""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from flask import Blueprint, jsonify, redirect, request, session, url_for

from automations.models import Installation, Shop
from connector.install import connect_shopify
from connector.web import rt
from connector.worker import shopify_sync
from integrations.errors import ApiError, Unauthorized
from integrations.shopify import install as shopify_install

log = logging.getLogger("parlons.auth.shopify")
bp = Blueprint("auth_shopify", __name__, url_prefix="/auth/shopify")


def _refuse(status: int, outcome: str, message: str, shop: str | None = None):
    log.warning("shopify install refused: %s (shop=%s)", outcome, shop or "?")
    return jsonify(error=outcome, message=message), status


def _checked_shop(params: dict[str, str]) -> str | None:
    try:
        return shopify_install.validate_shop_domain(params.get("shop", ""))
    except shopify_install.InstallError:
        return None


def _signed_and_fresh(params: dict[str, str], shop: str):
    """None when the query is signed by Shopify and recent; else the refusal to answer."""
    secret = rt().config.shopify_api_secret
    if not params.get("hmac"):
        return _refuse(401, "missing_hmac", "the request is not signed by Shopify", shop)
    if not shopify_install.verify_query_hmac(params, secret):
        return _refuse(401, "bad_hmac", "the request's signature does not match", shop)
    if not shopify_install.timestamp_fresh(params.get("timestamp"), time.time()):
        return _refuse(401, "stale_request", "the request is too old or from the future", shop)
    return None


def _launched_by_shopify(params: dict[str, str]):  # noqa: ANN202 - (shop, None) or (None, refusal)
    """The shop a request from Shopify names, when the domain is valid and the query signed and
    recent; else the refusal to answer, in that order of checks."""
    shop = _checked_shop(params)
    if shop is None:
        return None, _refuse(400, "bad_shop", "shop must be a bare <name>.myshopify.com domain", params.get("shop"))
    return shop, _signed_and_fresh(params, shop)


@bp.get("")
def start():
    """The app's launch URL: start the install (or open the admin of an installed shop)."""
    runtime = rt()
    config = runtime.config
    if not config.shopify_api_key or not config.shopify_api_secret:
        return _refuse(503, "not_configured", "set PARLONS_SHOPIFY_API_KEY and PARLONS_SHOPIFY_API_SECRET")
    params = request.args.to_dict()
    shop, refusal = _launched_by_shopify(params)
    if refusal is not None:
        return refusal
    if params.get("id_token") and _installed(shop):
        # opened from Shopify admin by a shop that has the app already: its admin, not a new
        # install (the admin checks the session token before showing anything)
        return redirect(url_for("admin.home", id_token=params["id_token"], shop=shop, host=params.get("host")))
    state = shopify_install.issue_state(runtime.redis, shop)
    target = shopify_install.authorize_url(
        shop, config.shopify_api_key, config.shopify_scopes, _callback_url(), state,
        base_url=config.shopify_base_url or None,
    )
    return redirect(target, code=302)


def _installed(shop: str) -> bool:
    """Whether the shop has the app with a token granting every scope we ask for now (when we
    ask for more, the merchant goes through the install again to grant them)."""
    with rt().db.session() as db_session:
        granted = db_session.scalar(
            sa.select(Installation.scopes).join(Shop, Shop.id == Installation.shop_id).where(
                Shop.domain == shop, Shop.status == "active", Installation.provider == "shopify",
                Installation.access_token_enc.is_not(None),
            )
        )
    wanted = {s.strip() for s in rt().config.shopify_scopes.split(",") if s.strip()}
    return granted is not None and wanted <= {s.strip() for s in granted.split(",")}


def _callback_url() -> str:
    return rt().config.public_url.rstrip("/") + "/auth/shopify/callback"


@bp.get("/callback")
def callback():
    runtime = rt()
    config = runtime.config
    params = request.args.to_dict()
    shop, refusal = _launched_by_shopify(params)
    if refusal is not None:
        return refusal
    if not shopify_install.consume_state(runtime.redis, params.get("state"), shop):
        return _refuse(403, "bad_state", "unknown, used or expired state: start the install again", shop)
    if not params.get("code"):
        return _refuse(400, "missing_code", "the callback carries no authorization code", shop)
    try:
        tokens = shopify_install.exchange_code(
            shop, params["code"], config.shopify_api_key, config.shopify_api_secret,
            base_url=config.shopify_base_url or None,
        )
    except Unauthorized:
        return _refuse(400, "code_refused", "Shopify refused the authorization code", shop)
    except ApiError as exc:
        log.warning("shopify token exchange failed for %s: %s", shop, exc)
        return _refuse(502, "shopify_unavailable", "Shopify could not be reached: try again", shop)
    try:
        with runtime.db.transaction() as db_session:
            connect_shopify(
                runtime, db_session, shop, tokens.access_token, scopes=tokens.scope,
                expires_at=tokens.expires_at, refresh_token=tokens.refresh_token,
                refresh_expires_at=tokens.refresh_token_expires_at,
            )
    except ApiError as exc:
        log.warning("shopify install of %s failed: %s", shop, exc)
        return _refuse(502, "install_failed", "Shopify answered an error while installing: try again", shop)
    shopify_sync.enqueue_sync(runtime, shop)
    log.info("shop %s installed through OAuth", shop)
    session["shop"] = shop
    return redirect(url_for("admin.home"), code=302)
