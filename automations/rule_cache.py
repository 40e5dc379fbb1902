"""Enabled rules per shop and trigger, cached in the process and checked against the database's
rule versions, so that matching an event reads no rule row in the common case."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations.events import CART_ABANDONED
from automations.models import Rule, RuleVersion
from automations.rule_steps import DEFAULT_ABANDON_AFTER, compile_steps, parse_duration


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
