"""Admin: contacts. Search by phone, name or email; a contact's page with their consent ledger
and its evidence, messages both ways, conversations, orders and tags; unsubscribe, export and
erase (the same operations as the REST API's, recorded as done from the admin)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from automations import consent, privacy
from automations.events import UNSUBSCRIBED, ConsentData
from automations.models import ConsentEvent, Contact, Conversation, Message, Order, utcnow
from connector.web import rt
from connector.web.admin_auth import admin_required
from connector.web.admin_i18n import translate
from connector.web.api_contacts import _search as search_clause

bp = Blueprint("admin_contacts", __name__, url_prefix="/admin/contacts")
PAGE_SIZE = 50


def _contact(contact_id: int) -> Contact:
    contact = g.db.get(Contact, contact_id)
    if contact is None or contact.shop_id != g.shop.id:
        abort(404, description="no such contact in this shop")
    return contact


@bp.get("")
@admin_required
def index():
    q = (request.args.get("q") or "").strip()
    query = sa.select(Contact).where(Contact.shop_id == g.shop.id, Contact.deleted_at.is_(None))
    if q:
        query = query.where(search_clause(g.shop, q))
    contacts = g.db.scalars(query.order_by(Contact.id.desc()).limit(PAGE_SIZE)).all()
    total = g.db.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    return render_template("admin_contacts.html", shop=g.shop, contacts=contacts, q=q, total=total,
                           page_size=PAGE_SIZE)


def _render(contact: Contact, errors: dict[str, str] | None = None, status: int = 200):
    ledger = g.db.scalars(sa.select(ConsentEvent).where(ConsentEvent.contact_id == contact.id)
                          .order_by(ConsentEvent.occurred_at.desc(), ConsentEvent.id.desc())).all()
    messages = g.db.scalars(sa.select(Message).where(Message.contact_id == contact.id)
                            .order_by(Message.created_at.desc(), Message.id.desc()).limit(100)).all()
    conversations = g.db.scalars(sa.select(Conversation).where(Conversation.contact_id == contact.id)
                                 .order_by(Conversation.id.desc())).all()
    orders = g.db.scalars(sa.select(Order).where(Order.contact_id == contact.id, Order.shop_id == g.shop.id)
                          .order_by(Order.created_at.desc()).limit(50)).all()
    return render_template("admin_contact.html", shop=g.shop, contact=contact, ledger=ledger,
                           messages=list(reversed(messages)), conversations=conversations, orders=orders,
                           errors=errors or {}, evidence=lambda e: json.dumps(e, ensure_ascii=False, indent=1)), status


@bp.get("/<int:contact_id>")
@admin_required
def show(contact_id: int):
    return _render(_contact(contact_id))


@bp.post("/<int:contact_id>/unsubscribe")
@admin_required
def unsubscribe(contact_id: int):
    contact = _contact(contact_id)
    reason = (request.form.get("reason") or "").strip()[:500]
    if not reason:
        return _render(contact, {"reason": translate("Say why, for the consent record.")}, 400)
    now = utcnow()
    evidence = {"requested_by": "merchant (admin)", "reason": reason}
    consent.record(g.db, contact, ConsentData(UNSUBSCRIBED, "admin", now, evidence), now)
    g.db.commit()
    rt().signal("crm")
    rt().signal("webhooks")
    flash(translate("Unsubscribed: no more marketing SMS to this contact."))
    return redirect(url_for("admin_contacts.show", contact_id=contact.id))


@bp.get("/<int:contact_id>/export.json")
@admin_required
def export(contact_id: int):
    record = privacy.contact_record(g.db, _contact(contact_id))
    body = json.dumps(record, ensure_ascii=False, indent=2, default=str)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="parlons-contact-{contact_id}.json"'})


@bp.post("/<int:contact_id>/erase")
@admin_required
def erase(contact_id: int):
    contact = _contact(contact_id)
    if request.form.get("confirm") != "erase":
        return _render(contact, {"confirm": translate("Tick the box to confirm: erasing cannot be undone.")}, 400)
    if contact.redacted_at is None:
        privacy.redact_contact(g.db, contact, utcnow())
        g.db.commit()
    flash(translate("Personal data erased."))
    return redirect(url_for("admin_contacts.show", contact_id=contact.id))
