"""The demo page: recent events and messages, a button that ships an order, the customer's phone,
and the contact's HubSpot timeline as the sandbox holds it. Registered only by `parlons demo`."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, redirect, render_template, request, url_for

from automations.models import Message, StoreEvent
from automations.scenarios import SCENARIOS, list_scenarios
from connector.web import rt

bp = Blueprint("demo", __name__, url_prefix="/demo")


def _demo():
    return current_app.extensions["parlons_demo"]


@bp.get("")
def index():
    with rt().db.session() as session:
        events = session.scalars(sa.select(StoreEvent).order_by(StoreEvent.id.desc()).limit(15)).all()
        messages = session.scalars(sa.select(Message).order_by(Message.id.desc()).limit(20)).all()
    demo = _demo()
    return render_template("demo.html", events=events, messages=messages, phone=demo.phone(),
                           timeline=demo.timeline(), customer=demo.customer, number=demo.number,
                           scenarios=list_scenarios(), notice=request.args.get("notice"))


@bp.post("/ship")
def ship():
    _demo().ship_order(rt())
    return redirect(url_for("demo.index"))


@bp.post("/reply")
def reply():
    text = (request.form.get("text") or "").strip()
    if text:
        _demo().reply(text)
    return redirect(url_for("demo.index"))


@bp.post("/scenario")
def scenario():
    key = request.form.get("key") or ""
    if key not in SCENARIOS:
        return redirect(url_for("demo.index", notice=f"unknown scenario {key!r}"))
    return redirect(url_for("demo.index", notice=_demo().start_scenario(rt(), key)))
