"""Admin: the human inbox (conversations by status, one conversation's history with reply, assign,
close and notes) and the conversation KPIs. `/admin/conversations/<id>` is the address the
HubSpot timeline links to.

Agent replies go out through the dispatcher like every SMS: not held by marketing send windows,
refused for a contact who replied STOP, written to the contact's HubSpot timeline once sent.
"""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for

from automations import inbox
from automations.models import Contact, Conversation, utcnow
from connector.web import rt
from connector.web.admin_auth import admin_required

bp = Blueprint("inbox", __name__, url_prefix="/admin/conversations")

DEFAULT_AGENT = "merchant"


def _agent() -> str:
    """Who acts: the name typed in the form, remembered for the next action."""
    name = (request.form.get("agent") or session.get("agent") or DEFAULT_AGENT).strip()[:255]
    session["agent"] = name or DEFAULT_AGENT
    return session["agent"]


def _conversation(conversation_id: int) -> Conversation:
    conversation = g.db.get(Conversation, conversation_id)
    if conversation is None or conversation.shop_id != g.shop.id:
        abort(404, description="no such conversation in this shop")
    return conversation


@bp.get("")
@admin_required
def index():
    status = request.args.get("status") or None
    every = inbox.list_conversations(g.db, g.shop)
    counts = Counter(c.status for c in every)
    unread = Counter()
    for c in every:
        unread[c.status] += c.unread_count
    try:
        shown = inbox.list_conversations(g.db, g.shop, status) if status else every
    except inbox.InboxError as exc:
        abort(400, description=str(exc))
    return render_template("inbox_list.html", shop=g.shop, conversations=shown, status=status,
                           statuses=inbox.STATUSES, counts=counts, unread=unread,
                           total_unread=sum(unread.values()))


def _render_view(conversation: Conversation, error: str | None = None, status: int = 200,
                 draft: str = ""):
    contact = g.db.get(Contact, conversation.contact_id)
    page = render_template(
        "inbox_view.html", shop=g.shop, conversation=conversation, contact=contact,
        history=inbox.history(g.db, conversation), error=error, draft=draft,
        agent=session.get("agent") or DEFAULT_AGENT, now=utcnow(),
        automation=(conversation.state or {}).get("automation"))
    return page, status


@bp.get("/<int:conversation_id>")
@admin_required
def view(conversation_id: int):
    conversation = _conversation(conversation_id)
    page = _render_view(conversation)
    if conversation.unread_count:
        inbox.mark_read(g.db, conversation)
        g.db.commit()
    return page


def _act(conversation_id: int, action) -> object:  # noqa: ANN001
    """Run an inbox action, commit, and go back to the conversation; show a refusal in place."""
    conversation = _conversation(conversation_id)
    try:
        result = action(conversation, _agent(), utcnow())
    except inbox.ContactOptedOut as exc:
        g.db.rollback()
        return _render_view(conversation, str(exc), 409, request.form.get("text", ""))
    except inbox.InboxError as exc:
        g.db.rollback()
        return _render_view(conversation, str(exc), 400, request.form.get("text", ""))
    g.db.commit()
    if result:
        flash(result)
    return redirect(url_for("inbox.view", conversation_id=conversation_id))


@bp.post("/<int:conversation_id>/reply")
@admin_required
def reply(conversation_id: int):
    def send(conversation, agent, now):  # noqa: ANN001, ANN202
        inbox.agent_reply(g.db, conversation, request.form.get("text", ""), agent, now)
        g.db.commit()
        rt().signal("dispatch")
        return "Reply queued: it leaves now."

    return _act(conversation_id, send)


@bp.post("/<int:conversation_id>/assign")
@admin_required
def assign(conversation_id: int):
    def do(conversation, agent, now):  # noqa: ANN001, ANN202
        inbox.assign(g.db, conversation, (request.form.get("assignee") or agent).strip(), now)
        return f"Assigned to {conversation.assigned_to}."

    return _act(conversation_id, do)


@bp.post("/<int:conversation_id>/close")
@admin_required
def close(conversation_id: int):
    def do(conversation, agent, now):  # noqa: ANN001, ANN202
        inbox.close(g.db, conversation, now)
        g.db.commit()
        rt().signal("dispatch")  # messages held by the handoff leave now
        return "Closed: automation resumes for this contact."

    return _act(conversation_id, do)


@bp.post("/<int:conversation_id>/note")
@admin_required
def note(conversation_id: int):
    def do(conversation, agent, now):  # noqa: ANN001, ANN202
        inbox.add_note(g.db, conversation, request.form.get("text", ""), agent, now)
        return "Note added (never sent)."

    return _act(conversation_id, do)


@bp.get("/kpis")
@admin_required
def kpis_page():
    flows = [key for key in g.db.scalars(
        sa.select(Conversation.flow_key).where(Conversation.shop_id == g.shop.id)
        .distinct().order_by(Conversation.flow_key)) if key]
    rows = [("All conversations", inbox.kpis(g.db, g.shop))]
    rows += [(key, inbox.kpis(g.db, g.shop, flow_key=key)) for key in flows]
    return render_template("inbox_kpis.html", shop=g.shop, rows=rows)
