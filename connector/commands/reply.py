"""`parlons reply --dry-run`: how a customer's text would be understood and what would happen.

Nothing is written: no contact, message, consent change or reply is created, even for a STOP.
"""

from __future__ import annotations

import json
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from automations import contacts, conversation_texts, replies
from automations.conversation_flows import FlowDefinition
from automations.events import ContactData
from automations.models import Contact, Conversation, Shop, utcnow
from automations.templating import TemplateError, render
from connector.commands.jsonlines import answer_each_line


def understand(session: Session | None, shop: Shop | None, phone: str | None,
               text: str) -> dict[str, Any]:
    """The dry-run verdict for `text` sent by `phone` to `shop` (either may be unknown)."""
    now = utcnow()
    contact = None
    result: dict[str, Any] = {"text": text}
    if shop is not None and phone:
        e164 = contacts.normalise_phone(phone, shop.default_region).e164
        with session.no_autoflush:
            contact = contacts.find_contact(session, shop, ContactData(phone=e164), e164) \
                if e164 else None
        result["contact_id"] = contact.id if contact is not None else None
        if contact is None:
            result["note"] = "unknown sender: a new contact with no consent would be created"
    verdict = replies.dry_run(session if contact is not None else None, shop, contact,
                                    text, now)
    result.update(verdict)
    result["would_reply"] = _replies(session, shop, contact, verdict, text)
    return result


def _replies(session: Session | None, shop: Shop | None, contact: Contact | None,
             verdict: dict[str, Any], text: str) -> list[str]:
    """The texts the customer would get back, when they can be told in advance."""
    if shop is None:
        return []
    lang = conversation_texts.language(contact, shop)
    route = verdict["route"]
    opted_out = contact is not None and contact.opted_out_at is not None
    if route == "opt_out":
        return [] if opted_out else [conversation_texts.reply_text("opt_out", lang,
                                                              brand=conversation_texts.brand(shop))]
    if route == "opt_in":
        return [conversation_texts.reply_text("opt_in", lang, brand=conversation_texts.brand(shop))]
    if route == "help":
        return [] if opted_out else [conversation_texts.help_text(shop, lang)]
    if route != "answer" or contact is None or not verdict.get("conversation_id"):
        return []
    conversation = session.get(Conversation, verdict["conversation_id"])
    flow = FlowDefinition.from_dict(conversation.state["flow"])
    step = flow.steps[conversation.state.get("step", flow.start)]
    answer = next(a for a in step.answers if a.key == verdict["matched_answer"])
    variables = {**conversation_texts.template_variables(shop, contact),
                 **conversation.state.get("variables", {}), "answer": answer.key,
                 "reply_text": text}
    texts = []
    for action in answer.actions:
        if action.type in ("send", "send_link") and action.template:
            try:
                texts.append(render(action.template, variables))
            except TemplateError as exc:
                texts.append(f"(template error: {exc})")
    if answer.next:
        texts.append(render(flow.steps[answer.next].question, variables))
    return texts


def _human(result: dict[str, Any]) -> str:
    keyword = f" (keyword {result['keyword']})" if result.get("keyword") else ""
    lines = [f"intent: {result['intent']}{keyword}",
             f"route: {result['route']}" + (f" — {result['reason']}" if result.get("reason") else "")]
    if result.get("conversation_id"):
        lines.append(f"conversation: {result['conversation_id']} ({result.get('flow_key') or 'inbox'})"
                     + (f", answer {result['matched_answer']}" if result.get("matched_answer") else ""))
    lines.append(f"action: {result['action']}")
    if result.get("note"):
        lines.append(result["note"])
    lines += [f"would reply: {text}" for text in result["would_reply"]]
    return "\n".join(lines)


@click.command("reply")
@click.argument("text", required=False)
@click.option("--shop", help="The shop's domain: look at the sender's open conversation there.")
@click.option("--from", "phone", help="The sender's phone (with --shop).")
@click.option("--dry-run", is_flag=True, help="Only show what would happen (required).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def reply_command(text, shop, phone, dry_run, as_json) -> None:  # noqa: ANN001
    """How TEXT would be understood; with `-`, one JSON string per line on stdin (one JSON
    object per line out). Replies are handled by the inbound webhook: only --dry-run runs here."""
    if not dry_run:
        raise click.UsageError("only --dry-run is available: real replies arrive by the SMS "
                               "provider's webhook")
    if text is None:
        raise click.UsageError("give TEXT, or - to read JSON strings from stdin")
    if phone and not shop:
        raise click.UsageError("--from needs --shop")
    runtime = current_app.extensions["parlons"]
    with runtime.db.session() as session:
        try:
            found = None
            if shop:
                found = session.scalar(sa.select(Shop).where(Shop.domain == shop))
                if found is None:
                    raise click.ClickException(f"no shop {shop!r}")
            if text != "-":
                result = understand(session, found, phone, text)
                click.echo(json.dumps(result, ensure_ascii=False, indent=2) if as_json
                           else _human(result))
                return
            answer_each_line(lambda item: understand(session, found, phone, item))
        finally:
            session.rollback()


COMMANDS = [reply_command]
