"""Automation rules as data: validated with marshmallow, versioned, matched from a per-shop cache.

A rule says which event starts it (`trigger`), for whom (`conditions`), what happens (`steps`:
send a template, wait, branch on a condition), what ends it early (`exit_on`) and whether it is
marketing or transactional. See `RuleSchema` for the format; `save_rule` validates (templates
included), bumps the version and keeps the old one in `RuleVersion`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from automations import templating
from automations.conditions import ConditionField
from automations.events import CART_ABANDONED, EVENT_TYPES
from automations.models import Rule, RuleVersion, Shop, utcnow
from automations.rule_cache import invalidate
from automations.rule_steps import compile_steps, parse_duration

KINDS = ("marketing", "transactional")


class RuleError(ValueError):
    """A rule that cannot be saved; `messages` is keyed by field like marshmallow's errors."""

    def __init__(self, messages: dict[str, Any]) -> None:
        self.messages = messages
        super().__init__(f"invalid rule: {messages}")


class Duration(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            delta = parse_duration(text)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        if delta <= timedelta(0) or delta > timedelta(days=366):
            raise ValidationError("must be more than 0 and at most 366 days")
        return text.strip()


class Texts(fields.Field):
    """A template: one text, or one text per locale ({"fr": "...", "en": "..."})."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, str]:
        texts = {"": value} if isinstance(value, str) else value
        if not isinstance(texts, dict) or not texts:
            raise ValidationError("must be a text or an object of locale -> text")
        errors: dict[str, list[str]] = {}
        result = {}
        for locale, source in texts.items():
            if not isinstance(source, str) or not source.strip():
                errors[locale or "text"] = ["must be a non-empty text"]
                continue
            try:
                templating.validate(source)
            except templating.TemplateError as exc:
                errors[locale or "text"] = [str(exc)]
                continue
            result[str(locale).lower()] = source
        if errors:
            raise ValidationError(errors if not isinstance(value, str) else errors["text"])
        return result


class StepField(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        kind = value.get("type") if isinstance(value, dict) else None
        schema = {"send": SendStepSchema, "wait": WaitStepSchema, "branch": BranchStepSchema}.get(kind)
        if schema is None:
            raise ValidationError({"type": ["must be one of: send, wait, branch"]})
        return schema().load(value)


class SendStepSchema(Schema):
    class Meta:
        unknown = RAISE

    type = fields.Constant("send")
    template = Texts(required=True)
    variables = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    raw = fields.Boolean(load_default=False)  # no link shortening, no sender prefix
    smart = fields.Boolean(load_default=None, allow_none=True)  # smart encoding; None: shop's


class WaitStepSchema(Schema):
    class Meta:
        unknown = RAISE

    type = fields.Constant("wait")
    duration = Duration(required=True)


class BranchStepSchema(Schema):
    class Meta:
        unknown = RAISE

    type = fields.Constant("branch")
    condition = ConditionField(required=True, data_key="if")
    then = fields.List(StepField(), load_default=list)
    otherwise = fields.List(StepField(), load_default=list, data_key="else")


class ExitSchema(Schema):
    class Meta:
        unknown = RAISE

    event = fields.String(required=True, validate=validate.OneOf(sorted(EVENT_TYPES)))
    scope = fields.String(load_default="contact", validate=validate.OneOf(("subject", "contact")))


class RuleSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    key = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z0-9][a-z0-9_-]{0,63}$", error="lower-case letters, digits, - and _ (max 64)"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    description = fields.String(load_default="")
    trigger = fields.String(required=True, validate=validate.OneOf(sorted(EVENT_TYPES)))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    priority = fields.Integer(load_default=100, validate=validate.Range(min=0, max=10_000))
    enabled = fields.Boolean(load_default=True)
    conditions = ConditionField(load_default=lambda: {"all": []})
    steps = fields.List(StepField(), required=True, validate=validate.Length(min=1, max=50))
    exit_on = fields.List(fields.Nested(ExitSchema), load_default=list)
    abandon_after = Duration(load_default=None, allow_none=True)

    @validates_schema(skip_on_field_errors=True)
    def _whole(self, data: dict[str, Any], **kwargs: Any) -> None:
        program = compile_steps(data["steps"])
        if not any(op["op"] == "send" for op in program):
            raise ValidationError("a rule sends at least one message", "steps")
        if data.get("abandon_after") and data["trigger"] != CART_ABANDONED:
            raise ValidationError(f"only for trigger {CART_ABANDONED}", "abandon_after")
        known = set(templating.VARIABLES.get(data["trigger"], templating.VARIABLES[templating.CAMPAIGN]))
        errors: dict[int, Any] = {}
        for index, step in _top_send_steps(data["steps"]):
            for locale, source in step["template"].items():
                unknown = set(templating.unknown_variables(source, templating.CAMPAIGN)) - known
                unknown -= set(step["variables"])
                if unknown:
                    errors.setdefault(index, {}).setdefault("template", {})[locale or "text"] = [
                        f"unknown variable(s) for {data['trigger']}: {', '.join(sorted(unknown))}"]
        if errors:
            raise ValidationError(errors, "steps")


def _top_send_steps(steps: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Send steps with the index of the top-level step holding them (for error keys)."""
    found = []
    for index, step in enumerate(steps):
        stack = [step]
        while stack:
            current = stack.pop()
            if current["type"] == "send":
                found.append((index, current))
            elif current["type"] == "branch":
                stack.extend(current["then"] + current["otherwise"])
    return found


def validate_rule(data: dict[str, Any]) -> dict[str, Any]:
    """The rule as stored (defaults filled in), or RuleError with field-keyed messages."""
    try:
        loaded = RuleSchema().load(data)
    except ValidationError as exc:
        raise RuleError(exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}) from exc
    return to_definition(loaded)


def to_definition(loaded: dict[str, Any]) -> dict[str, Any]:
    """The JSON-able form stored in Rule.definition (branch keys back to `if`/`else`)."""

    def step_out(step: dict[str, Any]) -> dict[str, Any]:
        if step["type"] != "branch":
            out = dict(step)
            if out["type"] == "send" and list(out["template"]) == [""]:
                out["template"] = out["template"][""]
            return out
        return {"type": "branch", "if": step["condition"],
                "then": [step_out(s) for s in step["then"]],
                "else": [step_out(s) for s in step["otherwise"]]}

    return {**loaded, "steps": [step_out(s) for s in loaded["steps"]]}


def save_rule(session: Session, shop: Shop, data: dict[str, Any]) -> Rule:
    """Create or change a shop's rule (by key); a change bumps the version and is kept."""
    definition = validate_rule(data)
    rule = session.scalars(
        sa.select(Rule).where(Rule.shop_id == shop.id, Rule.key == definition["key"])
    ).first()
    if rule is not None and rule.definition == definition:
        return rule
    if rule is None:
        rule = Rule(shop_id=shop.id, key=definition["key"], version=1)
        session.add(rule)
    else:
        rule.version += 1
    rule.name = definition["name"]
    rule.trigger = definition["trigger"]
    rule.kind = definition["kind"]
    rule.priority = definition["priority"]
    rule.enabled = definition["enabled"]
    rule.definition = definition
    rule.updated_at = utcnow()
    session.flush()
    session.add(RuleVersion(rule_id=rule.id, version=rule.version, definition=definition))
    session.flush()
    invalidate(shop.id)
    return rule


def set_enabled(session: Session, shop: Shop, key: str, enabled: bool) -> Rule:
    rule = session.scalars(sa.select(Rule).where(Rule.shop_id == shop.id, Rule.key == key)).one()
    return save_rule(session, shop, {**rule.definition, "enabled": enabled})
