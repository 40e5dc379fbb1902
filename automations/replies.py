"""Inbound SMS in a conversation, handled in this order (`handle_inbound`): compliance keywords
first (STOP and its variants, START, HELP: see `automations.keywords`), then the open
conversation's expected answers, then anything else goes to the human inbox. `decide` says what
a text would do without doing it (`dry_run`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import consent, keywords, signup, webhooks
from automations.conversation_flows import FlowDefinition
from automations.conversation_texts import brand, help_text, language, reply_text
from automations.conversations import (
    ACTIVE,
    EXPIRED_GRACE,
    Decision,
    ReplyOutcome,
    ask_step,
    cancel_reminders,
    choices_text,
    conversation_variables,
    finish,
    handoff,
    lock_contact,
    log_timeline,
    perform,
    queue_reply,
    reply_evidence,
    rows_lockable,
)
from automations.events import PENDING
from automations.models import (
    Contact,
    Conversation,
    Message,
    Shop,
    TimelineEntry,
)
from automations.templating import render


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
    pending = contact is not None and (
        contact.consent_status == PENDING
        or signup.pending_for(session, contact.shop_id, contact.phone_e164, now) is not None)
    intent = keywords.classify(text, pending_double_opt_in=pending, expected_answers=expected)
    base = {"intent": intent.intent, "keyword": intent.keyword, "conversation": conversation,
            "flow": flow, "step": step}
    if intent.intent in ("opt_out", "opt_in", "help"):
        return Decision(route=intent.intent, reason=f"keyword {intent.keyword}", **base)
    joined = signup.matching_keyword(contact.shop, text) if contact is not None else None
    if joined is not None:
        return Decision(route="signup", reason=f"sign-up keyword {joined}", **{**base, "keyword": joined})
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
    lock_contact(session, contact)
    in_key = f"sms_in:{inbound.id}"
    if session.scalars(sa.select(TimelineEntry.id).where(TimelineEntry.key == in_key)).first():
        return ReplyOutcome("other", conversation_id=inbound.conversation_id,
                            reason="already handled")
    decision = decide(session, contact, inbound.body, now)
    conversation = decision.conversation
    if conversation is not None:
        session.refresh(conversation, with_for_update=rows_lockable(session))
        inbound.conversation_id = conversation.id
    log_timeline(session, contact, "sms_in", in_key, inbound.body or "", now, inbound.id)
    outcome = ReplyOutcome(decision.intent, decision.keyword,
                           conversation.id if conversation else None, reason=decision.reason)
    route = _ROUTES[decision.route]
    route(session, shop, contact, inbound, decision, outcome, now)
    if conversation is not None:
        conversation.updated_at = now
    webhooks.reply_received(session, contact, inbound)
    session.flush()
    return outcome


def _on_opt_out(session, shop, contact, inbound, decision, outcome, now) -> None:  # noqa: ANN001
    if contact.opted_out_at is not None:
        outcome.reason = "already opted out: no second confirmation"
        return
    signup.cancel_pending(session, contact, f"{decision.keyword.upper()} before confirming", now)
    consent.opt_out(session, contact, "sms", reply_evidence(inbound, decision), now)
    if decision.conversation is not None and decision.conversation.status != "closed":
        finish(session, decision.conversation, "opted_out", now)
    log_timeline(session, contact, "keyword", f"keyword:{inbound.id}",
              f"{decision.keyword.upper()}: unsubscribed from SMS", now, inbound.id)
    body = reply_text("opt_out", language(contact, shop), brand=brand(shop))
    outcome.replies.append(queue_reply(session, shop, contact, decision.conversation, body,
                                     f"reply:{inbound.id}:opt_out", now, kind="system"))
    outcome.actions.append("opt_out")


def _on_opt_in(session, shop, contact, inbound, decision, outcome, now) -> None:  # noqa: ANN001
    if signup.confirm_by_sms(session, shop, contact, inbound, decision.keyword, now) is not None:
        log_timeline(session, contact, "keyword", f"keyword:{inbound.id}",
                     f"{decision.keyword.upper()}: sign-up confirmed", now, inbound.id)
        outcome.actions.append("signup_confirmed")
        return
    consent.opt_in(session, contact, "sms", reply_evidence(inbound, decision), now)
    log_timeline(session, contact, "keyword", f"keyword:{inbound.id}",
              f"{decision.keyword.upper()}: subscribed to SMS", now, inbound.id)
    body = reply_text("opt_in", language(contact, shop), brand=brand(shop))
    outcome.replies.append(queue_reply(session, shop, contact, decision.conversation, body,
                                     f"reply:{inbound.id}:opt_in", now, kind="system"))
    outcome.actions.append("opt_in")


def _on_help(session, shop, contact, inbound, decision, outcome, now) -> None:  # noqa: ANN001
    log_timeline(session, contact, "keyword", f"keyword:{inbound.id}",
              f"{decision.keyword.upper()}: help requested", now, inbound.id)
    if contact.opted_out_at is not None:
        outcome.reason = "contact opted out: help text not sent"
        return
    body = help_text(shop, language(contact, shop))
    outcome.replies.append(queue_reply(session, shop, contact, decision.conversation, body,
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
    variables = {**conversation_variables(shop, contact, conversation), "answer": answer.key,
                 "reply_text": inbound.body}
    handed = False
    for n, action in enumerate(answer.actions):
        key = f"reply:{inbound.id}:{n}"
        handed |= perform(session, shop, contact, conversation, action, variables, key,
                           inbound, outcome, now)
        outcome.actions.append(action.type)
    if handed:
        return
    if answer.next:
        outcome.replies.append(ask_step(session, shop, contact, conversation, flow, answer.next, now,
                                    key=f"reply:{inbound.id}:ask:{answer.next}"))
        outcome.actions.append("ask")
    else:
        finish(session, conversation, "completed", now)


def _on_reprompt(session, shop, contact, inbound, decision, outcome, now) -> None:  # noqa: ANN001
    conversation, step = decision.conversation, decision.step
    state = dict(conversation.state)
    state["reprompts"] = int(state.get("reprompts", 0)) + 1
    conversation.state = state
    variables = conversation_variables(shop, contact, conversation)
    source = step.reprompt or reply_text("reprompt", decision.flow.locale,
                                         choices=choices_text(step, decision.flow.locale))
    outcome.replies.append(queue_reply(session, shop, contact, conversation,
                                     render(source, variables), f"reply:{inbound.id}:reprompt", now))
    outcome.actions.append("reprompt")


def _on_handoff(session, shop, contact, inbound, decision, outcome, now) -> None:  # noqa: ANN001
    cancel_reminders(session, decision.conversation, now)
    handoff(session, shop, contact, decision.conversation, decision.reason, now,
            inbound=inbound, outcome=outcome, template=decision.flow.handoff_message)


def _on_expired(session, shop, contact, inbound, decision, outcome, now) -> None:  # noqa: ANN001
    conversation, flow = decision.conversation, decision.flow
    if conversation.status != "closed":
        finish(session, conversation, "expired", now)
    conversation.state = {**conversation.state, "expiry_notified": True}
    outcome.matched_answer = decision.answer.key
    source = flow.expired or reply_text("expired", flow.locale)
    body = render(source, conversation_variables(shop, contact, conversation))
    outcome.replies.append(queue_reply(session, shop, contact, conversation, body,
                                     f"reply:{inbound.id}:expired", now))
    outcome.actions.append("expired")


def _on_inbox(session, shop, contact, inbound, decision, outcome, now) -> None:  # noqa: ANN001
    conversation = decision.conversation
    if conversation is None or conversation.status == "closed":
        conversation = Conversation(shop_id=shop.id, contact_id=contact.id, status="open",
                                    state={"automation": "none"}, created_at=now)
        session.add(conversation)
        session.flush()
        webhooks.handed_off(session, contact, conversation, "a message outside any conversation")
    elif conversation.status == "waiting":
        conversation.status = "open"
    inbound.conversation_id = conversation.id
    conversation.unread_count = (conversation.unread_count or 0) + 1
    outcome.conversation_id = conversation.id
    outcome.actions.append("inbox")


def _on_signup(session, shop, contact, inbound, decision, outcome, now) -> None:  # noqa: ANN001
    log_timeline(session, contact, "keyword", f"keyword:{inbound.id}",
                 f"{decision.keyword.upper()}: asked to join the SMS list", now, inbound.id)
    try:
        asked = signup.request(session, shop, contact, channel="keyword", keyword=decision.keyword,
                               now=now, inbound=inbound)
    except signup.SignupRefused as refused:
        outcome.reason = refused.reason
        return
    outcome.replies.append(asked.reply)
    outcome.actions.append("signup_requested" if asked.request else "already_subscribed")


_ROUTES = {
    "opt_out": _on_opt_out, "opt_in": _on_opt_in, "help": _on_help, "answer": _on_answer,
    "reprompt": _on_reprompt, "handoff": _on_handoff, "expired": _on_expired,
    "inbox": _on_inbox, "signup": _on_signup,
}
