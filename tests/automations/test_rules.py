"""Rules are data: validated with field-keyed errors, versioned, evaluated, matched from a cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from automations import rule_cache, rule_steps
from automations.conditions import evaluate
from automations.models import Rule, RuleVersion
from automations.rule_steps import parse_duration
from automations.rules import RuleError, save_rule

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def rule_data(**overrides):
    data = {
        "key": "vip_thanks",
        "name": "Merci VIP",
        "trigger": "OrderPlaced",
        "kind": "transactional",
        "steps": [{"type": "send", "template": "Merci {{ first_name }} pour {{ order_name }}"}],
    }
    data.update(overrides)
    return data


CTX = {
    "event": {"total_price": "120.50", "currency": "EUR", "created_at": "2026-03-08T10:00:00+00:00",
              "line_items": [{"title": "Lampe"}]},
    "contact": {"tags": ["VIP", "newsletter"], "first_name": "Camille", "orders_count": 3,
                "email": None, "last_order_at": NOW - timedelta(days=10)},
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "event.currency", "op": "eq", "value": "eur"}, True),
        ({"field": "event.currency", "op": "eq", "value": "USD"}, False),
        ({"field": "event.total_price", "op": "eq", "value": 120.5}, True),
        ({"field": "event.currency", "op": "neq", "value": "USD"}, True),
        ({"field": "contact.email", "op": "neq", "value": "a@b.c"}, True),
        ({"field": "event.currency", "op": "in", "value": ["USD", "EUR"]}, True),
        ({"field": "contact.tags", "op": "in", "value": ["vip", "gold"]}, True),
        ({"field": "event.currency", "op": "not_in", "value": ["USD", "GBP"]}, True),
        ({"field": "contact.tags", "op": "not_in", "value": ["vip"]}, False),
        ({"field": "contact.tags", "op": "contains", "value": "vip"}, True),
        ({"field": "contact.first_name", "op": "contains", "value": "mil"}, True),
        ({"field": "contact.tags", "op": "contains", "value": "gold"}, False),
        ({"field": "event.total_price", "op": "gt", "value": 100}, True),
        ({"field": "event.total_price", "op": "gt", "value": 120.5}, False),
        ({"field": "event.total_price", "op": "gte", "value": "120.50"}, True),
        ({"field": "contact.orders_count", "op": "lt", "value": 3}, False),
        ({"field": "contact.orders_count", "op": "lte", "value": 3}, True),
        ({"field": "event.created_at", "op": "gt", "value": "2026-03-01"}, True),
        ({"field": "contact.email", "op": "exists"}, False),
        ({"field": "contact.email", "op": "exists", "value": False}, True),
        ({"field": "contact.first_name", "op": "exists", "value": True}, True),
        ({"field": "contact.last_order_at", "op": "within_days", "value": 30}, True),
        ({"field": "contact.last_order_at", "op": "within_days", "value": 7}, False),
        ({"field": "event.created_at", "op": "within_days", "value": 3}, True),
        ({"field": "event.missing", "op": "gt", "value": 1}, False),
    ],
)
def test_each_operator(condition, expected):
    # given an event and a contact, when the condition is evaluated, then it holds or not
    assert evaluate(condition, CTX, NOW) is expected


def test_all_and_any_nest():
    # given a nested condition: VIP and (big order or many orders)
    condition = {"all": [
        {"field": "contact.tags", "op": "contains", "value": "VIP"},
        {"any": [
            {"field": "event.total_price", "op": "gt", "value": 500},
            {"field": "contact.orders_count", "op": "gte", "value": 3},
        ]},
    ]}
    # then it holds; and fails once the inner group cannot hold
    assert evaluate(condition, CTX, NOW) is True
    condition["all"][1]["any"][1]["value"] = 4
    assert evaluate(condition, CTX, NOW) is False
    assert evaluate({"all": []}, CTX, NOW) is True


def test_durations():
    assert parse_duration("1h") == timedelta(hours=1)
    assert parse_duration("1d12h") == timedelta(days=1, hours=12)
    assert parse_duration("90m") == timedelta(minutes=90)
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_invalid_rule_is_refused_with_field_keyed_errors(session, shop):
    # given a rule with an unknown trigger, a bad operator, a bad wait and a broken template
    data = rule_data(
        trigger="CartForgotten",
        conditions={"all": [{"field": "event.total", "op": "like", "value": 1}]},
        steps=[
            {"type": "wait", "duration": "soon"},
            {"type": "send", "template": {"fr": "Bonjour\n{{ first_name "}},
        ],
    )
    # when it is saved, then it is refused with errors keyed by field
    with pytest.raises(RuleError) as caught:
        save_rule(session, shop, data)
    errors = caught.value.messages
    assert "trigger" in errors
    assert errors["conditions"]["all"][0]["op"]
    assert "duration" in errors["steps"][0]
    template_error = errors["steps"][1]["template"]["fr"][0]
    assert template_error.startswith("line 2:")
    # and nothing was stored
    assert session.scalar(sa.select(sa.func.count()).select_from(Rule)) == 0


def test_unknown_variable_is_refused(session, shop):
    with pytest.raises(RuleError) as caught:
        save_rule(session, shop, rule_data(steps=[{"type": "send", "template": "Merci {{ fist_name }}"}]))
    assert "fist_name" in caught.value.messages["steps"][0]["template"]["text"][0]


def test_a_rule_must_send_something(session, shop):
    with pytest.raises(RuleError) as caught:
        save_rule(session, shop, rule_data(steps=[{"type": "wait", "duration": "1h"}]))
    assert "steps" in caught.value.messages


def test_each_change_bumps_the_version_and_is_kept(session, shop):
    # given a saved rule
    rule = save_rule(session, shop, rule_data())
    assert rule.version == 1
    # when it is saved unchanged, then nothing moves; when changed, the version goes up
    assert save_rule(session, shop, rule_data()).version == 1
    rule = save_rule(session, shop, rule_data(priority=5))
    assert rule.version == 2 and rule.priority == 5
    versions = session.scalars(sa.select(RuleVersion).where(RuleVersion.rule_id == rule.id)
                               .order_by(RuleVersion.version)).all()
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].definition["priority"] == 100


def test_branch_steps_compile_to_a_program(session, shop):
    steps = [
        {"type": "wait", "duration": "1h"},
        {"type": "branch", "if": {"field": "contact.tags", "op": "contains", "value": "vip"},
         "then": [{"type": "send", "template": "VIP"}],
         "else": [{"type": "send", "template": "Standard"}]},
    ]
    rule = save_rule(session, shop, rule_data(steps=steps))
    program = rule_steps.compile_steps(rule.definition["steps"])
    assert [op["op"] for op in program] == ["wait", "branch", "send", "jump", "send"]
    assert program[1]["else"] == 4 and program[3]["to"] == 5


def test_matching_uses_the_cache_until_a_rule_changes(session, shop, db_engine):
    # given two enabled rules and one disabled, for two triggers
    save_rule(session, shop, rule_data(key="a", priority=20))
    save_rule(session, shop, rule_data(key="b", priority=10))
    save_rule(session, shop, rule_data(key="c", trigger="OrderShipped", enabled=False))
    session.commit()
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # noqa: ANN001
        statements.append(statement)

    sa.event.listen(db_engine, "before_cursor_execute", count)
    try:
        # when matching twice
        first = rule_cache.rules_for(session, shop.id, "OrderPlaced")
        loads_after_first = sum("FROM rules" in s and "count" not in s for s in statements)
        second = rule_cache.rules_for(session, shop.id, "OrderPlaced")
        loads_after_second = sum("FROM rules" in s and "count" not in s for s in statements)
    finally:
        sa.event.remove(db_engine, "before_cursor_execute", count)
    # then rules come in priority order, disabled ones left out, loaded once
    assert [r.key for r in first] == ["b", "a"] and second == first
    assert rule_cache.rules_for(session, shop.id, "OrderShipped") == []
    assert loads_after_first == 1 and loads_after_second == 1
    # and a change through another path (enabled toggled in the table) is seen at once
    session.execute(sa.update(Rule).where(Rule.key == "c").values(enabled=True, updated_at=NOW))
    assert [r.key for r in rule_cache.rules_for(session, shop.id, "OrderShipped")] == ["c"]
