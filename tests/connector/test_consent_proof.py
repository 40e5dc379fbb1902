"""Consent proof export (REST and CLI), per contact and for the whole base, CSV and JSON, with
every field an audit needs."""

from __future__ import annotations

import csv
import io
import json
import re

import sqlalchemy as sa

from automations import consent
from automations.consent_proof import FIELDS
from automations.events import ConsentData
from automations.models import Contact, Message, Shop, utcnow
from automations.signup_texts import LEGAL_VERSION
from connector.commands.consent_proof import consent_proof_command
from connector.worker import callbacks
from integrations.sms import InboundSms
from tests.connector.api_helpers import bearer, new_key

SHOP = "boutique-lumiere.myshopify.com"
UA = "Mozilla/5.0 (Android 15; Mobile)"


def seed(app, client) -> tuple[str, int, int]:
    """A web sign-up confirmed by code, a keyword sign-up confirmed by OUI, and a Shopify statement."""
    runtime = app.extensions["parlons"]
    with runtime.db.transaction() as s:
        s.add(Shop(domain=SHOP, name="Boutique Lumière", sms_number="+33757000001"))
    key = new_key(runtime.db, SHOP)
    client.post(f"/join/{SHOP}/request", headers={"User-Agent": UA}, data={
        "phone": "0612345678", "legal_version": LEGAL_VERSION, "lang": "fr", "page_url": "https://lumiere.fr/sms"})
    with runtime.db.session() as s:
        code = re.search(r"\d{6}", s.scalar(sa.select(Message.body))).group()
    assert client.post(f"/join/{SHOP}/confirm", data={"phone": "0612345678", "code": code}).status_code == 200
    for n, body in enumerate(("JOIN", "Oui")):
        with runtime.db.transaction() as s:
            shop = s.scalar(sa.select(Shop))
            sms = InboundSms(from_="+33698765432", to=shop.sms_number, text=body, provider_id=f"SM{n:032d}")
            callbacks.receive_sms(runtime, s, shop, sms, utcnow(), provider="twilio", key=f"inbound:twilio:SM{n:032d}")
    with runtime.db.transaction() as s:
        web = s.scalar(sa.select(Contact).where(Contact.phone_e164 == "+33612345678"))
        now = utcnow()
        consent.record(s, web, ConsentData("subscribed", "shopify", now, {
            "consent_collected_from": "SHOPIFY", "opt_in_level": "CONFIRMED_OPT_IN"}), now)
        keyword = s.scalar(sa.select(Contact.id).where(Contact.phone_e164 == "+33698765432"))
        return key, web.id, keyword


def test_the_proof_of_one_contact_in_json_has_every_field(app, client):
    key, web_id, _ = seed(app, client)
    answer = client.get(f"/api/v1/consent-proof?contact_id={web_id}", headers=bearer(key))
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="consent-proof-{web_id}.json"'
    document = json.loads(answer.get_data(as_text=True))
    assert document["shop"] == SHOP and document["fields"] == list(FIELDS)
    web, shopify = document["records"]
    assert set(web) == set(FIELDS)
    assert (web["contact_id"], web["phone"], web["status"], web["source"]) == (
        web_id, "+33612345678", "subscribed", "signup_web")
    assert (web["channel"], web["page_url"], web["legal_version"]) == ("web", "https://lumiere.fr/sms", LEGAL_VERSION)
    assert web["legal_text"].startswith("En saisissant mon numéro")
    assert (web["ip"], web["user_agent"], web["confirmation"]) == ("127.0.0.1", UA, "code typed on the page")
    assert web["captured_by"] == "the number itself"
    assert [m["direction"] for m in web["messages"]] == ["out", "web", "out"]
    assert (shopify["source"], shopify["captured_by"]) == ("shopify", "Shopify SHOPIFY")


def test_the_whole_base_in_csv_and_through_the_cli(app, client, tmp_path):
    key, web_id, keyword_id = seed(app, client)
    answer = client.get("/api/v1/consent-proof?format=csv", headers=bearer(key))
    assert answer.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [(int(r["contact_id"]), r["source"]) for r in table] == [
        (web_id, "signup_web"), (web_id, "shopify"), (keyword_id, "sms_keyword")]
    joined = table[2]
    assert (joined["channel"], joined["keyword"], joined["confirmation"]) == ("keyword", "JOIN", "sms reply OUI")
    assert [(m["direction"], m["body"]) for m in json.loads(joined["messages"])][::2] == [("in", "JOIN"), ("in", "Oui")]
    # the CLI writes the same export to a file
    out = tmp_path / "proof.csv"
    result = app.test_cli_runner().invoke(consent_proof_command, ["--shop", SHOP, "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")))) == table
    refused = app.test_cli_runner().invoke(consent_proof_command, ["--shop", SHOP, "--contact", "999999"])
    assert refused.exit_code != 0 and "no contact 999999" in refused.output


def test_another_shops_contact_is_not_found(app, client):
    key, _, _ = seed(app, client)
    answer = client.get("/api/v1/consent-proof?contact_id=999999", headers=bearer(key))
    assert answer.status_code == 404 and answer.get_json()["messages"] == {"contact_id": ["no contact 999999 in this shop"]}


def test_erasing_a_contact_erases_what_its_sign_up_captured(app, client):
    from automations.models import SignupRequest

    key, web_id, _ = seed(app, client)
    assert client.post(f"/api/v1/contacts/{web_id}/erase", headers=bearer(key)).status_code == 200
    with app.extensions["parlons"].db.session() as s:
        req = s.scalars(sa.select(SignupRequest).where(SignupRequest.contact_id == web_id)).one()
        assert (req.phone_e164, req.ip, req.user_agent, req.page_url, req.messages) == (
            "[redacted]", None, None, None, [])
    proof = client.get(f"/api/v1/consent-proof?contact_id={web_id}", headers=bearer(key)).get_json()
    assert all(r["ip"] is None and r["messages"] == [] and r["phone"] is None for r in proof["records"])
