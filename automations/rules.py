"""Automation rules as data: validated with marshmallow, versioned, matched from a per-shop cache.

A rule says which event starts it (`trigger`), for whom (`conditions`), what happens (`steps`:
send a template, wait, branch on a condition), what ends it early (`exit_on`) and whether it is
marketing or transactional. See `RuleSchema` for the format; `save_rule` validates (templates
included), bumps the version and keeps the old one in `RuleVersion`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from automations import templating
from automations.events import CART_ABANDONED, EVENT_TYPES
from automations.models import Rule, RuleVersion, Shop, utcnow

OPERATORS = ("eq", "neq", "in", "not_in", "contains", "gt", "gte", "lt", "lte", "exists", "within_days")
KINDS = ("marketing", "transactional")
DEFAULT_ABANDON_AFTER = "1h"
_DURATION = re.compile(r"^\s*(?:(\d+)\s*w)?\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")
_FIELD = re.compile(r"^(event|contact)(\.[A-Za-z0-9_]+)+$")


class RuleError(ValueError):
    """A rule that cannot be saved; `messages` is keyed by field like marshmallow's errors."""

    def __init__(self, messages: dict[str, Any]) -> None:
        self.messages = messages
        super().__init__(f"invalid rule: {messages}")


def parse_duration(text: str) -> timedelta:
    """'90m', '1h', '24h', '3d', '1d12h', '2w' -> timedelta; ValueError otherwise."""
    match = _DURATION.match(str(text)) if text else None
    if not match or not any(match.groups()):
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 1h, 3d, 1d12h, 2w)")
    weeks, days, hours, minutes = (int(g or 0) for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)


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


class ConditionField(fields.Field):
    """`{"all": [...]}`, `{"any": [...]}` or `{"field": "event.x", "op": "eq", "value": 1}`."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValidationError("must be an object")
        groups = [k for k in ("all", "any") if k in value]
        if groups:
            if len(value) != 1:
                raise ValidationError("a group has exactly one key: all or any")
            items = value[groups[0]]
            if not isinstance(items, list):
                raise ValidationError({groups[0]: ["must be a list of conditions"]})
            result, errors = [], {}
            for index, item in enumerate(items):
                try:
                    result.append(self._deserialize(item, attr, data))
                except ValidationError as exc:
                    errors[index] = exc.messages
            if errors:
                raise ValidationError({groups[0]: errors})
            return {groups[0]: result}
        return LeafSchema().load(value)


class LeafSchema(Schema):
    class Meta:
        unknown = RAISE

    field = fields.String(required=True, validate=validate.Regexp(
        _FIELD, error="must be event.<name> or contact.<name>"))
    op = fields.String(required=True, validate=validate.OneOf(OPERATORS))
    value = fields.Raw(load_default=None, allow_none=True)

    @validates_schema
    def _value_fits(self, data: dict[str, Any], **kwargs: Any) -> None:
        op, value = data["op"], data.get("value")
        if op in ("in", "not_in") and not isinstance(value, list):
            raise ValidationError("must be a list", "value")
        if op in ("gt", "gte", "lt", "lte") and not isinstance(value, int | float | str):
            raise ValidationError("must be a number or a date", "value")
        if op == "within_days" and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
            raise ValidationError("must be a positive number of days", "value")
        if op == "exists" and value is not None and not isinstance(value, bool):
            raise ValidationError("must be true or false", "value")
        if op in ("eq", "neq", "contains") and value is None:
            raise ValidationError("is required", "value")


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


# --- Steps as a program -------------------------------------------------------------------


def compile_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flatten steps into ops: send, wait (seconds), branch (jump to `else` when false), jump."""
    program: list[dict[str, Any]] = []

    def emit(items: list[dict[str, Any]]) -> None:
        for step in items:
            if step["type"] == "send":
                program.append({"op": "send", "step": step})
            elif step["type"] == "wait":
                program.append({"op": "wait", "seconds": parse_duration(step["duration"]).total_seconds()})
            else:
                branch = {"op": "branch", "if": step.get("if", step.get("condition")), "else": 0}
                program.append(branch)
                emit(step.get("then", []))
                jump = {"op": "jump", "to": 0}
                program.append(jump)
                branch["else"] = len(program)
                emit(step.get("else", step.get("otherwise", [])))
                jump["to"] = len(program)

    emit(steps)
    return program


# --- Conditions -----------------------------------------------------------------------------


def evaluate(condition: dict[str, Any] | None, context: dict[str, Any], now: datetime) -> bool:
    """Whether a condition holds for {"event": {...}, "contact": {...}}."""
    if not condition:
        return True
    if "all" in condition:
        return all(evaluate(c, context, now) for c in condition["all"])
    if "any" in condition:
        return any(evaluate(c, context, now) for c in condition["any"]) if condition["any"] else True
    return _leaf(condition, _resolve(context, condition["field"]), now)


def _resolve(context: dict[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def _leaf(cond: dict[str, Any], actual: Any, now: datetime) -> bool:
    op, expected = cond["op"], cond.get("value")
    missing = actual is None or actual == "" or actual == []
    if op == "exists":
        return (not missing) if expected is None or expected else missing
    if op in ("neq", "not_in") and missing:
        return True
    if missing:
        return False
    if op in ("eq", "neq"):
        return _equal(actual, expected) == (op == "eq")
    if op in ("in", "not_in"):
        values = actual if isinstance(actual, list) else [actual]
        found = any(_equal(v, e) for v in values for e in expected)
        return found == (op == "in")
    if op == "contains":
        if isinstance(actual, list):
            return any(_equal(v, expected) for v in actual)
        return _fold(expected) in _fold(actual)
    if op == "within_days":
        moment = _as_datetime(actual)
        return moment is not None and abs(now - moment) <= timedelta(days=float(expected))
    return _compare(op, actual, expected)


def _fold(value: Any) -> str:
    return str(value).casefold()


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual == expected
    left, right = _number(actual), _number(expected)
    if left is not None and right is not None:
        return left == right
    return _fold(actual) == _fold(expected)


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def _compare(op: str, actual: Any, expected: Any) -> bool:
    left, right = _number(actual), _number(expected)
    if left is None or right is None:
        left, right = _as_datetime(actual), _as_datetime(expected)
        if left is None or right is None:
            return False
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]


# --- Per-shop cache of enabled rules, by trigger --------------------------------------------


@dataclass(frozen=True)
class RuleSnapshot:
    id: int
    key: str
    trigger: str
    kind: str
    priority: int
    version: int
    definition: dict[str, Any]
    program: tuple[dict[str, Any], ...]

    @property
    def marketing(self) -> bool:
        return self.kind == "marketing"


@dataclass(frozen=True)
class _ShopRules:
    by_trigger: dict[str, list[RuleSnapshot]]
    exit_events: frozenset[str]  # event types some rule of the shop (enabled or not) exits on


_cache: dict[int, tuple[tuple[Any, ...], _ShopRules]] = {}
_lock = threading.Lock()
_HELD = "parlons.rules.held"


def snapshot(rule: Rule, definition: dict[str, Any] | None = None, version: int | None = None) -> RuleSnapshot:
    definition = definition if definition is not None else rule.definition
    return RuleSnapshot(
        id=rule.id, key=rule.key, trigger=definition["trigger"], kind=definition["kind"],
        priority=definition.get("priority", 100), version=version or rule.version,
        definition=definition, program=tuple(compile_steps(definition["steps"])),
    )


def hold(session: Session) -> None:
    """Read each shop's rules once for the rest of this session: for a caller that changes no
    rule in it (a batch of store events), instead of one stamp query per event."""
    session.info[_HELD] = {}


def _shop_rules(session: Session, shop_id: int) -> _ShopRules:
    held = session.info.get(_HELD)
    if held is not None and shop_id in held:
        return held[shop_id]
    stamp = tuple(session.execute(
        sa.select(sa.func.count(Rule.id), sa.func.max(Rule.id), sa.func.max(Rule.updated_at),
                  sa.func.sum(Rule.version))
        .where(Rule.shop_id == shop_id)
    ).one())
    cached = _cache.get(shop_id)
    if cached is None or cached[0] != stamp:
        index: dict[str, list[RuleSnapshot]] = {}
        exits: set[str] = set()
        for rule in session.scalars(sa.select(Rule).where(Rule.shop_id == shop_id).order_by(Rule.priority, Rule.id)):
            exits.update(exit_on["event"] for exit_on in (rule.definition or {}).get("exit_on", []))
            if rule.enabled:
                index.setdefault(rule.trigger, []).append(snapshot(rule))
        cached = (stamp, _ShopRules(index, frozenset(exits)))
        with _lock:
            _cache[shop_id] = cached
    if held is not None:
        held[shop_id] = cached[1]
    return cached[1]


def enabled_rules(session: Session, shop_id: int) -> dict[str, list[RuleSnapshot]]:
    """The shop's enabled rules by trigger, in priority order; one stamp query when cached."""
    return _shop_rules(session, shop_id).by_trigger


def exit_events(session: Session, shop_id: int) -> frozenset[str]:
    """The event types that can end a flow run of this shop (any rule's `exit_on`)."""
    return _shop_rules(session, shop_id).exit_events


def rules_for(session: Session, shop_id: int, trigger: str) -> list[RuleSnapshot]:
    return enabled_rules(session, shop_id).get(trigger, [])


def invalidate(shop_id: int) -> None:
    with _lock:
        _cache.pop(shop_id, None)


def abandon_after(session: Session, shop_id: int) -> timedelta:
    """How long a checkout waits for its order before it counts as abandoned."""
    delays = [abandon_after_of(r.definition) for r in rules_for(session, shop_id, CART_ABANDONED)]
    return min(delays) if delays else parse_duration(DEFAULT_ABANDON_AFTER)


def abandon_after_of(definition: dict[str, Any]) -> timedelta:
    return parse_duration(definition.get("abandon_after") or DEFAULT_ABANDON_AFTER)


def version_definition(session: Session, rule_id: int, version: int) -> dict[str, Any] | None:
    return session.scalar(
        sa.select(RuleVersion.definition).where(RuleVersion.rule_id == rule_id, RuleVersion.version == version)
    )
