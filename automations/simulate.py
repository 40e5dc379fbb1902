"""What a rule would have done over a past period, without sending or writing anything.

The stored `StoreEvent`s of the period are turned into domain events by the caller's
`translate` (the connector passes the Shopify translator; automations never imports an
integration), then played through the rule by pure evaluation: conditions, eligibility
(phone, STOP, marketing consent), the steps with their waits and branches, exit events,
send windows and the shop's frequency caps (counted among this rule's own messages).
CartAbandoned is derived the way the engine derives it: a checkout with no order for it once
the rule's delay has passed. Contacts are read as they are now (consent included) unless the
replayed event itself says otherwise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import caps, conditions, engine, flow_messages, links, rule_cache, templating
from automations import events as ev
from automations.contacts import find_contact, normalise_phone
from automations.models import Contact, Rule, Shop, StoreEvent
from automations.policy import ShopPolicy
from automations.shops import policy_for

Translate = Callable[[StoreEvent], list[ev.DomainEvent]]


@dataclass
class _Played:
    at: datetime
    event: ev.DomainEvent
    contact: Contact | None
    phone_error: str | None


def simulate_rule(
    session: Session, rule: Rule, since: datetime, until: datetime, translate: Translate
) -> dict[str, Any]:
    """Replay [since, until) through `rule` and report what would have gone out, and what not."""
    shop = session.get(Shop, rule.shop_id)
    policy = policy_for(shop)
    snap = rule_cache.snapshot(rule)
    zone = ZoneInfo(policy.timezone)
    stored = session.scalars(
        sa.select(StoreEvent)
        .where(StoreEvent.shop_id == shop.id, StoreEvent.received_at >= since, StoreEvent.received_at < until)
        .order_by(StoreEvent.received_at, StoreEvent.id)
    ).all()
    played: list[_Played] = []
    for row in stored:
        for event in translate(row):
            contact, phone_error = _contact(session, shop, event)
            played.append(_Played(event.occurred_at or row.received_at, event, contact, phone_error))
    if snap.trigger == ev.CART_ABANDONED:
        played += _abandonments(played, rule_cache.abandon_after_of(snap.definition), until)
    played.sort(key=lambda p: p.at)

    placeholder = links.short_link(policy.public_url or "https://example.invalid", "x" * 8)
    report: dict[str, Any] = {
        "rule": rule.key, "since": since.isoformat(), "until": until.isoformat(),
        "store_events": len(stored), "triggers": 0, "matched": 0, "messages": 0, "contacts": 0,
        "segments": 0, "cost": "0", "currency": policy.currency, "by_hour": dict.fromkeys(range(24), 0),
        "deferred_by_window": 0, "suppressed": 0, "suppressed_reasons": {}, "exited": 0,
        "waiting_at_end": 0,
    }
    suppressed: Counter[str] = Counter()
    sent_to: dict[Any, list[datetime]] = {}
    started: set[str] = set()
    cost = Decimal(0)
    for item in played:
        if not _triggers(item.event, snap.trigger):
            continue
        report["triggers"] += 1
        contact = item.contact
        as_json = engine.event_json(item.event)
        if not conditions.evaluate(snap.definition.get("conditions"), engine.condition_context(as_json, contact), item.at):
            continue
        subject = item.event.subject_key or f"contact:{_identity(contact)}"
        if subject in started:
            continue
        started.add(subject)
        report["matched"] += 1
        at, pc = item.at, 0
        while pc < len(snap.program):
            op = snap.program[pc]
            if op["op"] == "wait":
                at += timedelta(seconds=op["seconds"])
                pc += 1
                if at >= until:
                    report["waiting_at_end"] += 1
                    break
                continue
            if op["op"] in ("branch", "jump"):
                holds = op["op"] == "branch" and conditions.evaluate(
                    op["if"], engine.condition_context(as_json, contact), at)
                pc = pc + 1 if holds else (op["else"] if op["op"] == "branch" else op["to"])
                continue
            if _exited(played, snap, item, at):
                report["exited"] += 1
                break
            reason = "no contact to send to" if contact is None else engine.eligibility(
                shop, contact, snap.kind, item.phone_error)
            if reason is None:
                try:
                    composition = flow_messages.compose_step(shop, policy, snap, op["step"], contact, as_json, at,
                                                      lambda _url: placeholder)
                except templating.TemplateError as exc:
                    reason = f"template error: {exc}"
            if reason is None and snap.marketing:
                reason = _capped(sent_to.setdefault(_identity(contact), []), composition.window.send_at, policy)
            if reason is not None:
                suppressed[reason] += 1
                pc += 1
                continue
            send_at = composition.window.send_at
            sent_to.setdefault(_identity(contact), []).append(send_at)
            report["messages"] += 1
            report["segments"] += composition.info.segments
            report["by_hour"][send_at.astimezone(zone).hour] += 1
            report["deferred_by_window"] += composition.window.deferred_reason is not None
            cost += composition.cost or 0
            pc += 1
    report["contacts"] = sum(1 for times in sent_to.values() if times)
    report["cost"] = str(cost)
    report["suppressed"] = sum(suppressed.values())
    report["suppressed_reasons"] = dict(suppressed.most_common())
    return report


def _triggers(event: ev.DomainEvent, trigger: str) -> bool:
    if event.type == trigger:
        return True
    return trigger == ev.CONSENT_GRANTED and event.consent is not None and event.consent.status == ev.SUBSCRIBED


def _contact(session: Session, shop: Shop, event: ev.DomainEvent) -> tuple[Contact | None, str | None]:
    """The contact as we know it, or as the event describes it (never added to the session)."""
    if event.contact is None:
        contact_id = event.data.get("contact_id")
        return (session.get(Contact, contact_id) if contact_id else None), None
    data = event.contact
    phone = normalise_phone(data.phone, data.country, shop.default_region)
    known = find_contact(session, shop, data, phone.e164)
    status = event.consent.status if event.consent is not None else None
    if known is not None and (status is None or status == known.consent_status):
        return known, phone.error
    transient = Contact(
        shop_id=shop.id, phone_e164=phone.e164 or (known.phone_e164 if known else None),
        first_name=data.first_name or (known.first_name if known else None),
        last_name=data.last_name, email=data.email, locale=data.locale, tags=list(data.tags),
        consent_status=status or (known.consent_status if known else ev.NOT_SUBSCRIBED),
        opted_out_at=known.opted_out_at if known else None, properties={},
    )
    transient.id = known.id if known else None
    return transient, phone.error


def _identity(contact: Contact | None) -> Any:
    if contact is None:
        return None
    return contact.id or contact.phone_e164 or contact.email


def _abandonments(played: list[_Played], delay: timedelta, until: datetime) -> list[_Played]:
    """CartAbandoned for each replayed checkout with no replayed order for it within the delay."""
    latest: dict[str, _Played] = {}
    ordered: dict[str, datetime] = {}
    for item in played:
        event = item.event
        if event.type == ev.CHECKOUT_UPDATED and event.subject_key:
            current = latest.get(event.subject_key)
            if current is None or (event.source_updated_at or item.at) >= (current.event.source_updated_at or current.at):
                latest[event.subject_key] = item
        token = event.data.get("checkout_token")
        if event.type == ev.ORDER_PLACED and token:
            ordered[token] = min(ordered.get(token, item.at), item.at)
    found = []
    for token, item in latest.items():
        due = (item.event.source_updated_at or item.at) + delay
        if item.event.data.get("completed_at") or due >= until or ordered.get(token, due + delay) <= due:
            continue
        event = ev.DomainEvent(ev.CART_ABANDONED, occurred_at=due, subject_key=token,
                               data={**item.event.data, "token": token}, contact=item.event.contact)
        found.append(_Played(due, event, item.contact, item.phone_error))
    return found


def _exited(played: list[_Played], snap: rule_cache.RuleSnapshot, start: _Played, at: datetime) -> bool:
    """Whether an exit event of the rule came for this run after it started and by `at`."""
    exits = snap.definition.get("exit_on", [])
    if not exits:
        return False
    subject, who = start.event.subject_key, _identity(start.contact)
    for item in played:
        if not start.at < item.at <= at:
            continue
        for exit_on in exits:
            if item.event.type != exit_on["event"]:
                continue
            keys = {item.event.subject_key, item.event.data.get("checkout_token")}
            if exit_on.get("scope") == "subject" and subject in keys:
                return True
            if exit_on.get("scope", "contact") == "contact" and who is not None and _identity(item.contact) == who:
                return True
    return False


def _capped(times: list[datetime], at: datetime, policy: ShopPolicy) -> str | None:
    """The cap this send would break, counting this rule's earlier sends (as caps.reserve does)."""
    for window_ms, limit, reason in caps.caps_of(policy):
        window = timedelta(milliseconds=window_ms)
        if sum(1 for t in times if at - window < t <= at) >= limit:
            return reason
    return None
