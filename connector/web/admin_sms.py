"""Admin: how the shop sends its SMS. Provider and sender (number, short code, alphanumeric
sender or Messaging Service), its messages per second, and a failover route used while the
first provider fails; checked as `parlons sms route` checks it, each error next to its field."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError

from connector.services.sms_routes import current_route, load_route, save_route
from connector.web.admin_auth import admin_required
from connector.web.admin_i18n import translate
from integrations.providers import PROVIDERS
from integrations.sms import SenderKind

bp = Blueprint("admin_sms", __name__, url_prefix="/admin/settings/sms")
KIND_LABELS = {SenderKind.NUMBER: "Phone number", SenderKind.SHORT_CODE: "Short code",
               SenderKind.ALPHANUMERIC: "Alphanumeric sender", SenderKind.MESSAGING_SERVICE: "Messaging Service"}
FIELDS = ("provider", "sender_kind", "sender", "sender_mps", "failover_provider", "failover_sender_kind",
          "failover_sender")


def _page(values: dict[str, Any], errors: dict[str, str], status: int = 200):
    providers = [(name, name.capitalize()) for name in PROVIDERS]
    kinds = [(kind.value, translate(KIND_LABELS[kind])) for kind in SenderKind]
    return render_template("admin_sms.html", v=values, errors=errors, providers=providers, kinds=kinds), status


@bp.get("")
@admin_required
def page():
    route = current_route(g.db, g.shop)
    if route is None:
        values = {"provider": "twilio", "sender_kind": "number", "sender": g.shop.sms_number or ""}
    else:
        values = {name: getattr(route, name) for name in FIELDS}
    return _page({name: "" if values.get(name) is None else values[name] for name in FIELDS}, {})


@bp.post("")
@admin_required
def save():
    typed = {name: request.form.get(name, "").strip() for name in FIELDS}
    try:
        route = load_route(typed)
    except ValidationError as error:
        messages = error.normalized_messages()
        return _page(typed, {k: " ".join(v) if isinstance(v, list) else str(v) for k, v in messages.items()}, 400)
    save_route(g.db, g.shop, route)
    g.db.commit()
    flash(translate("Settings saved."))
    return redirect(url_for("admin_sms.page"))
