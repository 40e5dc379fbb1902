"""Admin home (`admin.home`, /admin): the dashboard of a period (7, 30 or 90 days) against the
period before it."""

from __future__ import annotations

import json
from datetime import timedelta

from flask import g, render_template, request

from automations.attribution import attribute_orders
from automations.models import utcnow
from connector.web import admin_metrics as metrics
from connector.web.admin_auth import admin_required
from connector.web.admin_i18n import number, translate

PERIODS = (7, 30, 90)


def _money(value: float, currency: str) -> str:
    return f"{number(value, 2)} {currency}"


@admin_required
def home():
    try:
        period = int(request.args.get("days", 30))
    except ValueError:
        period = 30
    period = period if period in PERIODS else 30
    end = utcnow()
    start = end - timedelta(days=period)
    attribute_orders(g.db, g.shop, end)  # orders since the last look, as the reports do
    g.db.commit()
    now = metrics.figures(g.db, g.shop, start, end)
    before = metrics.figures(g.db, g.shop, start - timedelta(days=period), start)
    currency = g.shop.currency or "EUR"
    labels = [d.isoformat() for d in metrics.days(start, end)]
    previous_days = metrics.days(start - timedelta(days=period), start)

    def series(key: str, f: metrics.Figures, on: list) -> list[float]:
        return [f.daily.get(key, {}).get(d, 0) for d in on]

    def card(key: str, label: str, value: float | None, was: float | None, shown: str,
             daily_key: str | None = None, lower_is_better: bool = False) -> dict:
        delta = metrics.change(value, was)
        chart = None
        if daily_key:
            chart = json.dumps({"labels": labels, "datasets": [
                {"label": translate("This period"), "data": series(daily_key, now, metrics.days(start, end))},
                {"label": translate("Previous period"), "data": series(daily_key, before, previous_days)}]})
        good = None if delta is None else (delta < 0) == lower_is_better
        return {"key": key, "label": label, "shown": shown, "delta": delta, "chart": chart, "good": good}

    cards = [
        card("sent", translate("Sent"), now.sent, before.sent, number(now.sent), "sent"),
        card("delivered", translate("Delivered"), now.delivered, before.delivered, number(now.delivered), "delivered"),
        card("clicks", translate("Clicks"), now.clicks, before.clicks, number(now.clicks), "clicks"),
        card("ctr", translate("Click rate"), now.ctr, before.ctr,
             "—" if now.ctr is None else f"{number(now.ctr, 1)} %"),
        card("orders", translate("Orders attributed"), now.orders, before.orders, number(now.orders), "orders"),
        card("revenue", translate("Revenue attributed"), float(now.revenue), float(before.revenue),
             _money(float(now.revenue), currency), "revenue"),
        card("opt_out_rate", translate("Opt-out rate"), now.opt_out_rate, before.opt_out_rate,
             "—" if now.opt_out_rate is None else f"{number(now.opt_out_rate, 1)} %", "opt_outs",
             lower_is_better=True),
        card("cost", translate("Cost"), float(now.cost), float(before.cost), _money(float(now.cost), currency),
             lower_is_better=True),
        card("roi", translate("Return on cost"), now.roi, before.roi,
             "—" if now.roi is None else f"{number(now.roi, 1)} ×"),
        card("conversations", translate("Conversations"), now.conversations, before.conversations,
             number(now.conversations), "conversations"),
        card("handoffs", translate("Handoffs to a human"), now.handoffs, before.handoffs,
             number(now.handoffs), "handoffs"),
    ]
    overview = json.dumps({"type": "bar", "labels": labels, "datasets": [
        {"label": translate("Sent"), "data": series("sent", now, metrics.days(start, end))},
        {"label": translate("Clicks"), "data": series("clicks", now, metrics.days(start, end))}]})
    top = [(name, n, _money(float(revenue), currency)) for name, n, revenue in now.top]
    return render_template("admin_home.html", shop=g.shop, cards=cards, period=period, periods=PERIODS,
                           overview=overview, top=top)
