"""Rules as the merchant and the developer see them: list, show, create, change, turn on or off,
their versions, what they earned (messages sent, link clicks) and what they would have done over
a past period. One set of functions behind `parlons rules …` and /api/v1/rules, so both agree.

`shop` is a shop domain. The API always passes it and a rule of another shop is "not found";
the CLI (run by the operator) may leave it out.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import rule_steps, rules
from automations.events import DomainEvent
from automations.models import Link, LinkClick, Message, Rule, RuleVersion, Shop, StoreEvent, utcnow
from automations.simulate import simulate_rule
from connector.runtime import Runtime

SENT = ("sent", "delivered")
_RELATIVE = re.compile(r"^\s*\d+\s*[wdhm]", re.IGNORECASE)


class RulesError(Exception):
    """A request the rules service refuses: `status` (400, 404, 409) and field-keyed `messages`."""

    def __init__(self, status: int, messages: dict[str, Any]) -> None:
        super().__init__(f"{status}: {messages}")
        self.status = status
        self.messages = messages


# --- Reading ------------------------------------------------------------------------------------


def _shop(session: Session, domain: str | None) -> Shop:
    if not domain:
        raise RulesError(400, {"shop": ["the shop's domain is required (?shop=… or \"shop\" in the body)"]})
    shop = session.scalar(sa.select(Shop).where(Shop.domain == domain.strip().lower()))
    if shop is None:
        raise RulesError(404, {"shop": [f"no shop {domain!r} is installed"]})
    return shop


def _rule(session: Session, rule_id: int, shop: str | None, *, scoped: bool = True) -> Rule:
    """The rule, checked against the shop when one is given (always, when `scoped`)."""
    rule = session.get(Rule, rule_id)
    if scoped or shop:
        owner = _shop(session, shop)
        if rule is not None and rule.shop_id != owner.id:
            rule = None
    if rule is None:
        raise RulesError(404, {"rule": [f"no rule {rule_id}" + (f" in shop {shop}" if shop else "")]})
    return rule


def stats(session: Session, rule_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per rule: messages by status, messages sent (or delivered), link clicks, messages clicked."""
    out = {rid: {"messages": 0, "sent": 0, "clicks": 0, "clicked_messages": 0, "by_status": {}}
           for rid in rule_ids}
    if not rule_ids:
        return out
    rows = session.execute(
        sa.select(Message.rule_id, Message.status, sa.func.count())
        .where(Message.rule_id.in_(rule_ids), Message.direction == "outbound")
        .group_by(Message.rule_id, Message.status)
    )
    for rule_id, status, n in rows:
        entry = out[rule_id]
        entry["by_status"][status] = n
        entry["messages"] += n
        entry["sent"] += n if status in SENT else 0
    clicks = session.execute(
        sa.select(Message.rule_id, sa.func.count(LinkClick.id), sa.func.count(sa.distinct(Message.id)))
        .select_from(LinkClick).join(Link, Link.id == LinkClick.link_id)
        .join(Message, Message.id == Link.message_id)
        .where(Message.rule_id.in_(rule_ids)).group_by(Message.rule_id)
    )
    for rule_id, n, messages in clicks:
        out[rule_id]["clicks"], out[rule_id]["clicked_messages"] = n, messages
    return out


def rule_json(rule: Rule, shop_domain: str, rule_stats: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {
        "id": rule.id, "shop": shop_domain, "key": rule.key, "name": rule.name, "trigger": rule.trigger,
        "kind": rule.kind, "priority": rule.priority, "enabled": rule.enabled, "version": rule.version,
        "definition": rule.definition,
        "created_at": rule.created_at.isoformat() if rule.created_at else None,
        "updated_at": rule.updated_at.isoformat() if rule.updated_at else None,
    }
    if rule_stats is not None:
        out["stats"] = rule_stats
    return out


def list_rules(runtime: Runtime, shop: str | None) -> list[dict[str, Any]]:
    with runtime.db.session() as session:
        owner = _shop(session, shop)
        found = list(session.scalars(
            sa.select(Rule).where(Rule.shop_id == owner.id).order_by(Rule.priority, Rule.id)))
        counts = stats(session, [r.id for r in found])
        return [rule_json(r, owner.domain, counts[r.id]) for r in found]


def show_rule(runtime: Runtime, rule_id: int, shop: str | None, *, scoped: bool = True) -> dict[str, Any]:
    with runtime.db.session() as session:
        rule = _rule(session, rule_id, shop, scoped=scoped)
        return rule_json(rule, session.get(Shop, rule.shop_id).domain, stats(session, [rule.id])[rule.id])


def versions(runtime: Runtime, rule_id: int, shop: str | None) -> list[dict[str, Any]]:
    with runtime.db.session() as session:
        rule = _rule(session, rule_id, shop)
        rows = session.scalars(
            sa.select(RuleVersion).where(RuleVersion.rule_id == rule.id).order_by(RuleVersion.version.desc()))
        return [{"version": v.version, "created_at": v.created_at.isoformat() if v.created_at else None,
                 "current": v.version == rule.version, "definition": v.definition} for v in rows]


# --- Changing -----------------------------------------------------------------------------------


def _save(session: Session, shop: Shop, definition: dict[str, Any]) -> Rule:
    try:
        return rules.save_rule(session, shop, definition)
    except rules.RuleError as exc:
        raise RulesError(400, exc.messages) from exc


def _definition(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "shop"}


def create_rule(runtime: Runtime, shop: str | None, body: dict[str, Any]) -> dict[str, Any]:
    """A new rule for the shop (409 when its key is taken: change that one with update_rule)."""
    with runtime.db.transaction() as session:
        owner = _shop(session, shop)
        taken = session.scalar(sa.select(Rule.id).where(Rule.shop_id == owner.id, Rule.key == body.get("key")))
        if taken is not None:
            raise RulesError(409, {"key": [f"rule {taken} already has this key: change it rather than create it"]})
        rule = _save(session, owner, _definition(body))
        return rule_json(rule, owner.domain, stats(session, [rule.id])[rule.id])


def update_rule(runtime: Runtime, rule_id: int, shop: str | None, body: dict[str, Any]) -> dict[str, Any]:
    """Replace the rule's definition (whole); a change bumps its version, the old one is kept."""
    with runtime.db.transaction() as session:
        rule = _rule(session, rule_id, shop)
        definition = _definition(body)
        if definition.setdefault("key", rule.key) != rule.key:
            raise RulesError(400, {"key": ["a rule's key cannot change: create a new rule instead"]})
        owner = session.get(Shop, rule.shop_id)
        saved = _save(session, owner, definition)
        return rule_json(saved, owner.domain, stats(session, [saved.id])[saved.id])


def set_enabled(runtime: Runtime, rule_id: int, shop: str | None, enabled: bool) -> dict[str, Any]:
    with runtime.db.transaction() as session:
        rule = _rule(session, rule_id, shop)
        owner = session.get(Shop, rule.shop_id)
        saved = _save(session, owner, {**rule.definition, "enabled": enabled})
        return rule_json(saved, owner.domain, stats(session, [saved.id])[saved.id])


# --- Simulation ---------------------------------------------------------------------------------


def translate_stored(row: StoreEvent) -> list[DomainEvent]:
    """Domain events of a stored delivery, as the pipeline reads them; provider callbacks and
    deliveries that do not parse are nothing to replay."""
    from connector.worker.events import translate

    if row.source == "twilio":
        return []
    try:
        return translate(row)
    except ValueError:
        return []


def parse_moment(text: str, zone: ZoneInfo, field: str) -> datetime:
    """An ISO date (midnight in the shop's zone) or date-time (the shop's zone when naive)."""
    try:
        if len(text.strip()) == 10:
            return datetime.combine(date.fromisoformat(text.strip()), time(0), zone).astimezone(UTC)
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise RulesError(400, {field: ["use a duration back from `until` (30d, 12h, 2w) or an ISO date"]}) from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


def period(params: dict[str, Any], zone: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """[since, until) from {"since": "30d" | ISO, "until": ISO | None} (until defaults to now)."""
    errors: dict[str, list[str]] = {}
    unknown = set(params) - {"since", "until", "shop"}
    for name in sorted(unknown):
        errors[name] = ["Unknown field."]
    since_text, until_text = params.get("since"), params.get("until")
    if not isinstance(since_text, str) or not since_text.strip():
        errors["since"] = ["is required: a duration back from `until` (30d, 12h, 2w) or an ISO date"]
    if until_text is not None and not isinstance(until_text, str):
        errors["until"] = ["must be an ISO date or date-time"]
    if errors:
        raise RulesError(400, errors)
    until = parse_moment(until_text, zone, "until") if until_text else now
    if _RELATIVE.match(since_text):
        try:
            since = until - rule_steps.parse_duration(since_text)
        except ValueError as exc:
            raise RulesError(400, {"since": [str(exc)]}) from exc
    else:
        since = parse_moment(since_text, zone, "since")
    if since >= until:
        raise RulesError(400, {"since": ["must be before until"]})
    if until - since > timedelta(days=366):
        raise RulesError(400, {"since": ["a simulation covers at most 366 days"]})
    return since, until


def simulate(runtime: Runtime, rule_id: int, shop: str | None, params: dict[str, Any],
             *, scoped: bool = True) -> dict[str, Any]:
    """What the rule would have sent over the period, and what it would have held back and why."""
    with runtime.db.session() as session:
        rule = _rule(session, rule_id, shop, scoped=scoped)
        owner = session.get(Shop, rule.shop_id)
        since, until = period(params, ZoneInfo(owner.timezone or "UTC"), utcnow())
        domain = owner.domain
        report = simulate_rule(session, rule, since, until, translate_stored)
        session.rollback()  # a simulation writes nothing
    report["by_hour"] = {str(h): n for h, n in report["by_hour"].items()}
    return {"rule_id": rule_id, "shop": domain, **report}
