"""Joining the SMS list by texting a keyword: double opt-in, evidence, welcome flow, collisions."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from automations import rules, signup, signup_welcome
from automations.flows import default_rules
from automations.models import ConsentEvent, Contact, Message, SignupRequest
from tests.automations.test_conversations import NOW, make_contact, reply


def outbound(session) -> list[str]:
    return list(session.scalars(
        sa.select(Message.body).where(Message.direction == "outbound").order_by(Message.id)))


def welcome_rule(session, shop) -> None:
    rule = next(r for r in default_rules() if r["key"] == "welcome")
    rules.save_rule(session, shop, {**rule, "enabled": True})


def test_keyword_then_oui_subscribes_with_the_exchange_as_evidence_and_starts_the_welcome(session, shop):
    # given a French number that never subscribed, and the welcome flow on
    welcome_rule(session, shop)
    contact = make_contact(session, shop, consent_status="not_subscribed")
    # when it texts the keyword
    asked = reply(session, shop, contact, "Inscription")
    # then it is asked to confirm, naming the shop and the frequency, with STOP; nothing else yet
    assert asked.actions == ["signup_requested"]
    request_text = outbound(session)[-1]
    assert request_text.startswith("Boutique Lumière : répondez OUI")
    assert "jusqu'à 4 SMS par semaine" in request_text and "STOP" in request_text
    assert contact.consent_status == "not_subscribed"
    # when it answers OUI
    confirmed = reply(session, shop, contact, "oui", at=NOW + timedelta(minutes=3))
    # then it is subscribed by its own confirmation, the texts exchanged kept as evidence
    assert confirmed.actions == ["signup_confirmed"]
    assert contact.consent_status == "subscribed" and contact.consent_source == "sms_keyword"
    entry = session.scalars(sa.select(ConsentEvent).where(ConsentEvent.contact_id == contact.id)).one()
    evidence = entry.evidence
    assert (evidence["channel"], evidence["keyword"]) == ("keyword", "INSCRIPTION")
    assert [(m["direction"], m["body"]) for m in evidence["messages"]] == [
        ("in", "Inscription"), ("out", request_text), ("in", "oui"),
        ("out", "Inscription confirmée aux SMS de Boutique Lumière. Répondez STOP pour vous désabonner.")]
    assert evidence["confirmation"] == "sms reply OUI"
    # and the welcome flow starts once, carrying the subscriber's own code
    (req,) = signup_welcome.due(session)
    outcome = signup_welcome.start(session, shop, req, "BIENVENUE-7QX2", NOW + timedelta(minutes=4))
    assert len(outcome.flows_started) == 1 and signup_welcome.due(session) == []
    welcome = session.get(Message, outcome.messages[0])
    assert "BIENVENUE-7QX2" in welcome.body and welcome.kind == "marketing"


def test_keyword_in_english_confirmed_by_yes(session, shop):
    # given an English-speaking number
    contact = make_contact(session, shop, consent_status="not_subscribed", locale="en",
                           phone_e164="+447700900123")
    # when it texts JOIN, then YES
    reply(session, shop, contact, "join")
    assert outbound(session)[-1].startswith("Boutique Lumière: reply YES to get our offers")
    reply(session, shop, contact, "YES", at=NOW + timedelta(minutes=1))
    # then it is subscribed and told so in English
    assert contact.consent_status == "subscribed"
    assert outbound(session)[-1] == "You are subscribed to Boutique Lumière texts. Reply STOP to opt out."


def test_without_confirmation_nothing_is_subscribed_and_a_late_oui_is_not_consent(session, shop):
    # given a number that texted the keyword but never confirmed
    contact = make_contact(session, shop, consent_status="not_subscribed")
    reply(session, shop, contact, "JOIN")
    reply(session, shop, contact, "c'est quoi ?", at=NOW + timedelta(minutes=1))
    assert contact.consent_status == "not_subscribed"
    # when OUI arrives after the request expired
    late = reply(session, shop, contact, "OUI", at=NOW + signup.PENDING_TTL + timedelta(minutes=1))
    # then it is not consent: it goes to a human
    assert late.actions == ["inbox"]
    assert contact.consent_status == "not_subscribed"
    assert session.scalars(sa.select(ConsentEvent)).all() == []


def test_stop_before_confirming_cancels_the_request(session, shop):
    # given a pending keyword request
    contact = make_contact(session, shop, consent_status="not_subscribed")
    reply(session, shop, contact, "JOIN")
    # when the number answers STOP, then OUI
    reply(session, shop, contact, "STOP", at=NOW + timedelta(minutes=1))
    after = reply(session, shop, contact, "OUI", at=NOW + timedelta(minutes=2))
    # then it stays opted out: the OUI subscribes nothing
    req = session.scalars(sa.select(SignupRequest)).one()
    assert (req.status, req.status_reason) == ("cancelled", "STOP before confirming")
    assert after.actions == ["inbox"] and contact.opted_out_at is not None
    assert contact.consent_status == "unsubscribed"


def test_a_stopped_number_can_join_again_by_its_own_keyword_and_confirmation(session, shop):
    # given a number that replied STOP earlier
    contact = make_contact(session, shop)
    reply(session, shop, contact, "STOP")
    # when it texts the keyword and confirms
    reply(session, shop, contact, "JOIN", at=NOW + timedelta(days=2))
    reply(session, shop, contact, "OUI", at=NOW + timedelta(days=2, minutes=1))
    # then the STOP is lifted by that explicit opt-in
    assert contact.opted_out_at is None and contact.consent_status == "subscribed"


def test_repeated_keyword_within_the_cooldown_sends_one_confirmation(session, shop):
    contact = make_contact(session, shop, consent_status="not_subscribed")
    reply(session, shop, contact, "JOIN")
    second = reply(session, shop, contact, "JOIN", at=NOW + timedelta(minutes=1))
    assert "a confirmation was just sent" in second.reason
    assert len(outbound(session)) == 1


def test_already_subscribed_number_is_told_so(session, shop):
    contact = make_contact(session, shop)
    outcome = reply(session, shop, contact, "join")
    assert outcome.actions == ["already_subscribed"]
    assert session.scalars(sa.select(SignupRequest)).all() == []


def test_a_shop_keyword_such_as_soldes_works_and_colliding_keywords_are_refused(session, shop):
    # given the shop's own keyword
    shop.settings = {**shop.settings, "signup": {"keywords": ["SOLDES"]}}
    contact = make_contact(session, shop, consent_status="not_subscribed")
    assert reply(session, shop, contact, "soldes !").actions == ["signup_requested"]
    # then keywords colliding with compliance words or conversation answers are refused, with why
    errors = signup.keyword_errors(["STOP", "Oui", "aide", "START", "2", "ACHETER", "SOLDES", "soldes"],
                                   answers=["ACHETER", "?"])
    assert errors == {
        "0": ["STOP is an opt-out keyword (STOP family)"],
        "1": ["Oui is an opt-in or confirmation word"],
        "2": ["aide is a help keyword"],
        "3": ["START is an opt-in or confirmation word"],
        "4": ["2 reads as an answer (no, a number)"],
        "5": ["ACHETER is an answer a conversation flow expects"],
        "7": ["soldes is given twice"],
    }
    assert session.get(Contact, contact.id).consent_status == "not_subscribed"
