"""Admin UI shell: sign in, sign out, and the navigation every admin page shares.

The home page (dashboard) is in admin_home; each section is its own module."""

from __future__ import annotations

import hmac

import sqlalchemy as sa
from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from automations.models import Shop
from connector.web import admin_i18n, admin_security, limits, rt
from connector.web.admin_home import home

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.add_url_rule("", "home", home)
# Every admin form's CSRF token, the security headers and the merchant's language, app-wide.
bp.record_once(lambda state: (admin_security.install(state.app), admin_i18n.install(state.app)))

# The menu: (endpoint, label, icon, group). Sections whose module is not installed are not shown.
NAV: list[tuple[str, str, str, str]] = [
    ("admin.home", "Home", "HomeIcon", "main"),
    ("admin_campaigns.index", "Campaigns", "MegaphoneIcon", "main"),
    ("admin_flows.index", "Flows", "WandIcon", "main"),
    ("admin_segments.index", "Segments", "PersonSegmentIcon", "main"),
    ("admin_contacts.index", "Contacts", "PersonIcon", "main"),
    ("inbox.index", "Inbox", "ChatIcon", "main"),
    ("admin_settings.page", "Settings", "SettingsIcon", "main"),
    ("admin_sync.page", "Sync", "RefreshIcon", "more"),
    ("admin_privacy.exports", "Privacy", "LockIcon", "more"),
    ("auth_hubspot.admin_page", "HubSpot", "ConnectIcon", "more"),
]
# Sections other modules add beyond NAV: (endpoint, label).
SECTIONS: list[tuple[str, str]] = []


def add_section(endpoint: str, label: str) -> None:
    if endpoint not in {n[0] for n in NAV} and (endpoint, label) not in SECTIONS:
        SECTIONS.append((endpoint, label))


@bp.app_context_processor
def _menu() -> dict:
    known = current_app.view_functions
    nav = [n for n in NAV if n[0] in known] + [(e, label, "AppsIcon", "more") for e, label in SECTIONS if e in known]
    config = rt().config
    return {"admin_nav": nav, "embedded_shop": getattr(g, "embedded_shop", None),
            "shopify_api_key": config.shopify_api_key}


def _safe_target(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("admin.home")


@bp.route("/login", methods=["GET", "POST"])
@limits.sign_in
def login():
    errors: dict[str, str] = {}
    with rt().db.session() as db_session:
        shops = db_session.scalars(sa.select(Shop).where(Shop.status == "active").order_by(Shop.domain)).all()
    chosen = request.form.get("shop", "")
    if request.method == "POST":
        token = rt().config.api_token
        given = request.form.get("token", "")
        if chosen not in {s.domain for s in shops}:
            errors["shop"] = "Choose an installed shop."
        if not token or not hmac.compare_digest(given.encode(), token.encode()):
            errors["token"] = "Wrong token."
        if not errors:
            admin_security.new_session(chosen)  # a new session cookie: nothing from before sign-in carries over
            return redirect(_safe_target(request.args.get("next")))
    return render_template(
        "admin_login.html", options=[(s.domain, s.name or s.domain) for s in shops], errors=errors, chosen=chosen), 401 if errors else 200


@bp.post("/logout")
def logout():
    admin_security.new_session()
    return redirect(url_for("admin.login"))

