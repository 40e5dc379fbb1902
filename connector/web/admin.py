"""Admin UI shell: sign in, choose a shop, the home page with links to each section."""

from __future__ import annotations

import hmac

import sqlalchemy as sa
from flask import Blueprint, g, redirect, render_template, request, session, url_for

from automations.models import Message, Shop
from connector.web import limits, rt
from connector.web.admin_auth import admin_required

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Sections other modules add: (endpoint, label). Kept in one place so the menu stays in step.
SECTIONS: list[tuple[str, str]] = []


def add_section(endpoint: str, label: str) -> None:
    if (endpoint, label) not in SECTIONS:
        SECTIONS.append((endpoint, label))


@bp.app_context_processor
def _menu() -> dict:
    return {"admin_sections": SECTIONS}


@bp.route("/login", methods=["GET", "POST"])
@limits.sign_in
def login():
    error = None
    with rt().db.session() as db_session:
        shops = db_session.scalars(sa.select(Shop).where(Shop.status == "active").order_by(Shop.domain)).all()
    if request.method == "POST":
        token = rt().config.api_token
        given = request.form.get("token", "")
        domain = request.form.get("shop", "")
        if not token or not hmac.compare_digest(given.encode(), token.encode()):
            error = "Wrong token."
        elif domain not in {s.domain for s in shops}:
            error = "Choose an installed shop."
        else:
            session["shop"] = domain
            target = request.args.get("next") or url_for("admin.home")
            return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("admin.home"))
    return render_template("admin_login.html", shops=shops, error=error), 401 if error else 200


@bp.post("/logout")
def logout():
    session.pop("shop", None)
    return redirect(url_for("admin.login"))


@bp.get("")
@admin_required
def home():
    counts = dict(g.db.execute(
        sa.select(Message.status, sa.func.count()).where(Message.shop_id == g.shop.id).group_by(Message.status)
    ).all())
    return render_template("admin_home.html", shop=g.shop, counts=counts)
