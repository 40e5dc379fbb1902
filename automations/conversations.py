"""Reply-driven conversations: ask a question by SMS, read the answer, act on it.

A flow is data (`FlowDefinition`, loadable from a JSON-able dict checked by `FlowSchema`); a
running conversation keeps a snapshot of its flow and where it stands in `Conversation.state`,
so editing a flow never changes a conversation already under way.

Inbound SMS are handled in this order (`handle_inbound`): compliance keywords first (STOP and
its variants, START, HELP: see `automations.keywords`), then the open conversation's expected
answers, then anything else goes to the human inbox. Replies to the customer are scheduled
`Message` rows the dispatcher sends; none goes to a contact who replied STOP, except the single
confirmation of that STOP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema
from sqlalchemy.orm import Session

from automations import consent, keywords, templating
from automations.events import PENDING, SUBSCRIBED
from automations.footer import apply_footer
from automations.models import (
    Checkout,
    Contact,
    Conversation,
    Message,
    OutboundWrite,
    Shop,
    TimelineEntry,
)
from automations.policy import ShopPolicy
from automations.templating import render

ACTIVE = ("open", "waiting", "assigned")
DEFAULT_PAUSE = timedelta(hours=24)
EXPIRED_GRACE = timedelta(days=7)  # a late answer this long after expiry still gets the notice


# ----------------------------------------------------------------------------- flow format

ACTION_TYPES = ("send", "send_link", "checkout_link", "set_property", "webhook", "handoff")
_NEEDS_TEMPLATE = ("send", "send_link", "checkout_link")


@dataclass(frozen=True, eq=False)
class Action:
    """One thing an answer does.

    send: text `template`; send_link: `template` with the link held in variable `name` (default
    "link"); checkout_link: `template` with `{{ checkout_url }}` (the cart's abandoned-checkout
    URL, else the shop's `checkout_url_template`); set_property: contact property `name` =
    `value` (a template); webhook: an `OutboundWrite` to the shop's webhook, event `name`, extra
    data `value`; handoff: to a person, reason `value`, optional `template` told to the customer.
    """

    type: str
    template: str | None = None
    name: str | None = None
    value: Any = None


@dataclass(frozen=True, eq=False)
class ExpectedAnswer(keywords.Answer):
    """An expected answer, what it does, and the step to ask next (None ends the conversation)."""

    actions: tuple[Action, ...] = ()
    next: str | None = None


@dataclass(frozen=True)
class Step:
    question: str
    answers: tuple[ExpectedAnswer, ...]
    reprompt: str | None = None  # default: "I did not understand, reply A, B or C"


@dataclass(frozen=True)
class Reminder:
    after: timedelta
    template: str


@dataclass(frozen=True)
class FlowDefinition:
    """A reply-driven flow. Answers are accepted until the earliest of `timeout` after the start
    and `expires_at_local` (next occurrence of that shop-local time, "00:00" = midnight); a
    late answer gets `expired`. After `max_reprompts` unexpected replies a person takes over."""

    key: str
    steps: Mapping[str, Step]
    start: str = "start"
    locale: str = "fr"
    name: str = ""
    marketing: bool = False  # the first question carries the opt-out mention
    max_reprompts: int = 1
    timeout: timedelta | None = None
    expires_at_local: str | None = None
    expired: str | None = None
    handoff_message: str | None = None
    reminder: Reminder | None = None

    def to_dict(self) -> dict[str, Any]:
        return FlowSchema().dump(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlowDefinition:
        """Validate and load a flow; raises marshmallow.ValidationError naming the bad field."""
        return FlowSchema().load(data)


def _template(value: str | None) -> None:
    if value:
        try:
            templating.validate(value)
        except templating.TemplateError as exc:
            raise ValidationError(str(exc)) from exc


class ActionSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(ACTION_TYPES))
    template = fields.String(allow_none=True, load_default=None, validate=_template)
    name = fields.String(allow_none=True, load_default=None)
    value = fields.Raw(allow_none=True, load_default=None)

    @validates_schema
    def _complete(self, data: dict[str, Any], **_: Any) -> None:
        if data["type"] in _NEEDS_TEMPLATE and not data.get("template"):
            raise ValidationError(f"a {data['type']} action needs a template", "template")
        if data["type"] in ("set_property", "webhook") and not data.get("name"):
            raise ValidationError(f"a {data['type']} action needs a name", "name")

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Action:
        return Action(**data)


class AnswerSchema(Schema):
    key = fields.String(required=True, validate=validate.Length(min=1, max=40))
    synonyms = fields.List(fields.String(), load_default=list)
    number = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(0, 99))
    actions = fields.List(fields.Nested(ActionSchema), load_default=list)
    next = fields.String(allow_none=True, load_default=None)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> ExpectedAnswer:
        return ExpectedAnswer(data["key"], tuple(data["synonyms"]), data["number"],
                              tuple(data["actions"]), data["next"])


class StepSchema(Schema):
    question = fields.String(required=True, validate=[validate.Length(min=1), _template])
    answers = fields.List(fields.Nested(AnswerSchema), required=True,
                          validate=validate.Length(min=1))
    reprompt = fields.String(allow_none=True, load_default=None, validate=_template)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Step:
        return Step(data["question"], tuple(data["answers"]), data["reprompt"])


class ReminderSchema(Schema):
    after = fields.TimeDelta(required=True)
    template = fields.String(required=True, validate=_template)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Reminder:
        return Reminder(**data)


class FlowSchema(Schema):
    key = fields.String(required=True, validate=validate.Length(min=1, max=64))
    steps = fields.Dict(keys=fields.String(), values=fields.Nested(StepSchema), required=True)
    start = fields.String(load_default="start")
    locale = fields.String(load_default="fr")
    name = fields.String(load_default="")
    marketing = fields.Boolean(load_default=False)
    max_reprompts = fields.Integer(load_default=1, validate=validate.Range(0, 5))
    timeout = fields.TimeDelta(allow_none=True, load_default=None)
    expires_at_local = fields.String(allow_none=True, load_default=None)
    expired = fields.String(allow_none=True, load_default=None, validate=_template)
    handoff_message = fields.String(allow_none=True, load_default=None, validate=_template)
    reminder = fields.Nested(ReminderSchema, allow_none=True, load_default=None)

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        steps = data["steps"]
        if data["start"] not in steps:
            raise ValidationError(f"start step {data['start']!r} is not defined", "start")
        for name, step in steps.items():
            for answer in step.answers:
                if answer.next is not None and answer.next not in steps:
                    raise ValidationError(f"step {name!r}: answer {answer.key!r} goes to an "
                                          f"undefined step {answer.next!r}", "steps")
        if data.get("expires_at_local"):
            try:
                time.fromisoformat(data["expires_at_local"])
            except ValueError as exc:
                raise ValidationError("must be HH:MM", "expires_at_local") from exc

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> FlowDefinition:
        return FlowDefinition(**data)


# ----------------------------------------------------------------------------- system texts

TEXTS = {
    "fr": {
        "opt_out": "Désinscription confirmée : plus aucun SMS de {brand}. Répondez START pour "
                   "vous réabonner.",
        "opt_in": "Réabonnement confirmé aux SMS de {brand}. Répondez STOP pour vous désabonner.",
        "help": "{brand} : SMS d'information et d'offres, {frequency}. Aide : {support}. "
                "Prix d'un SMS standard. Répondez STOP pour vous désabonner.",
        "reprompt": "Désolé, je n'ai pas compris. Répondez {choices}.",
        "expired": "Désolé, cette offre a expiré. Un conseiller reste joignable ici si besoin.",
        "handoff": "Merci ! Un conseiller vous répond ici très vite.",
        "frequency": "jusqu'à {n} SMS par semaine", "frequency_any": "fréquence variable",
    },
    "en": {
        "opt_out": "You are unsubscribed from {brand}. No more messages. Reply START to "
                   "resubscribe.",
        "opt_in": "You are subscribed to {brand} SMS again. Reply STOP to opt out.",
        "help": "{brand}: order updates and offers, {frequency}. Help: {support}. Msg & data "
                "rates may apply. Reply STOP to opt out.",
        "reprompt": "Sorry, I did not understand. Please reply {choices}.",
        "expired": "Sorry, this offer has expired. You can still write to us here.",
        "handoff": "Thanks! Someone from our team will answer you here shortly.",
        "frequency": "up to {n} msgs/week", "frequency_any": "msg frequency varies",
    },
}


def language(contact: Contact | None, shop: Shop | None) -> str:
    for locale in (contact.locale if contact else None, shop.locale if shop else None):
        lang = (locale or "")[:2].lower()
        if lang in TEXTS:
            return lang
    return "fr"


def brand(shop: Shop) -> str:
    sender = str((shop.settings or {}).get("sender_name") or "").strip()
    return sender or shop.name or shop.domain


def reply_text(name: str, lang: str, **values: str) -> str:
    return TEXTS.get(lang, TEXTS["en"])[name].format(**values)


def help_text(shop: Shop, lang: str) -> str:
    """The shop's HELP answer: `help_text` setting (per locale) or brand, frequency, support, STOP."""
    settings = shop.settings or {}
    custom = settings.get("help_text")
    if isinstance(custom, dict):
        custom = custom.get(lang)
    if isinstance(custom, str) and custom.strip():
        return custom
    cap = ShopPolicy.from_settings(settings).marketing_cap_7d
    frequency = reply_text("frequency", lang, n=str(cap)) if cap else reply_text("frequency_any", lang)
    support = str(settings.get("support_contact") or shop.domain)
    return reply_text("help", lang, brand=brand(shop), frequency=frequency, support=support)


def template_variables(shop: Shop, contact: Contact) -> dict[str, Any]:
    return {"first_name": contact.first_name, "last_name": contact.last_name,
            "shop_name": shop.name or shop.domain, "shop_url": f"https://{shop.domain}",
            "shop_domain": shop.domain}


def expiry_deadline(flow: FlowDefinition, shop: Shop, now: datetime) -> datetime | None:
    deadlines = []
    if flow.timeout is not None:
        deadlines.append(now + flow.timeout)
    if flow.expires_at_local:
        zone = ZoneInfo(shop.timezone or "Europe/Paris")
        local = now.astimezone(zone)
        at = time.fromisoformat(flow.expires_at_local)
        candidate = datetime.combine(local.date(), at, zone)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), at, zone)
        deadlines.append(candidate)
    return min(deadlines) if deadlines else None


def checkout_url(
    session: Session, shop: Shop, contact: Contact, variables: dict[str, Any]
) -> str | None:
    """The link that completes the order: the open cart's abandoned-checkout URL, else the
    `checkout_url` variable, else the shop's `checkout_url_template` rendered."""
    query = sa.select(Checkout).where(
        Checkout.shop_id == shop.id, Checkout.contact_id == contact.id,
        Checkout.completed_at.is_(None), Checkout.abandoned_checkout_url.is_not(None))
    if variables.get("checkout_token"):
        query = query.where(Checkout.token == str(variables["checkout_token"]))
    checkout = session.scalars(query.order_by(Checkout.id.desc()).limit(1)).first()
    if checkout is not None:
        return checkout.abandoned_checkout_url
    if variables.get("checkout_url"):
        return str(variables["checkout_url"])
    template = (shop.settings or {}).get("checkout_url_template")
    return render(template, variables) or None if template else None


class ConversationRefused(ValueError):
    """A conversation cannot start for this contact (opted out, paused, no phone, no consent)."""


@dataclass
class ReplyOutcome:
    intent: str  # opt_out | opt_in | help | other
    keyword: str | None = None
    conversation_id: int | None = None
    matched_answer: str | None = None
    actions: list[str] = field(default_factory=list)
    replies: list[Message] = field(default_factory=list)
    handoff: bool = False
    reason: str = ""


@dataclass
class Decision:
    """What an inbound text would do, decided without side effects."""

    intent: str
    keyword: str | None
    route: str  # opt_out | opt_in | help | answer | reprompt | handoff | expired | inbox | duplicate
    reason: str
    conversation: Conversation | None = None
    flow: FlowDefinition | None = None
    step: Step | None = None
    answer: ExpectedAnswer | None = None


# ----------------------------------------------------------------------------- start


def start(
    session: Session,
    shop: Shop,
    contact: Contact,
    flow: FlowDefinition | str,
    variables: dict[str, Any],
    now: datetime,
) -> tuple[Conversation, Message]:
    """Open a conversation and schedule its first question (send_at=now, kind conversational).

    `flow` is a definition or a scenario key (the contact's or shop's language variant).
    Starting twice with the same `variables["subject_key"]` returns the first conversation.
    A waiting conversation of the same contact is superseded: only one asks at a time.
    """
    if isinstance(flow, str):
        from automations.scenarios import flow_for

        flow = flow_for(flow, contact.locale or shop.locale)
    subject = str(variables.get("subject_key") or now.isoformat())
    key = f"conv:{shop.id}:{contact.id}:{flow.key}:{subject}"[:255]
    existing = session.scalars(sa.select(Message).where(Message.idempotency_key == key)).first()
    if existing is not None and existing.conversation_id is not None:
        return session.get(Conversation, existing.conversation_id), existing
    _refuse_if_unreachable(contact, flow, now)
    _lock(session, contact)
    for old in session.scalars(sa.select(Conversation).where(
        Conversation.contact_id == contact.id, Conversation.status == "waiting"
    )):
        _finish(session, old, "superseded", now)
    conversation = Conversation(
        shop_id=shop.id, contact_id=contact.id, flow_key=flow.key, status="waiting",
        state={"flow": flow.to_dict(), "variables": _jsonable(variables), "answers": []},
        created_at=now, updated_at=now,
    )
    session.add(conversation)
    session.flush()
    deadline = expiry_deadline(flow, shop, now)
    conversation.expires_at = deadline
    message = _ask(session, shop, contact, conversation, flow, flow.start, now, key=key)
    return conversation, message


def _refuse_if_unreachable(contact: Contact, flow: FlowDefinition, now: datetime) -> None:
    if contact.opted_out_at is not None:
        raise ConversationRefused("the contact replied STOP: no SMS may be sent")
    if not contact.phone_e164:
        raise ConversationRefused("the contact has no valid mobile number")
    if contact.paused_until is not None and contact.paused_until > now:
        raise ConversationRefused("automation is paused while a person handles this contact")
    if flow.marketing and contact.consent_status != SUBSCRIBED:
        raise ConversationRefused("a marketing conversation needs SMS marketing consent")


def _ask(
    session: Session, shop: Shop, contact: Contact, conversation: Conversation,
    flow: FlowDefinition, step_key: str, now: datetime, *, key: str,
) -> Message:
    step = flow.steps[step_key]
    state = dict(conversation.state)
    state.update(step=step_key, reprompts=0, asked_at=now.isoformat(), automation="waiting")
    conversation.state = state
    body = render(step.question, _variables(shop, contact, conversation))
    if flow.marketing:
        body, _ = apply_footer(body, flow.locale, ShopPolicy.from_settings(shop.settings), True)
    message = _outbound(session, shop, contact, conversation, body, key, now)
    if flow.reminder is not None:
        at = now + flow.reminder.after
        if conversation.expires_at is None or at < conversation.expires_at:
            reminder = render(flow.reminder.template, _variables(shop, contact, conversation))
            _outbound(session, shop, contact, conversation, reminder,
                      f"conv:{conversation.id}:reminder:{step_key}", now, send_at=at)
    return message


# ----------------------------------------------------------------------------- decide


def current_conversation(session: Session, contact: Contact, now: datetime) -> Conversation | None:
    """The contact's open conversation, or one that expired recently without its notice sent."""
    found = session.scalars(
        sa.select(Conversation).where(Conversation.contact_id == contact.id)
        .order_by(Conversation.id.desc()).limit(1)
    ).first()
    if found is None:
        return None
    if found.status in ACTIVE:
        return found
    state = found.state or {}
    if (state.get("automation") == "expired" and not state.get("expiry_notified")
            and found.closed_at is not None and now - found.closed_at < EXPIRED_GRACE):
        return found
    return None


def decide(
    session: Session, contact: Contact | None, text: str | None, now: datetime
) -> Decision:
    conversation = current_conversation(session, contact, now) if contact is not None else None
    flow = step = None
    if conversation is not None and (conversation.state or {}).get("flow"):
        flow = FlowDefinition.from_dict(conversation.state["flow"])
        step = flow.steps.get(conversation.state.get("step", flow.start))
    state = (conversation.state or {}) if conversation is not None else {}
    waiting = step is not None and state.get("automation") in ("waiting", "expired")
    expected = [p for a in step.answers for p in a.phrases()] if waiting else []
    pending = contact is not None and contact.consent_status == PENDING
    intent = keywords.classify(text, pending_double_opt_in=pending, expected_answers=expected)
    base = {"intent": intent.intent, "keyword": intent.keyword, "conversation": conversation,
            "flow": flow, "step": step}
    if intent.intent in ("opt_out", "opt_in", "help"):
        return Decision(route=intent.intent, reason=f"keyword {intent.keyword}", **base)
    if contact is None:
        return Decision(route="inbox", reason="no contact", **base)
    if contact.opted_out_at is not None:
        return Decision(route="inbox", reason="contact opted out: no automated reply", **base)
    if not waiting:
        why = "no conversation waiting for an answer" if conversation is None or step is None \
            else f"conversation {state.get('automation') or conversation.status}"
        return Decision(route="inbox", reason=why, **base)
    answer = keywords.match_answer(text, step.answers)
    expired = state.get("automation") == "expired" or (
        conversation.expires_at is not None and now >= conversation.expires_at)
    if expired:
        if answer is not None:
            return Decision(route="expired", reason="answer after expiry", answer=answer, **base)
        return Decision(route="inbox", reason="unexpected reply after expiry", **base)
    if answer is not None:
        return Decision(route="answer", reason=f"answer {answer.key}", answer=answer, **base)
    if int(state.get("reprompts", 0)) < flow.max_reprompts:
        return Decision(route="reprompt", reason="unexpected answer", **base)
    return Decision(route="handoff", reason="no expected answer after re-prompts", **base)


def dry_run(
    session: Session | None, shop: Shop | None, contact: Contact | None, text: str | None,
    now: datetime,
) -> dict[str, Any]:
    """What a reply would do, with no side effect at all (no write, no flush)."""
    if session is None or contact is None:
        intent = keywords.classify(text)
        route = intent.intent if intent.intent != "other" else "inbox"
        return {"intent": intent.intent, "keyword": intent.keyword, "route": route,
                "conversation_id": None, "action": route}
    with session.no_autoflush:
        decision = decide(session, contact, text, now)
    actions = [a.type for a in decision.answer.actions] if decision.answer else []
    return {
        "intent": decision.intent, "keyword": decision.keyword, "route": decision.route,
        "reason": decision.reason,
        "conversation_id": decision.conversation.id if decision.conversation else None,
        "flow_key": decision.flow.key if decision.flow else None,
        "matched_answer": decision.answer.key if decision.answer else None,
        "action": ", ".join(actions) if actions else decision.route,
        "actions": actions,
    }


# ----------------------------------------------------------------------------- handle


def handle_inbound(
    session: Session, shop: Shop, contact: Contact, inbound: Message, now: datetime
) -> ReplyOutcome:
    """Act on one inbound SMS (see the module docstring for the order). Safe to call twice."""
    _lock(session, contact)
    in_key = f"sms_in:{inbound.id}"
    if session.scalars(sa.select(TimelineEntry.id).where(TimelineEntry.key == in_key)).first():
        return ReplyOutcome("other", conversation_id=inbound.conversation_id,
                            reason="already handled")
    decision = decide(session, contact, inbound.body, now)
    conversation = decision.conversation
    if conversation is not None:
        session.refresh(conversation, with_for_update=_for_update(session))
        inbound.conversation_id = conversation.id
    _timeline(session, contact, "sms_in", in_key, inbound.body or "", now, inbound.id)
    outcome = ReplyOutcome(decision.intent, decision.keyword,
                           conversation.id if conversation else None, reason=decision.reason)
    route = _ROUTES[decision.route]
    route(session, shop, contact, inbound, decision, outcome, now)
    if conversation is not None:
        conversation.updated_at = now
    session.flush()
    return outcome


def _on_opt_out(session, shop, contact, inbound, decision, outcome, now) -> None:  # noqa: ANN001
    if contact.opted_out_at is not None:
        outcome.reason = "already opted out: no second confirmation"
        return
    consent.opt_out(session, contact, "sms", _evidence(inbound, decision), now)
    if decision.conversation is not None and decision.conversation.status != "closed":
        _finish(session, decision.conversation, "opted_out", now)
    _timeline(session, contact, "keyword", f"keyword:{inbound.id}",
              f"{decision.keyword.upper()}: unsubscribed from SMS", now, inbound.id)
    body = reply_text("opt_out", language(contact, shop), brand=brand(shop))
    outcome.replies.append(_outbound(session, shop, contact, decision.conversation, body,
                                     f"reply:{inbound.id}:opt_out", now, kind="system"))
    outcome.actions.append("opt_out")


def _on_opt_in(session, shop, contact, inbound, decision, outcome, now) -> None:  # noqa: ANN001
    consent.opt_in(session, contact, "sms", _evidence(inbound, decision), now)
    _timeline(session, contact, "keyword", f"keyword:{inbound.id}",
              f"{decision.keyword.upper()}: subscribed to SMS", now, inbound.id)
    body = reply_text("opt_in", language(contact, shop), brand=brand(shop))
    outcome.replies.append(_outbound(session, shop, contact, decision.conversation, body,
                                     f"reply:{inbound.id}:opt_in", now, kind="system"))
    outcome.actions.append("opt_in")


def _on_help(session, shop, contact, inbound, decision, outcome, now) -> None:  # noqa: ANN001
    _timeline(session, contact, "keyword", f"keyword:{inbound.id}",
              f"{decision.keyword.upper()}: help requested", now, inbound.id)
    if contact.opted_out_at is not None:
        outcome.reason = "contact opted out: help text not sent"
        return
    body = help_text(shop, language(contact, shop))
    outcome.replies.append(_outbound(session, shop, contact, decision.conversation, body,
                                     f"reply:{inbound.id}:help", now, kind="system"))
    outcome.actions.append("help")


def _on_answer(session, shop, contact, inbound, decision, outcome, now) -> None:  # noqa: ANN001
    conversation, flow, answer = decision.conversation, decision.flow, decision.answer
    cancel_reminders(session, conversation, now)
    state = dict(conversation.state)
    state["answers"] = [*state.get("answers", []), {
        "step": state.get("step"), "key": answer.key, "at": now.isoformat(),
        "message_id": inbound.id}]
    state["last_answer"] = answer.key
    conversation.state = state
    outcome.matched_answer = answer.key
    variables = {**_variables(shop, contact, conversation), "answer": answer.key,
                 "reply_text": inbound.body}
    handed = False
    for n, action in enumerate(answer.actions):
        key = f"reply:{inbound.id}:{n}"
        handed |= _perform(session, shop, contact, conversation, action, variables, key,
                           inbound, outcome, now)
        outcome.actions.append(action.type)
    if handed:
        return
    if answer.next:
        outcome.replies.append(_ask(session, shop, contact, conversation, flow, answer.next, now,
                                    key=f"reply:{inbound.id}:ask:{answer.next}"))
        outcome.actions.append("ask")
    else:
        _finish(session, conversation, "completed", now)


def _on_reprompt(session, shop, contact, inbound, decision, outcome, now) -> None:  # noqa: ANN001
    conversation, step = decision.conversation, decision.step
    state = dict(conversation.state)
    state["reprompts"] = int(state.get("reprompts", 0)) + 1
    conversation.state = state
    variables = _variables(shop, contact, conversation)
    source = step.reprompt or reply_text("reprompt", decision.flow.locale,
                                         choices=_choices(step, decision.flow.locale))
    outcome.replies.append(_outbound(session, shop, contact, conversation,
                                     render(source, variables), f"reply:{inbound.id}:reprompt", now))
    outcome.actions.append("reprompt")


def _on_handoff(session, shop, contact, inbound, decision, outcome, now) -> None:  # noqa: ANN001
    cancel_reminders(session, decision.conversation, now)
    handoff(session, shop, contact, decision.conversation, decision.reason, now,
            inbound=inbound, outcome=outcome, template=decision.flow.handoff_message)


def _on_expired(session, shop, contact, inbound, decision, outcome, now) -> None:  # noqa: ANN001
    conversation, flow = decision.conversation, decision.flow
    if conversation.status != "closed":
        _finish(session, conversation, "expired", now)
    conversation.state = {**conversation.state, "expiry_notified": True}
    outcome.matched_answer = decision.answer.key
    source = flow.expired or reply_text("expired", flow.locale)
    body = render(source, _variables(shop, contact, conversation))
    outcome.replies.append(_outbound(session, shop, contact, conversation, body,
                                     f"reply:{inbound.id}:expired", now))
    outcome.actions.append("expired")


def _on_inbox(session, shop, contact, inbound, decision, outcome, now) -> None:  # noqa: ANN001
    conversation = decision.conversation
    if conversation is None or conversation.status == "closed":
        conversation = Conversation(shop_id=shop.id, contact_id=contact.id, status="open",
                                    state={"automation": "none"}, created_at=now)
        session.add(conversation)
        session.flush()
    elif conversation.status == "waiting":
        conversation.status = "open"
    inbound.conversation_id = conversation.id
    conversation.unread_count = (conversation.unread_count or 0) + 1
    outcome.conversation_id = conversation.id
    outcome.actions.append("inbox")


_ROUTES = {
    "opt_out": _on_opt_out, "opt_in": _on_opt_in, "help": _on_help, "answer": _on_answer,
    "reprompt": _on_reprompt, "handoff": _on_handoff, "expired": _on_expired,
    "inbox": _on_inbox,
}


def handoff(
    session: Session, shop: Shop, contact: Contact, conversation: Conversation, reason: str,
    now: datetime, *, inbound: Message | None = None, outcome: ReplyOutcome | None = None,
    template: str | None = None,
) -> None:
    """Hand the conversation to a person: inbox, automation paused for the contact, timeline."""
    conversation.status = "open" if conversation.status != "assigned" else "assigned"
    conversation.handoff_at = conversation.handoff_at or now
    conversation.unread_count = (conversation.unread_count or 0) + (1 if inbound else 0)
    conversation.state = {**conversation.state, "automation": "handed_off",
                          "handoff_reason": reason}
    pause = timedelta(hours=float((shop.settings or {}).get("handoff_pause_hours", 24)))
    contact.paused_until = max(contact.paused_until or now, now + pause)
    ref = inbound.id if inbound is not None else f"c{conversation.id}"
    _timeline(session, contact, "handoff", f"handoff:{conversation.id}:{ref}",
              f"Handed to a person: {reason}", now, inbound.id if inbound else None)
    if outcome is not None:
        outcome.handoff = True
        outcome.actions.append("handoff")
        if contact.opted_out_at is None:
            lang = language(contact, shop)
            body = render(template or reply_text("handoff", lang),
                          _variables(shop, contact, conversation))
            outcome.replies.append(_outbound(session, shop, contact, conversation, body,
                                             f"handoff:{conversation.id}:{ref}", now))


def _perform(
    session: Session, shop: Shop, contact: Contact, conversation: Conversation, action: Action,
    variables: dict[str, Any], key: str, inbound: Message, outcome: ReplyOutcome, now: datetime,
) -> bool:
    """Carry out one answer action; True when it handed the conversation to a person."""
    if action.type == "set_property":
        value = render(action.value, variables) if isinstance(action.value, str) else action.value
        contact.properties = {**(contact.properties or {}), action.name: value}
        return False
    if action.type == "webhook":
        session.add(OutboundWrite(
            shop_id=shop.id, contact_id=contact.id, target="shop_webhook",
            action=(action.name or "conversation_answer")[:32], key=f"shop_webhook:{key}",
            payload={"event": action.name, "conversation_id": conversation.id,
                     "flow_key": conversation.flow_key, "step": conversation.state.get("step"),
                     "answer": variables.get("answer"), "reply": inbound.body,
                     "contact": {"id": contact.id, "phone": contact.phone_e164,
                                 "email": contact.email,
                                 "shopify_customer_id": contact.shopify_customer_id},
                     "variables": _jsonable(conversation.state.get("variables", {})),
                     "data": _jsonable(action.value or {}), "occurred_at": now.isoformat()},
        ))
        return False
    if action.type == "handoff":
        handoff(session, shop, contact, conversation, action.value or "asked for a person", now,
                inbound=inbound, outcome=outcome, template=action.template)
        return True
    if action.type == "checkout_link":
        url = checkout_url(session, shop, contact, variables)
        if not url:
            handoff(session, shop, contact, conversation, "no checkout link for this cart", now,
                    inbound=inbound, outcome=outcome)
            return True
        variables = {**variables, "checkout_url": url}
    if action.type == "send_link" and not variables.get(action.name or "link"):
        handoff(session, shop, contact, conversation, f"no {action.name or 'link'} to send", now,
                inbound=inbound, outcome=outcome)
        return True
    body = render(action.template or "", variables)
    outcome.replies.append(_outbound(session, shop, contact, conversation, body, key, now))
    return False


# ----------------------------------------------------------------------------- sweep


def expire_due(session: Session, now: datetime) -> list[int]:
    """Close waiting conversations past their expiry (a worker calls this periodically)."""
    due = list(session.scalars(sa.select(Conversation).where(
        Conversation.status == "waiting", Conversation.expires_at <= now)))
    for conversation in due:
        cancel_reminders(session, conversation, now)
        _finish(session, conversation, "expired", now)
    session.flush()
    return [c.id for c in due]


# ----------------------------------------------------------------------------- helpers


def _finish(session: Session, conversation: Conversation, outcome: str, now: datetime) -> None:
    conversation.status = "closed"
    conversation.closed_at = now
    conversation.updated_at = now
    conversation.state = {**(conversation.state or {}), "automation": outcome}
    cancel_reminders(session, conversation, now)


def cancel_reminders(session: Session, conversation: Conversation, now: datetime) -> None:
    for message in session.scalars(sa.select(Message).where(
        Message.conversation_id == conversation.id, Message.status == "scheduled",
        Message.direction == "outbound", Message.send_at > now,
    )):
        message.status, message.status_reason, message.updated_at = "cancelled", "answered", now


def _outbound(
    session: Session, shop: Shop, contact: Contact, conversation: Conversation | None, body: str,
    key: str, now: datetime, *, kind: str = "conversational", send_at: datetime | None = None,
) -> Message:
    message = Message(
        shop_id=shop.id, contact_id=contact.id,
        conversation_id=conversation.id if conversation is not None else None,
        direction="outbound", kind=kind, to_phone=contact.phone_e164, from_phone=shop.sms_number,
        body=body, status="scheduled", idempotency_key=key[:255], send_at=send_at or now,
        created_at=now, updated_at=now,
    )
    session.add(message)
    session.flush()
    return message


def _timeline(
    session: Session, contact: Contact, kind: str, key: str, body: str, now: datetime,
    message_id: int | None,
) -> None:
    if session.scalars(sa.select(TimelineEntry.id).where(TimelineEntry.key == key)).first():
        return
    session.add(TimelineEntry(shop_id=contact.shop_id, contact_id=contact.id, kind=kind, key=key,
                              message_id=message_id, body=body, occurred_at=now))


def _lock(session: Session, contact: Contact) -> None:
    """Serialise the handling of one contact's replies until the transaction ends.

    PostgreSQL: SELECT … FOR UPDATE on the contact row. SQLite locks the whole database on the
    first write, so a no-op write takes that lock at once (a second writer waits for commit).
    """
    if _for_update(session):
        session.execute(sa.select(Contact.id).where(Contact.id == contact.id).with_for_update())
    else:
        session.execute(sa.text("UPDATE contacts SET id = id WHERE id = :id"), {"id": contact.id})


def _for_update(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _variables(shop: Shop, contact: Contact, conversation: Conversation) -> dict[str, Any]:
    return {**template_variables(shop, contact), **(conversation.state or {}).get("variables", {})}


def _evidence(inbound: Message, decision: Decision) -> dict[str, Any]:
    return {"message_id": inbound.id, "body": inbound.body, "from": inbound.from_phone,
            "to": inbound.to_phone, "keyword": decision.keyword,
            "provider_message_id": inbound.provider_message_id}


def _choices(step: Step, lang: str) -> str:
    words = [a.key.upper() for a in step.answers]
    joiner = " ou " if lang == "fr" else " or "
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + joiner + words[-1]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def outcome_dict(outcome: ReplyOutcome) -> dict[str, Any]:
    """A JSON-able view of an outcome (replies as message ids)."""
    data = asdict(outcome) | {"replies": [m.id for m in outcome.replies]}
    return data
