"""The hosted sign-up page and the embeddable form (pop-up or inline) of each shop.

| route | what |
|---|---|
| `GET /join/<shop>` | the hosted page (`?lang=fr|en`, `?variant=` for "text me when it is back") |
| `GET /join/<shop>/form.json` | what the embedded form shows: legal text and its version, labels |
| `GET /join/<shop>/embed.js` | the script a merchant pastes into the theme |
| `POST /join/<shop>/request` | a phone asks to join: a confirmation text goes out (code + OUI) |
| `POST /join/<shop>/confirm` | the code typed back: the number is subscribed |

Web sign-ups are always double opt-in. A request is refused with a field-keyed error for a
bad phone or an out-of-date legal text, in the API's error shape (400, `messages` by field); rate limits per client IP (`PARLONS_LIMIT_SIGNUP_IP`)
and per number (`PARLONS_LIMIT_SIGNUP_PHONE`) and the per-number cooldown answer 429. A filled
honeypot field (`website`) gets the same answer as a real request and nothing is sent. A number
already subscribed gets no text either (the answer does not tell whether it was), so nobody can
use the form to learn who subscribed or to text a number that did not ask.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy.orm import Session

from automations import signup
from automations.catalog_alerts import variant_gid
from automations.contacts import normalise_phone, upsert_contact
from automations.events import SUBSCRIBED, ContactData
from automations.models import Shop, StockAlert, utcnow
from automations.signup_texts import LEGAL_TEXTS, lang_of, legal
from connector.web import limits, rt
from connector.worker.growth import welcome_due

log = logging.getLogger("parlons.signup")
bp = Blueprint("join", __name__)
SCRIPT = Path(__file__).parent / "static" / "signup.js"
LANGS = tuple(LEGAL_TEXTS)
LABELS = {
    "fr": {"title": "Recevez nos offres par SMS", "phone": "Votre numéro de mobile",
           "submit": "Je m'inscris", "code": "Code reçu par SMS", "confirm": "Confirmer",
           "sent": "Un SMS vient de partir : saisissez le code ou répondez OUI.",
           "done": "C'est confirmé, merci !", "back": "Prévenez-moi par SMS quand il revient",
           "close": "Fermer"},
    "en": {"title": "Get our offers by text", "phone": "Your mobile number",
           "submit": "Sign me up", "code": "Code received by text", "confirm": "Confirm",
           "sent": "A text is on its way: type the code or reply YES.",
           "done": "Confirmed, thank you!", "back": "Text me when it is back",
           "close": "Close"},
}


class RequestForm(Schema):
    class Meta:
        unknown = EXCLUDE

    phone = fields.String(required=True, validate=validate.Length(min=1, max=32))
    lang = fields.String(load_default=None, validate=validate.OneOf(LANGS))
    legal_version = fields.String(required=True, validate=validate.Length(min=1, max=32))
    page_url = fields.String(load_default=None, validate=validate.Length(max=2000))
    website = fields.String(load_default="")  # the honeypot: people never see it
    product_id = fields.String(load_default=None, validate=validate.Length(max=64))
    variant_id = fields.String(load_default=None, validate=validate.Length(max=64))


class ConfirmForm(Schema):
    class Meta:
        unknown = EXCLUDE

    phone = fields.String(required=True, validate=validate.Length(min=1, max=32))
    code = fields.String(required=True, validate=validate.Regexp(r"^\s*\d{6}\s*$", error="six digits"))


@bp.after_request
def open_to_every_site(response: Response) -> Response:
    """The form is embedded in the shop's own site: any origin may call it (no cookie is used)."""
    if request.path.startswith("/join/"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Vary"] = "Accept-Language"
    return response


@bp.get("/join/<domain>")
def page(domain: str):
    with rt().db.session() as session:
        shop = _shop(session, domain)
        form = _form(shop, _lang(shop))
    return render_template("signup_page.html", form=form, domain=shop.domain,
                           variant=request.args.get("variant", "")[:64],
                           product=request.args.get("product", "")[:64])


@bp.get("/join/<domain>/form.json")
def form_json(domain: str):
    with rt().db.session() as session:
        shop = _shop(session, domain)
        return jsonify(_form(shop, _lang(shop)))


@bp.get("/join/<domain>/embed.js")
def script(domain: str):
    response = Response(SCRIPT.read_text(encoding="utf-8"), mimetype="application/javascript")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.post("/join/<domain>/request")
def ask(domain: str):
    runtime = rt()
    wait = _limits().wait("limit_signup_ip", limits.client_ip())
    if wait:
        return limits.too_many(wait, "too many sign-ups from this address: wait before trying again")
    try:
        form = RequestForm().load(_body())
    except ValidationError as exc:
        return _invalid(exc.normalized_messages())
    now = utcnow()
    form["variant_id"] = variant_gid(form["variant_id"])
    if form["product_id"] and form["product_id"].strip().isdigit():
        form["product_id"] = f"gid://shopify/Product/{form['product_id'].strip()}"
    with runtime.db.transaction() as session:
        shop = _shop(session, domain)
        lang = lang_of(form["lang"] or _lang(shop), shop)
        text, version = legal(shop, lang)
        if form["website"]:
            log.info("sign-up honeypot filled on %s: nothing sent", shop.domain)
            return _pending()
        phone = normalise_phone(form["phone"], shop.default_region)
        if phone.e164 is None:
            return _invalid({"phone": [phone.error or "not a valid mobile number"]})
        if form["legal_version"] != version:
            return _invalid({"legal_version": ["the consent text has changed: reload the page"]})
        wait = _limits().wait("limit_signup_phone", f"{shop.id}:{phone.e164}")
        if wait:
            return limits.too_many(wait, "too many confirmation texts for this number: try later")
        found = upsert_contact(session, shop, ContactData(phone=phone.e164), source="web")
        contact = found.contact
        if found.created:
            contact.locale = lang  # the page's language is all we know of a new number
        if contact.consent_status == SUBSCRIBED and contact.opted_out_at is None:
            if form["variant_id"]:
                _watch(session, shop, contact.id, form, now)
            return _pending()
        channel = "back_in_stock" if form["variant_id"] else "web"
        evidence: dict[str, Any] = {
            "page_url": form["page_url"] or request.referrer or request.url,
            "legal_text": text, "legal_version": version, "ip": limits.client_ip(),
            "user_agent": (request.headers.get("User-Agent") or "")[:1000],
            "product_id": form["product_id"], "variant_id": form["variant_id"],
        }
        try:
            signup.request(session, shop, contact, channel=channel, locale=lang, now=now,
                           evidence=evidence, with_code=True)
        except signup.SignupRefused as refused:
            return limits.too_many(int(signup.COOLDOWN.total_seconds()), refused.reason)
    runtime.signal("dispatch")
    return _pending()


@bp.post("/join/<domain>/confirm")
def confirm(domain: str):
    runtime = rt()
    wait = _limits().wait("limit_signup_ip", limits.client_ip())
    if wait:
        return limits.too_many(wait, "too many attempts from this address: wait before trying again")
    try:
        form = ConfirmForm().load(_body())
    except ValidationError as exc:
        return _invalid(exc.normalized_messages())
    now = utcnow()
    with runtime.db.transaction() as session:
        shop = _shop(session, domain)
        phone = normalise_phone(form["phone"], shop.default_region)
        if phone.e164 is None:
            return _invalid({"phone": [phone.error or "not a valid mobile number"]})
        try:
            signup.confirm_by_code(session, shop, phone.e164, form["code"], now)
        except signup.SignupRefused as refused:
            return _invalid(refused.messages())  # the transaction keeps the attempt counted
    runtime.queue("events").enqueue(welcome_due)
    runtime.signal("dispatch")
    return jsonify(status="confirmed")


def _watch(session: Session, shop: Shop, contact_id: int, form: dict[str, Any], now: Any) -> None:
    """A subscribed number asking for a back-in-stock alert: no confirmation needed."""
    waiting = session.scalar(sa.select(StockAlert.id).where(
        StockAlert.contact_id == contact_id, StockAlert.variant_id == form["variant_id"],
        StockAlert.status == "waiting"))
    if waiting is None:
        session.add(StockAlert(shop_id=shop.id, contact_id=contact_id, product_id=form["product_id"],
                               variant_id=form["variant_id"], status="waiting", created_at=now))


def _form(shop: Shop, lang: str) -> dict[str, Any]:
    text, version = legal(shop, lang)
    return {"shop": shop.name or shop.domain, "lang": lang, "legal_text": text,
            "legal_version": version, "labels": LABELS[lang]}


def _shop(session: Session, domain: str) -> Shop:
    shop = session.scalar(sa.select(Shop).where(Shop.domain == domain[:255]))
    if shop is None or not shop.active or not shop.sms_number:
        abort(404, description="no sign-up form here")
    return shop


def _lang(shop: Shop) -> str:
    asked = request.args.get("lang")
    if asked in LANGS:
        return asked
    return request.accept_languages.best_match(LANGS) or lang_of(None, shop)


def _body() -> dict[str, Any]:
    if request.is_json:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}
    return request.form.to_dict()


def _pending() -> tuple[Response, int]:
    return jsonify(status="pending", expires_in=int(signup.PENDING_TTL.total_seconds())), 202


def _invalid(errors: dict[str, Any]) -> tuple[Response, int]:
    return jsonify(error="invalid", message="some fields are not valid", messages=errors), 400


def _limits() -> limits.Limits:
    return current_app.extensions["parlons_limits"]
