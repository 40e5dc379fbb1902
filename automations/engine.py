"""The rule engine: from a domain event to flow runs and scheduled messages.

`handle_event` keeps contacts, consent, checkouts and orders up to date, ends the flows an exit
event ends, matches the shop's enabled rules (cached, by trigger) and starts at most one flow
run per rule and subject. A run executes its steps: a send step creates a `scheduled` message
(send time from the waits and the recipient's send window, body composed with the footer and
short links, idempotency key per rule, subject and step); a wait step parks the run until
`advance_flows` picks it up; a branch step evaluates its condition on fresh contact data.
Time-based triggers are raised by `automations.sweeps`; a send step's message is composed by
`automations.flow_messages`.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from automations import (
    chunk,
    commerce,
    conditions,
    consent,
    dispatch,
    rule_cache,
    templating,
)
from automations import events as ev
from automations.contacts import find_contact, upsert_contact
from automations.deletion import delete_contact
from automations.flow_messages import Shorten, compose_step, link_maker
from automations.models import Contact, FlowRun, Link, Message, Rule, Shop
from automations.policy import ShopPolicy
from automations.rule_cache import RuleSnapshot
from automations.shops import policy_for

_Row = TypeVar("_Row", FlowRun, Message)
_CUSTOMER_EVENTS = (ev.CUSTOMER_CREATED, ev.CUSTOMER_UPDATED)


@dataclass
class Outcome:
    """What handling one event did, and why it did not do more."""

    contact_id: int | None = None
    messages: list[int] = field(default_factory=list)
    flows_started: list[int] = field(default_factory=list)
    flows_exited: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def skip(self, reason: str) -> None:
        if reason not in self.skipped:
            self.skipped.append(reason)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def fields(self) -> dict[str, Any]:
        """Its fields as they are (rows not written yet included), for JSON later."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def handle_event(
    session: Session,
    shop: Shop,
    event: ev.DomainEvent,
    *,
    now: datetime,
    redis_conn: Any = None,
    store_event_id: int | None = None,
    shorten: Shorten | None = None,
) -> Outcome:
    """Apply one event to the shop's state and automations. `redis_conn` is not needed here:
    frequency caps are reserved at send time (dispatch)."""
    outcome = Outcome()
    if not shop.active:
        outcome.skip("shop uninstalled")
        return outcome
    if event.type == ev.CUSTOMER_DELETED:
        return _deleted(session, shop, event, now, outcome)
    contact, phone_error = _resolve_contact(session, shop, event)
    outcome.contact_id = contact.id if contact else None
    triggers = [event.type]
    if contact is not None and event.consent is not None:
        before = contact.consent_status
        consent.record(session, contact, event.consent, now)
        if before != ev.SUBSCRIBED and contact.consent_status == ev.SUBSCRIBED:
            triggers.append(ev.CONSENT_GRANTED)
    if event.type == ev.CHECKOUT_UPDATED:
        commerce.upsert_checkout(session, shop, event, contact, now)
    elif event.type in commerce.ORDER_EVENTS:
        _, ended = commerce.upsert_order(session, shop, event, contact, now)
        outcome.flows_exited += ended
    outcome.flows_exited += _apply_exits(session, shop, event, contact, now)
    as_json = event_json(event)
    for trigger in dict.fromkeys(triggers):
        for rule in rule_cache.rules_for(session, shop.id, trigger):
            _start(session, shop, rule, as_json, contact, phone_error, now, outcome,
                   store_event_id, shorten)
    if chunk.active(session) is None:  # a chunk of events is written at its end
        session.flush()
    return outcome


def advance_flows(
    session: Session, now: datetime, redis_conn: Any = None, shorten: Shorten | None = None
) -> int:
    """Move every due flow run on through its wait and branch steps; returns how many moved."""
    query = (
        sa.select(FlowRun)
        .where(FlowRun.status == "active", FlowRun.next_at <= now)
        .order_by(FlowRun.next_at, FlowRun.id)
        .limit(500)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    runs = list(session.scalars(query))
    for run in runs:
        rule = session.get(Rule, run.rule_id)
        shop = session.get(Shop, run.shop_id)
        contact = session.get(Contact, run.contact_id)
        if shop is None or not shop.active:
            dispatch.end_flow_runs(session, [run], reason="shop uninstalled", now=now)
            continue
        if rule is None or not rule.enabled:
            dispatch.end_flow_runs(session, [run], reason="rule disabled", now=now)
            continue
        version = run.context.get("version", rule.version)
        definition = rule_cache.version_definition(session, rule.id, version) or rule.definition
        snap = rule_cache.snapshot(rule, definition, version)
        _run(session, shop, snap, run, contact, now, Outcome(), run.context.get("store_event_id"), shorten)
    session.flush()
    return len(runs)


def eligibility(shop: Shop, contact: Contact, kind: str, phone_error: str | None = None) -> str | None:
    """Why this contact may not get a message of this kind now, or None."""
    if not shop.active:
        return "shop uninstalled"
    if contact.deleted_at is not None or contact.redacted_at is not None:
        return "contact deleted"
    if contact.opted_out_at is not None:
        return "contact opted out"
    if not contact.phone_e164:
        return f"no valid phone: {phone_error or contact.phone_error or 'no phone number'}"
    if kind == "marketing" and contact.consent_status != ev.SUBSCRIBED:
        return "no marketing consent"
    return None


def _deleted(session: Session, shop: Shop, event: ev.DomainEvent, now: datetime, outcome: Outcome) -> Outcome:
    """A deleted customer is looked up, never created, and no longer messaged."""
    data = event.contact or ev.ContactData()
    source = "hubspot" if data.hubspot_contact_id and not data.shopify_customer_id else "shopify"
    contact = find_contact(session, shop, data, None)
    if contact is None:
        outcome.skip("deleted contact unknown here")
        return outcome
    outcome.contact_id = contact.id
    cancelled = delete_contact(session, contact, source=source, now=now)
    outcome.skip(f"contact deleted in {source}: {len(cancelled)} waiting message(s) cancelled")
    return outcome


def _resolve_contact(session: Session, shop: Shop, event: ev.DomainEvent) -> tuple[Contact | None, str | None]:
    if event.contact is not None:
        result = upsert_contact(
            session, shop, event.contact, source=str(event.data.get("source") or "shopify"),
            source_updated_at=event.source_updated_at if event.type in _CUSTOMER_EVENTS else None,
        )
        return result.contact, result.phone_error
    contact_id = event.data.get("contact_id")
    contact = session.get(Contact, contact_id) if contact_id else None
    return (contact if contact is not None and contact.shop_id == shop.id else None), None


def _apply_exits(
    session: Session, shop: Shop, event: ev.DomainEvent, contact: Contact | None, now: datetime
) -> list[int]:
    if event.type not in rule_cache.exit_events(session, shop.id):
        return []
    subjects = {k for k in (event.subject_key, event.data.get("checkout_token")) if k}
    match = [FlowRun.subject_key.in_(subjects)] if subjects else []
    if contact is not None:
        match.append(FlowRun.contact_id == contact.id)
    if not match:
        return []
    loaded = chunk.active(session)
    runs = loaded.active_runs(shop.id, subjects, contact.id if contact else None) if loaded else None
    if runs is None:
        runs = session.scalars(
            sa.select(FlowRun).where(FlowRun.shop_id == shop.id, FlowRun.status == "active", sa.or_(*match))
        ).all()
    ending = []
    for run in runs:
        definition = session.get(Rule, run.rule_id).definition
        for exit_on in definition.get("exit_on", []):
            if exit_on["event"] != event.type:
                continue
            if exit_on.get("scope") == "subject" and run.subject_key not in subjects:
                continue
            if exit_on.get("scope", "contact") == "contact" and (contact is None or run.contact_id != contact.id):
                continue
            ending.append(run)
            break
    return dispatch.end_flow_runs(session, ending, reason=f"exit event {event.type}", now=now)


def event_json(event: ev.DomainEvent) -> dict[str, Any]:
    return {**commerce.to_json(event.data), "type": event.type, "subject_key": event.subject_key,
            "occurred_at": event.occurred_at.isoformat() if event.occurred_at else None}


def condition_context(event_json: dict[str, Any], contact: Contact | None) -> dict[str, Any]:
    """What conditions see: `event.<data key>` and `contact.<field>`."""
    if contact is None:
        return {"event": event_json, "contact": {}}
    return {"event": event_json, "contact": {
        "first_name": contact.first_name, "last_name": contact.last_name, "email": contact.email,
        "phone": contact.phone_e164, "locale": contact.locale, "tags": list(contact.tags or []),
        "orders_count": contact.orders_count, "total_spent": contact.total_spent,
        "last_order_at": contact.last_order_at, "birthday": contact.birthday,
        "consent_status": contact.consent_status, "created_at": contact.created_at,
        "shopify_customer_id": contact.shopify_customer_id,
        "hubspot_contact_id": contact.hubspot_contact_id, "properties": dict(contact.properties or {}),
    }}


def _start(
    session: Session, shop: Shop, rule: RuleSnapshot, event_json: dict[str, Any],
    contact: Contact | None, phone_error: str | None, now: datetime, outcome: Outcome,
    store_event_id: int | None, shorten: Shorten | None,
) -> None:
    if not conditions.evaluate(rule.definition.get("conditions"), condition_context(event_json, contact), now):
        return
    if contact is None:
        outcome.skip("no contact to send to")
        return
    reason = eligibility(shop, contact, rule.kind, phone_error)
    if reason:
        outcome.skip(reason)
        return
    subject_key = event_json.get("subject_key") or f"contact:{contact.id}"
    values = dict(
        shop_id=shop.id, rule_id=rule.id, contact_id=contact.id, subject_key=subject_key,
        status="active", step=0,
        context={"version": rule.version, "event": event_json, "at": now.isoformat(),
                 "store_event_id": store_event_id},
    )
    loaded = chunk.active(session)
    started = loaded.run_started(shop.id, rule.id, subject_key, contact.id) if loaded else None
    if started is None:
        run = _insert(session, FlowRun, values)
    elif started:
        run = None
    else:  # known not to exist: written with the rest of the chunk
        run = FlowRun(**values)
        session.add(run)
    if run is None:
        outcome.skip(f"flow {rule.key} already started for {subject_key}")
        return
    if loaded is not None:
        loaded.add_run(run)
    outcome.flows_started.append(_ref(run))
    _run(session, shop, rule, run, contact, now, outcome, store_event_id, shorten, fresh=True)


def _ref(row: FlowRun | Message) -> int | FlowRun | Message:
    """A row's id for an outcome; the row itself while it waits to be written with its chunk."""
    return row.id if row.id is not None else row


def _insert(session: Session, model: type[_Row], values: dict[str, Any]) -> _Row | None:
    """The new row, in one statement, unless a row with the same unique key exists (None)."""
    return session.scalars(_insert_new(session.get_bind().dialect.name, model), [values]).first()


@functools.cache
def _insert_new(dialect: str, model: type[_Row]) -> Any:
    """The statement, built once: its values are given as parameters, not coerced per call."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(model).on_conflict_do_nothing().returning(model)


def _run(
    session: Session, shop: Shop, rule: RuleSnapshot, run: FlowRun, contact: Contact | None,
    now: datetime, outcome: Outcome, store_event_id: int | None, shorten: Shorten | None,
    fresh: bool = False,
) -> None:
    """Execute the run's program from its current step until a wait that is not due yet
    (`fresh`: the run was just created, so none of its messages can exist yet)."""
    program, pc = rule.program, run.step
    at = datetime.fromisoformat(run.context["at"])
    event_json = run.context.get("event", {})
    policy = policy_for(shop)
    while pc < len(program):
        op = program[pc]
        if op["op"] == "send":
            reason = "contact deleted" if contact is None else eligibility(shop, contact, rule.kind)
            if reason:
                outcome.skip(reason)
                outcome.flows_exited += dispatch.end_flow_runs(session, [run], reason=reason, now=now)
                return
            message = _create_message(session, shop, policy, rule, run, pc, op["step"], contact,
                                      event_json, at, store_event_id, shorten, outcome, fresh)
            if message is not None:
                outcome.messages.append(_ref(message))
            pc += 1
        elif op["op"] == "wait":
            due = at + timedelta(seconds=op["seconds"])
            if due > now:
                run.step, run.next_at = pc + 1, due
                run.context = {**run.context, "at": due.isoformat()}
                return
            at, pc = due, pc + 1
        elif op["op"] == "branch":
            holds = conditions.evaluate(op["if"], condition_context(event_json, contact), now)
            pc = pc + 1 if holds else op["else"]
        else:
            pc = op["to"]
    run.step, run.status, run.next_at = pc, "completed", None
    run.context = {**run.context, "at": at.isoformat()}


def _create_message(
    session: Session, shop: Shop, policy: ShopPolicy, rule: RuleSnapshot, run: FlowRun, pc: int,
    step: dict[str, Any], contact: Contact, event_json: dict[str, Any], at: datetime,
    store_event_id: int | None, shorten: Shorten | None, outcome: Outcome, fresh: bool = False,
) -> Message | None:
    key = f"rule:{rule.id}:{run.subject_key}:step:{pc}"
    if not fresh and session.scalar(sa.select(Message.id).where(Message.idempotency_key == key)):
        return None
    made: list[Link] = []
    if shorten is None and rule.marketing and policy.public_url:
        shorten = link_maker(session, shop, contact, policy, rule.key, made)
    try:
        composition = compose_step(shop, policy, rule, step, contact, event_json, at, shorten)
    except templating.TemplateError as exc:
        outcome.skip(f"template error in {rule.key}: {exc}")  # rendered before any link is made
        return None
    assert composition.window is not None
    values = dict(
        shop_id=shop.id, contact_id=contact.id, rule_id=rule.id,
        store_event_id=store_event_id, direction="outbound", kind=rule.kind,
        to_phone=composition.to, from_phone=shop.sms_number, body=composition.body,
        encoding=composition.info.encoding, segments=composition.info.segments,
        cost=str(composition.cost), status="scheduled",
        status_reason=composition.window.deferred_reason, idempotency_key=key,
        send_at=composition.window.send_at,
    )
    if fresh and chunk.active(session) is not None:  # written with the rest of the chunk
        message = Message(**values, flow_run=run)
        session.add(message)
        for link in made:
            link.message = message
        return message
    message = _insert(session, Message, {**values, "flow_run_id": run.id})
    if message is None:
        for link in made:
            session.delete(link)
        return None
    for link in made:
        link.message_id = message.id
    return message
