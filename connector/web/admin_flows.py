"""Admin: flows (the shop's rules). The list with on/off; a flow's page with its steps editable
(texts per language, waits), its whole definition for what the form does not cover (branches,
conditions), a dry run over past events before switching it on, and its results by step.
Changes go through the rules service, like the REST API's: validated, versioned."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from automations.models import FlowRun, Link, LinkClick, Message
from automations.rule_steps import compile_steps
from connector.services import rules as service
from connector.web import rt
from connector.web.admin_auth import admin_required
from connector.web.admin_i18n import translate

bp = Blueprint("admin_flows", __name__, url_prefix="/admin/flows")
DRY_RUN_PERIODS = ("7d", "30d", "90d")
STEP_KEY = re.compile(r":step:(\d+)$")
DELIVERED = ("delivered",)
SENT = ("sent", "delivered", "undelivered", "partially_delivered")


def flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    """{"steps": {"0": {"template": {"fr": ["…"]}}}} -> {"steps.0.template.fr": "…"}."""
    if isinstance(messages, dict):
        out: dict[str, str] = {}
        for key, value in messages.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix: " ".join(messages)}
    return {prefix: str(messages)}


def _rule(rule_id: int) -> dict[str, Any]:
    try:
        return service.show_rule(rt(), rule_id, g.shop.domain)
    except service.RulesError:
        abort(404, description="no such flow in this shop")


@bp.get("")
@admin_required
def index():
    return render_template("admin_flows.html", shop=g.shop, rules=service.list_rules(rt(), g.shop.domain))


@bp.post("/<int:rule_id>/enabled")
@admin_required
def toggle(rule_id: int):
    rule = _rule(rule_id)
    on = request.form.get("enabled") == "1"
    service.set_enabled(rt(), rule_id, g.shop.domain, on)
    flash(translate("“{name}” is on.", name=rule["name"]) if on else translate("“{name}” is off.", name=rule["name"]))
    if request.form.get("back") == "flow":
        return redirect(url_for("admin_flows.show", rule_id=rule_id))
    return redirect(url_for("admin_flows.index"))


def results_by_step(rule_id: int) -> dict[int, dict[str, int]]:
    """Per program step (the `:step:N` of each message's key): messages, sent, delivered, clicked."""
    out: dict[int, dict[str, int]] = defaultdict(Counter)
    rows = g.db.execute(sa.select(Message.id, Message.idempotency_key, Message.status).where(
        Message.rule_id == rule_id, Message.shop_id == g.shop.id, Message.direction == "outbound"))
    step_of: dict[int, int] = {}
    for message_id, key, status in rows:
        found = STEP_KEY.search(key or "")
        if not found:
            continue
        pc = step_of[message_id] = int(found.group(1))
        out[pc]["messages"] += 1
        out[pc]["sent"] += status in SENT
        out[pc]["delivered"] += status in DELIVERED
    clicked = g.db.scalars(sa.select(sa.distinct(Link.message_id)).join(LinkClick, LinkClick.link_id == Link.id)
                           .join(Message, Message.id == Link.message_id).where(Message.rule_id == rule_id))
    for message_id in clicked:
        if message_id in step_of:
            out[step_of[message_id]]["clicked"] += 1
    return out


def send_steps(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps as the page lists them: each with its path in the definition and, for sends, its
    program counter (what results are keyed by)."""
    try:
        program = compile_steps(definition.get("steps", []))
    except (ValueError, KeyError, TypeError, AttributeError):  # a definition being corrected
        program = []
    pcs = {id(op["step"]): pc for pc, op in enumerate(program) if op["op"] == "send"}
    listed: list[dict[str, Any]] = []

    def walk(steps: list[dict[str, Any]], path: str, depth: int) -> None:
        for i, step in enumerate(steps):
            here = f"{path}.{i}" if path else f"steps.{i}"
            listed.append({"path": here, "depth": depth, "step": step, "pc": pcs.get(id(step))})
            if step.get("type") == "branch":
                walk(step.get("then", []), f"{here}.then", depth + 1)
                walk(step.get("else", step.get("otherwise", [])), f"{here}.else", depth + 1)

    walk(definition.get("steps", []), "", 0)
    return listed


def _render(rule: dict[str, Any], errors: dict[str, str] | None = None, report: dict | None = None,
            status: int = 200, definition_text: str | None = None):
    runs = dict(g.db.execute(sa.select(FlowRun.status, sa.func.count()).where(
        FlowRun.rule_id == rule["id"]).group_by(FlowRun.status)).all())
    return render_template(
        "admin_flow.html", shop=g.shop, rule=rule, steps=send_steps(rule["definition"]),
        results=results_by_step(rule["id"]), runs=runs, errors=errors or {}, report=report,
        periods=DRY_RUN_PERIODS, definition_text=definition_text or json.dumps(
            rule["definition"], ensure_ascii=False, indent=2)), status


@bp.get("/<int:rule_id>")
@admin_required
def show(rule_id: int):
    return _render(_rule(rule_id))


def _set(definition: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node: Any = definition
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node[parts[-1]] = value


@bp.post("/<int:rule_id>")
@admin_required
def save(rule_id: int):
    """The steps form: name, each send's texts per language, each wait's duration."""
    rule = _rule(rule_id)
    definition = json.loads(json.dumps(rule["definition"]))
    definition["name"] = request.form.get("name", "").strip()
    for listed in send_steps(rule["definition"]):
        step, path = listed["step"], listed["path"]
        if step.get("type") == "send" and isinstance(step.get("template"), dict):
            for locale in step["template"]:
                _set(definition, f"{path}.template.{locale}", request.form.get(f"{path}.template.{locale}", ""))
        elif step.get("type") == "wait":
            _set(definition, f"{path}.duration", request.form.get(f"{path}.duration", "").strip())
    return _change(rule, definition)


@bp.post("/<int:rule_id>/definition")
@admin_required
def save_definition(rule_id: int):
    rule = _rule(rule_id)
    text = request.form.get("definition", "")
    try:
        definition = json.loads(text)
    except ValueError as exc:
        return _render(rule, {"definition": translate("Not valid JSON: {error}", error=str(exc))}, status=400,
                       definition_text=text)
    if not isinstance(definition, dict):
        return _render(rule, {"definition": translate("The definition is a JSON object.")}, status=400,
                       definition_text=text)
    return _change(rule, definition, text)


def _change(rule: dict[str, Any], definition: dict[str, Any], text: str | None = None):
    try:
        saved = service.update_rule(rt(), rule["id"], g.shop.domain, definition)
    except service.RulesError as exc:
        errors = flatten(exc.messages)
        if text is not None:
            errors = {"definition": "; ".join(f"{k}: {v}" for k, v in errors.items())}
        shown = {**rule, "definition": definition}
        return _render(shown, errors, status=400, definition_text=text)
    flash(translate("Saved: version {n}.", n=saved["version"]))
    return redirect(url_for("admin_flows.show", rule_id=rule["id"]))


@bp.post("/<int:rule_id>/dry-run")
@admin_required
def dry_run(rule_id: int):
    rule = _rule(rule_id)
    since = request.form.get("since", "30d")
    try:
        report = service.simulate(rt(), rule_id, g.shop.domain, {"since": since})
    except service.RulesError as exc:
        return _render(rule, flatten(exc.messages), status=400)
    return _render(rule, report=report)

