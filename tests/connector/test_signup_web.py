"""The hosted sign-up page and embeddable form: double opt-in by code or OUI, honeypot, rate
limits, cooldown, expiry, and the evidence kept."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from automations.models import ConsentEvent, Contact, Message, Shop, SignupRequest, utcnow
from automations.signup_texts import LEGAL_VERSION
from connector.worker import callbacks
from integrations.sms import InboundSms

SHOP = "boutique-lumiere.myshopify.com"
PHONE = "06 12 34 56 78"
E164 = "+33612345678"
UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)"


@pytest.fixture
def db(app):
    runtime = app.extensions["parlons"]
    with runtime.db.transaction() as session:
        session.add(Shop(domain=SHOP, name="Boutique Lumière", locale="fr", sms_number="+33757000001",
                         default_region="FR"))
    return runtime.db


def ask(client, phone=PHONE, **fields):
    data = {"phone": phone, "legal_version": LEGAL_VERSION, "lang": "fr",
            "page_url": "https://boutique-lumiere.fr/pages/sms"} | fields
    return client.post(f"/join/{SHOP}/request", data=data, headers={"User-Agent": UA})


def sent(db) -> list[Message]:
    with db.session() as s:
        return list(s.scalars(sa.select(Message).where(Message.direction == "outbound").order_by(Message.id)))


def code_in(message: Message) -> str:
    return re.search(r"\b(\d{6})\b", message.body)[1]


def test_the_page_and_the_form_show_the_legal_text_in_the_visitors_language(client, db):
    page = client.get(f"/join/{SHOP}", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert page.status_code == 200
    assert "By entering my number, I agree to receive marketing text messages from Boutique Lumière" in page.text
    assert f"/join/{SHOP}/embed.js" in page.text
    form = client.get(f"/join/{SHOP}/form.json", headers={"Accept-Language": "fr-FR"}).get_json()
    assert form["lang"] == "fr" and form["legal_version"] == LEGAL_VERSION
    assert form["legal_text"].startswith("En saisissant mon numéro, j'accepte de recevoir des SMS marketing "
                                         "de Boutique Lumière (jusqu'à 4 SMS par semaine)")
    script = client.get(f"/join/{SHOP}/embed.js")
    assert script.mimetype == "application/javascript" and "data-parlons-signup" in script.text
    assert client.get("/join/unknown.myshopify.com/form.json").status_code == 404


def test_web_sign_up_confirmed_by_the_code_keeps_every_piece_of_evidence(client, db):
    # given a visitor who typed their number on the shop's page
    answer = ask(client)
    assert answer.status_code == 202 and answer.get_json()["status"] == "pending"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    # then one text asks them to confirm with the code or OUI, naming the shop and STOP
    (request_text,) = sent(db)
    assert request_text.to_phone == E164 and request_text.kind == "system"
    assert "Boutique Lumière : votre code est" in request_text.body and "OUI" in request_text.body
    assert "STOP" in request_text.body
    with db.session() as s:
        assert s.scalar(sa.select(Contact.consent_status)) == "not_subscribed"
    # when a wrong code is typed, then the right one
    wrong = client.post(f"/join/{SHOP}/confirm", data={"phone": PHONE, "code": "000000"})
    assert wrong.status_code == 400 and wrong.get_json()["messages"] == {"code": ["this code is not the one we sent"]}
    right = client.post(f"/join/{SHOP}/confirm", data={"phone": PHONE, "code": code_in(request_text)})
    # then the number is subscribed, with what was captured as evidence
    assert right.status_code == 200 and right.get_json() == {"status": "confirmed"}
    with db.session() as s:
        contact = s.scalars(sa.select(Contact)).one()
        assert (contact.consent_status, contact.consent_source) == ("subscribed", "signup_web")
        evidence = s.scalars(sa.select(ConsentEvent)).one().evidence
    assert evidence["page_url"] == "https://boutique-lumiere.fr/pages/sms"
    assert evidence["legal_version"] == LEGAL_VERSION and evidence["legal_text"].startswith("En saisissant")
    assert evidence["ip"] == "127.0.0.1" and evidence["user_agent"] == UA
    assert evidence["confirmation"] == "code typed on the page"
    assert [m["direction"] for m in evidence["messages"]] == ["out", "web", "out"]
    assert code_in(request_text) not in str(evidence)  # the code itself is not kept
    # and a code cannot be used twice
    again = client.post(f"/join/{SHOP}/confirm", data={"phone": PHONE, "code": code_in(request_text)})
    assert again.status_code == 400


def test_web_sign_up_confirmed_by_replying_oui(app, client, db):
    # given a pending web sign-up
    assert ask(client).status_code == 202
    # when the number replies OUI by SMS (through the worker's inbound handling)
    runtime = app.extensions["parlons"]
    with runtime.db.transaction() as session:
        shop = session.scalar(sa.select(Shop))
        sms = InboundSms(from_=E164, to=shop.sms_number, text="Oui !", provider_id="SM" + "1" * 32)
        result = callbacks.receive_sms(runtime, session, shop, sms, utcnow(), provider="twilio",
                                       key="inbound:twilio:SM" + "1" * 32)
    # then it is subscribed, the reply kept among the evidence
    assert "signup_confirmed" in result["reply"]["actions"]
    with db.session() as s:
        assert s.scalar(sa.select(Contact.consent_status)) == "subscribed"
        evidence = s.scalars(sa.select(ConsentEvent)).one().evidence
    assert [(m["direction"], m["body"]) for m in evidence["messages"]][1] == ("in", "Oui !")
    assert evidence["confirmation"] == "sms reply OUI"


def test_the_honeypot_gets_the_same_answer_and_nothing_is_sent(client, db):
    answer = ask(client, website="http://spam.example")
    assert answer.status_code == 202
    assert sent(db) == []
    with db.session() as s:
        assert s.scalars(sa.select(SignupRequest)).all() == [] and s.scalars(sa.select(Contact)).all() == []


def test_bad_input_gets_field_keyed_errors(client, db):
    assert ask(client, phone="12").get_json()["messages"].keys() == {"phone"}
    stale = ask(client, legal_version="2019-01")
    assert stale.status_code == 400
    assert stale.get_json()["messages"] == {"legal_version": ["the consent text has changed: reload the page"]}
    missing = client.post(f"/join/{SHOP}/request", json={"lang": "de"}).get_json()["messages"]
    assert missing.keys() == {"phone", "legal_version", "lang"}
    assert client.post(f"/join/{SHOP}/confirm", data={"phone": PHONE, "code": "12ab"}).get_json()["messages"] == {
        "code": ["six digits"]}
    assert sent(db) == []


def test_cooldown_one_pending_confirmation_per_number_and_expiry(client, db):
    # given a number that was just sent a confirmation
    assert ask(client).status_code == 202
    # when someone asks again at once, then nothing more is sent
    again = ask(client)
    assert again.status_code == 429 and "just sent" in again.get_json()["message"]
    assert len(sent(db)) == 1
    # when the first request is older than the cooldown, a new one replaces it
    with db.transaction() as s:
        s.execute(sa.update(SignupRequest).values(requested_at=utcnow() - timedelta(minutes=11)))
    assert ask(client).status_code == 202
    with db.session() as s:
        statuses = s.scalars(sa.select(SignupRequest.status).order_by(SignupRequest.id)).all()
    assert statuses == ["cancelled", "pending"]
    first_code = code_in(sent(db)[0])
    assert client.post(f"/join/{SHOP}/confirm", data={"phone": PHONE, "code": first_code}).status_code == 400
    # and a request that expired cannot be confirmed any more
    with db.transaction() as s:
        s.execute(sa.update(SignupRequest).values(expires_at=utcnow() - timedelta(seconds=1)))
    late = client.post(f"/join/{SHOP}/confirm", data={"phone": PHONE, "code": code_in(sent(db)[1])})
    assert late.get_json()["messages"] == {"code": ["no confirmation is waiting for this number: ask again"]}


def test_rate_limit_per_number(client, db):
    # given a number asked for three times an hour apart from the cooldown
    for _ in range(3):
        assert ask(client).status_code == 202
        with db.transaction() as s:
            s.execute(sa.update(SignupRequest).values(requested_at=utcnow() - timedelta(minutes=11)))
    # then the fourth is over the per-number limit
    over = ask(client)
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0
    assert "this number" in over.get_json()["message"]
    assert len(sent(db)) == 3


def test_rate_limit_per_address(config, database, redis_conn):
    # given the app with a limit of 5 sign-ups a day per client address
    from connector import create_app

    app = create_app(dataclasses.replace(config, limit_signup_ip="5/day"))
    try:
        with app.extensions["parlons"].db.transaction() as session:
            session.add(Shop(domain=SHOP, name="Boutique Lumière", sms_number="+33757000001"))
        client = app.test_client()
        # when one address asks for seven different numbers
        answers = [ask(client, phone=f"06 12 34 56 {n:02d}").status_code for n in range(10, 17)]
        # then the sixth and seventh are refused and never texted
        assert answers == [202] * 5 + [429] * 2
        assert len(sent(app.extensions["parlons"].db)) == 5
    finally:
        app.extensions["parlons"].close()


def test_an_already_subscribed_number_is_not_texted(client, db):
    with db.transaction() as s:
        shop = s.scalar(sa.select(Shop))
        s.add(Contact(shop_id=shop.id, phone_e164=E164, consent_status="subscribed"))
    assert ask(client).status_code == 202
    assert sent(db) == []
