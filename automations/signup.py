"""Joining the SMS list with a double opt-in: by keyword on the shop's number, on the hosted page
or pop-up, or through a back-in-stock form.

A request (`SignupRequest`) is answered by one confirmation text naming the shop and the frequency
and carrying STOP. Only the number's own confirmation (OUI/YES by SMS, or the code typed on the
page) subscribes it; the consent statement then carries everything captured as evidence. One
pending request per number: a new one within the cooldown sends nothing, a later one replaces it;
a request expires after `PENDING_TTL`; STOP cancels it. Keywords are checked on save: never a
compliance keyword (STOP, START, HELP, OUI/YES…) nor an answer a conversation expects.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import consent, keywords
from automations.conversations import queue_reply
from automations.events import SUBSCRIBED
from automations.models import Contact, Message, Shop, SignupRequest, StockAlert
from automations.signup_texts import lang_of, text

DEFAULT_KEYWORDS = ("JOIN", "INSCRIPTION")
PENDING_TTL = timedelta(hours=24)
COOLDOWN = timedelta(minutes=10)
MAX_CODE_ATTEMPTS = 5
RESERVED = (keywords.OPT_OUT_KEYWORDS | keywords.OPT_IN_KEYWORDS | keywords.HELP_KEYWORDS
            | keywords.DOUBLE_OPT_IN_ANSWERS | keywords.YES_WORDS | keywords.NO_WORDS)


class SignupRefused(ValueError):
    """A request that is not taken, with the field it is about and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason

    def messages(self) -> dict[str, list[str]]:
        return {self.field: [self.reason]}


@dataclass
class Requested:
    request: SignupRequest | None
    reply: Message | None
    code: str | None = None  # given back to the caller only to be sent by SMS (tests read it)
    already_subscribed: bool = False


# ----------------------------------------------------------------------------- keywords


def shop_keywords(shop: Shop) -> list[str]:
    configured = ((shop.settings or {}).get("signup") or {}).get("keywords")
    return list(configured) if configured else list(DEFAULT_KEYWORDS)


def keyword_errors(words: Iterable[str], answers: Iterable[str] = ()) -> dict[str, list[str]]:
    """Why each keyword cannot be used, keyed by its position: empty when all are fine."""
    expected = {keywords.phrase(a) for a in answers}
    errors: dict[str, list[str]] = {}
    seen: set[str] = set()
    for n, word in enumerate(words):
        folded = keywords.phrase(word)
        reason = None
        if not folded or not folded.replace(" ", "").isalnum() or len(folded) > 32:
            reason = "a keyword is one to 32 letters or digits"
        elif folded in keywords.OPT_OUT_KEYWORDS:
            reason = f"{word} is an opt-out keyword (STOP family)"
        elif folded in keywords.OPT_IN_KEYWORDS | keywords.DOUBLE_OPT_IN_ANSWERS | keywords.YES_WORDS:
            reason = f"{word} is an opt-in or confirmation word"
        elif folded in keywords.HELP_KEYWORDS:
            reason = f"{word} is a help keyword"
        elif folded in keywords.NO_WORDS or folded.isdigit():
            reason = f"{word} reads as an answer (no, a number)"
        elif folded in expected:
            reason = f"{word} is an answer a conversation flow expects"
        elif folded in seen:
            reason = f"{word} is given twice"
        if reason:
            errors[str(n)] = [reason]
        seen.add(folded)
    return errors


def expected_answers() -> set[str]:
    """Every answer the ready-made conversation flows expect, in every language."""
    from automations.scenarios import list_scenarios

    return {phrase for scenario in list_scenarios() for flow in scenario.variants.values()
            for step in flow.steps.values() for answer in step.answers for phrase in answer.phrases()}


def save_keywords(shop: Shop, words: list[str]) -> list[str]:
    """Set the shop's sign-up keywords; SignupRefused-like errors keyed by position when one
    collides (see `keyword_errors`)."""
    errors = keyword_errors(words, expected_answers())
    if errors:
        raise KeywordsRefused(errors)
    cleaned = [" ".join(w.split()).upper() for w in words]
    settings = dict(shop.settings or {})
    settings["signup"] = {**(settings.get("signup") or {}), "keywords": cleaned}
    shop.settings = settings
    return cleaned


class KeywordsRefused(ValueError):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("keywords refused")
        self.errors = errors


def matching_keyword(shop: Shop, body: str | None) -> str | None:
    """The shop's sign-up keyword this whole message is (case and accents folded), or None."""
    said = keywords.phrase(body)
    if not said or len(said) > 40:
        return None
    return next((k for k in shop_keywords(shop) if keywords.phrase(k) == said), None)


# ----------------------------------------------------------------------------- requests


def pending_for(session: Session, shop_id: int, phone: str | None, now: datetime) -> SignupRequest | None:
    if not phone:
        return None
    return session.scalars(
        sa.select(SignupRequest).where(
            SignupRequest.shop_id == shop_id, SignupRequest.phone_e164 == phone,
            SignupRequest.status == "pending", SignupRequest.expires_at > now,
        ).order_by(SignupRequest.id.desc()).limit(1)
    ).first()


def request(
    session: Session, shop: Shop, contact: Contact, *, channel: str, now: datetime,
    locale: str | None = None, keyword: str | None = None, evidence: dict[str, Any] | None = None,
    with_code: bool = False, inbound: Message | None = None,
) -> Requested:
    """Ask this number to confirm (see the module rules); SignupRefused within the cooldown."""
    if not contact.phone_e164:
        raise SignupRefused("phone", contact.phone_error or "not a valid mobile number")
    lang = lang_of(locale or contact.locale, shop)
    if contact.consent_status == SUBSCRIBED and contact.opted_out_at is None:
        body = text(shop, "already", lang)
        reply = queue_reply(session, shop, contact, None, body,
                            f"signup:already:{contact.id}:{now.isoformat()}", now, kind="system")
        return Requested(None, reply, already_subscribed=True)
    _expire(session, shop.id, contact.phone_e164, now)
    earlier = pending_for(session, shop.id, contact.phone_e164, now)
    if earlier is not None:
        if now - earlier.requested_at < COOLDOWN:
            raise SignupRefused("phone", "a confirmation was just sent to this number: "
                                         "answer it or try again in a few minutes")
        earlier.status, earlier.status_reason = "cancelled", "replaced by a newer request"
    extra = dict(evidence or {})
    req = SignupRequest(
        shop_id=shop.id, contact_id=contact.id, phone_e164=contact.phone_e164, channel=channel,
        keyword=keyword, locale=lang, page_url=extra.pop("page_url", None),
        legal_text=extra.pop("legal_text", None), legal_version=extra.pop("legal_version", None),
        ip=extra.pop("ip", None), user_agent=extra.pop("user_agent", None),
        product_id=extra.pop("product_id", None), variant_id=extra.pop("variant_id", None),
        status="pending", requested_at=now,
        messages=[_said("in", inbound.body or "", now, inbound.id)] if inbound is not None else [], expires_at=now + PENDING_TTL,
    )
    session.add(req)
    session.flush()
    code = None
    if with_code:
        code = f"{secrets.randbelow(1_000_000):06d}"
        req.code_hash = _hash(req, code)
        body = text(shop, "request_code", lang, code=code)
    else:
        body = text(shop, "request_keyword", lang)
    reply = queue_reply(session, shop, contact, None, body, f"signup:{req.id}:request", now,
                        kind="system")
    logged = body.replace(code, "******") if code else body
    req.messages = [*req.messages, _said("out", logged, now, reply.id)]
    session.flush()
    return Requested(req, reply, code)


def note_inbound(req: SignupRequest, inbound: Message, now: datetime) -> None:
    req.messages = [*req.messages, _said("in", inbound.body or "", now, inbound.id)]


def confirm_by_sms(
    session: Session, shop: Shop, contact: Contact, inbound: Message, keyword: str, now: datetime
) -> SignupRequest | None:
    """OUI/YES from a number with a pending request: subscribed, with the exchange as evidence."""
    req = pending_for(session, shop.id, contact.phone_e164, now)
    if req is None:
        return None
    note_inbound(req, inbound, now)
    _confirm(session, shop, contact, req, f"sms reply {keyword.upper()}", now)
    return req


def confirm_by_code(
    session: Session, shop: Shop, phone: str, code: str, now: datetime
) -> SignupRequest:
    """The code typed on the page; SignupRefused (field `code`) when wrong, spent or expired."""
    req = pending_for(session, shop.id, phone, now)
    if req is None or req.code_hash is None:
        raise SignupRefused("code", "no confirmation is waiting for this number: ask again")
    if req.attempts >= MAX_CODE_ATTEMPTS:
        raise SignupRefused("code", "too many wrong codes: ask for a new one")
    req.attempts += 1
    if not hmac.compare_digest(req.code_hash, _hash(req, code.strip())):
        session.flush()
        raise SignupRefused("code", "this code is not the one we sent")
    contact = session.get(Contact, req.contact_id)
    req.messages = [*req.messages, _said("web", "code entered on the page", now, None)]
    _confirm(session, shop, contact, req, "code typed on the page", now)
    return req


def cancel_pending(session: Session, contact: Contact, reason: str, now: datetime) -> int:
    """STOP while a request waits: nothing is confirmed by a later OUI."""
    found = session.scalars(sa.select(SignupRequest).where(
        SignupRequest.contact_id == contact.id, SignupRequest.status == "pending")).all()
    for req in found:
        req.status, req.status_reason = "cancelled", reason
    return len(found)


def proof(req: SignupRequest) -> dict[str, Any]:
    """What the consent ledger keeps of a confirmed request."""
    return {
        "signup_id": req.id, "channel": req.channel, "keyword": req.keyword,
        "page_url": req.page_url, "legal_text": req.legal_text, "legal_version": req.legal_version,
        "ip": req.ip, "user_agent": req.user_agent, "locale": req.locale,
        "requested_at": req.requested_at.isoformat(),
        "confirmed_at": req.confirmed_at.isoformat() if req.confirmed_at else None,
        "confirmation": req.status_reason, "messages": list(req.messages),
        "product_id": req.product_id, "variant_id": req.variant_id,
    }


def _confirm(
    session: Session, shop: Shop, contact: Contact, req: SignupRequest, how: str, now: datetime
) -> None:
    req.status, req.status_reason, req.confirmed_at = "confirmed", how, now
    lang = req.locale
    reply = queue_reply(session, shop, contact, None, text(shop, "confirmed", lang),
                        f"signup:{req.id}:confirmed", now, kind="system")
    req.messages = [*req.messages, _said("out", reply.body or "", now, reply.id)]
    source = "sms_keyword" if req.channel == "keyword" else f"signup_{req.channel}"
    consent.opt_in(session, contact, source, proof(req), now)
    if req.variant_id:
        session.add(StockAlert(shop_id=shop.id, contact_id=contact.id, product_id=req.product_id,
                               variant_id=req.variant_id, signup_id=req.id, status="waiting",
                               created_at=now))
    session.flush()


def _expire(session: Session, shop_id: int, phone: str, now: datetime) -> None:
    session.execute(
        sa.update(SignupRequest)
        .where(SignupRequest.shop_id == shop_id, SignupRequest.phone_e164 == phone,
               SignupRequest.status == "pending", SignupRequest.expires_at <= now)
        .values(status="expired", status_reason="not confirmed in time")
        .execution_options(synchronize_session=False)
    )


def _hash(req: SignupRequest, code: str) -> str:
    return hashlib.sha256(f"{req.id}:{req.phone_e164}:{code}".encode()).hexdigest()


def _said(direction: str, body: str, at: datetime, message_id: int | None) -> dict[str, Any]:
    return {"direction": direction, "body": body, "at": at.isoformat(), "message_id": message_id}
