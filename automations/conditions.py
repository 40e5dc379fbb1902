"""The condition language shared by rules and segments: nested `all`/`any` groups of leaves
`{"field": ..., "op": ..., "value": ...}`, validated with marshmallow and evaluated in memory.

`ConditionField(leaf=...)` takes the schema of a leaf, so that another kind of condition (a
segment's fields, say) validates its own field names with the same groups and operators.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from automations.models import utcnow

OPERATORS = ("eq", "neq", "in", "not_in", "contains", "gt", "gte", "lt", "lte", "exists", "within_days")
_FIELD = re.compile(r"^(event|contact)(\.[A-Za-z0-9_]+)+$")


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
