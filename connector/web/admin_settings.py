"""Admin: the shop's settings. SMS provider and sender, send window, marketing caps, opt-out
footers, HELP answer, smart encoding, handoff pause, attribution windows. Checked exactly as
`PATCH /api/v1/shop/settings` checks them (the law's windows, caps…); a refusal shows next to its
field and keeps what was typed."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from automations.attribution import windows as attribution_windows
from automations.policy import DAY_NAMES, ShopPolicy
from automations.shops import policy_for
from connector.web import rt
from connector.web.admin_auth import admin_required
from connector.web.admin_i18n import translate
from connector.web.api_shops import validated
from connector.web.rest import ApiError

bp = Blueprint("admin_settings", __name__, url_prefix="/admin/settings")
LOCALES = ("fr", "en")
INTEGERS = {"marketing_cap_24h": (0, 50), "marketing_cap_7d": (0, 100), "attribution_click_days": (1, 30),
            "attribution_receipt_days": (0, 30)}
# A setting refused by the policy -> the form field that shows the error.
FIELD_OF = {"default_window": "window_start", "opt_out_footers": "footer_fr"}


def _values(shop_settings: dict[str, Any]) -> dict[str, Any]:
    policy = policy_for(g.shop)
    click, receipt = (round(w.total_seconds() / 86400) for w in attribution_windows(g.shop))
    footers = policy.footer_texts()
    window = policy.default_window.to_settings()
    return {
        "sender_name": shop_settings.get("sender_name", ""), "sms_number": g.shop.sms_number or "",
        "window_start": window["start"], "window_end": window["end"], "window_days": window["days"],
        "marketing_cap_24h": policy.marketing_cap_24h, "marketing_cap_7d": policy.marketing_cap_7d,
        **{f"footer_{loc}": footers.get(loc, "") for loc in LOCALES},
        "help_text": shop_settings.get("help_text", ""), "smart_encoding": policy.smart_encoding,
        "handoff_pause_hours": shop_settings.get("handoff_pause_hours", 24),
        "attribution_click_days": click, "attribution_receipt_days": receipt,
    }


def _page(values: dict[str, Any], errors: dict[str, str], status: int = 200):
    config = rt().config
    provider = {"name": "Twilio" if config.twilio_account_sid else None,
                "from": config.twilio_from, "service": config.twilio_messaging_service_sid}
    return render_template("admin_settings.html", shop=g.shop, v=values, errors=errors, days=DAY_NAMES,
                           locales=LOCALES, provider=provider), status


@bp.get("")
@admin_required
def page():
    return _page(_values(g.shop.settings or {}), {})


def _from_form(errors: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what was typed, the settings changes) from the form; type errors go to `errors`."""
    form = request.form
    typed: dict[str, Any] = {k: form.get(k, "").strip() for k in (
        "sender_name", "sms_number", "window_start", "window_end", "help_text", "handoff_pause_hours",
        *INTEGERS, *(f"footer_{loc}" for loc in LOCALES))}
    typed["window_days"] = form.getlist("window_days")
    typed["smart_encoding"] = form.get("smart_encoding") == "1"
    changes: dict[str, Any] = {"sender_name": typed["sender_name"] or None,
                               "help_text": typed["help_text"] or None, "smart_encoding": typed["smart_encoding"]}
    for name, (low, high) in INTEGERS.items():
        text = typed[name]
        if name.startswith("marketing_cap") and text == "":
            changes[name] = None  # no cap
            continue
        if not text.isdigit() or not low <= int(text) <= high:
            errors[name] = translate("A whole number from {low} to {high}.", low=low, high=high)
        else:
            changes[name] = int(text)
    try:
        hours = float(typed["handoff_pause_hours"].replace(",", "."))
        if not 0 <= hours <= 720:
            raise ValueError
        changes["handoff_pause_hours"] = hours
    except ValueError:
        errors["handoff_pause_hours"] = translate("A number of hours from 0 to 720.")
    if not typed["window_days"]:
        errors["window_days"] = translate("Choose at least one day.")
    changes["default_window"] = {"start": typed["window_start"], "end": typed["window_end"],
                                 "days": typed["window_days"], "no_public_holidays": True}
    defaults = ShopPolicy().footer_texts()
    changes["opt_out_footers"] = {loc: typed[f"footer_{loc}"] for loc in LOCALES
                                  if typed[f"footer_{loc}"] and typed[f"footer_{loc}"] != defaults.get(loc)} or None
    return typed, changes


@bp.post("")
@admin_required
def save():
    errors: dict[str, str] = {}
    typed, changes = _from_form(errors)
    number = typed["sms_number"]
    if number and not (number.startswith("+") and number[1:].isdigit() and 8 <= len(number) <= 16):
        errors["sms_number"] = translate("An international number: + then 7 to 15 digits.")
    try:  # the policy's checks run even when a field above is wrong: every error shows at once
        settings = validated(g.shop.settings or {}, changes)
    except ApiError as exc:
        for key, messages in (exc.messages or {}).items():
            errors.setdefault(FIELD_OF.get(key, key),
                              " ".join(messages) if isinstance(messages, list) else str(messages))
    if errors:
        return _page(typed, errors, 400)
    g.shop.settings = settings
    g.shop.sms_number = number or None
    g.db.commit()
    flash(translate("Settings saved."))
    return redirect(url_for("admin_settings.page"))
