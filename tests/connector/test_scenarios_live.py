"""The six ready-made scenarios, each played as a whole conversation through the product: started
through the REST API or the CLI, questions sent by the dispatcher to the Twilio sandbox phone,
answers texted back through the signed inbound route, a real worker in between."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import requests
import sqlalchemy as sa

from automations.models import Checkout, Contact, Conversation, Message, OutboundWrite
from connector.commands.conversations import conversations_group
from tests.connector.conftest import SHOP
from tests.connector.helpers import FIXTURES

PHONE = "+33612345678"
NUMBER = "+33757000001"


# ----------------------------------------------------------------------------- helpers


def api_start(live, scenario: str, to: str = PHONE, expect: int = 201, **variables) -> dict:
    answer = requests.post(f"{live.url}/api/v1/conversations", timeout=10,
                           headers={"Authorization": f"Bearer {live.runtime.config.api_token}"},
                           json={"shop": SHOP, "to": to, "scenario": scenario,
                                 "variables": variables})
    assert answer.status_code == expect, answer.text
    live.work()
    return answer.json()


def cli_start(live, *args: str) -> dict:
    result = live.app.test_cli_runner().invoke(conversations_group,
                                               ["start", "--shop", SHOP, "--json", *args])
    assert result.exit_code == 0, result.output
    live.work()
    return json.loads(result.output)


def text(live, body: str, phone: str = PHONE) -> None:
    """The customer texts the shop's number; the worker handles it and sends any reply."""
    assert live.boxes.twilio.send_inbound(phone, NUMBER, body).status_code == 200
    live.work()


def phone_texts(live, phone: str = PHONE) -> list[str]:
    return [m["body"] for m in live.boxes.twilio.inbox(phone)]


def conversation(live, conversation_id: int) -> Conversation:
    with live.runtime.db.session() as s:
        return s.get(Conversation, conversation_id)


def contact_of(live, phone: str = PHONE) -> Contact:
    with live.runtime.db.session() as s:
        return s.scalar(sa.select(Contact).where(Contact.phone_e164 == phone))


def merchant_events(live) -> list[OutboundWrite]:
    with live.runtime.db.session() as s:
        return list(s.scalars(sa.select(OutboundWrite).where(OutboundWrite.target == "shop_webhook")
                              .order_by(OutboundWrite.id)))


def shopify_customer(live, phone: str = PHONE, first_name: str = "Camille") -> str:
    """A Shopify customer with this phone, subscribed to SMS marketing, told to Parlons by the
    `customers/create` and `customers_marketing_consent/update` webhooks. Returns their gid."""
    gid = live.boxes.shopify.add_customer(SHOP, phone=phone, firstName=first_name, smsMarketingConsent={
        "marketingState": "SUBSCRIBED", "marketingOptInLevel": "SINGLE_OPT_IN",
        "consentUpdatedAt": datetime.now(UTC).isoformat(), "consentCollectedFrom": "SHOPIFY"})
    numeric = int(gid.rsplit("/", 1)[1])
    customer = json.loads((FIXTURES / "customers__create.json").read_text())
    customer.update(id=numeric, admin_graphql_api_id=gid, phone=phone, first_name=first_name,
                    email=f"{uuid.uuid4().hex[:8]}@example.org", default_address=None)
    consent = {"id": numeric, "admin_graphql_api_id": gid, "phone": phone, "sms_marketing_consent": {
        "state": "subscribed", "opt_in_level": "single_opt_in",
        "consent_updated_at": datetime.now(UTC).isoformat(), "consent_collected_from": "SHOPIFY"}}
    for topic, payload in (("customers/create", customer),
                           ("customers_marketing_consent/update", consent)):
        answer = live.boxes.shopify.emit_webhook(topic, payload, f"{live.url}/webhooks/shopify",
                                                 live.runtime.config.shopify_api_secret, shop=SHOP)
        assert answer.status_code == 200
    live.work()
    assert contact_of(live, phone).consent_status == "subscribed"
    return gid


# ----------------------------------------------------------------------------- scenarios


def test_test_drive_weekend_books_the_slot_the_customer_picks(live):
    # given a subscribed customer and the open-weekend offer started through the API
    shopify_customer(live)
    started = api_start(live, "test_drive", offer="1 000 EUR", slot_1="samedi 10h",
                        slot_2="samedi 15h", slot_3="dimanche 11h")
    [question] = phone_texts(live)
    assert "répondez 1 (samedi 10h), 2 (samedi 15h) ou 3 (dimanche 11h)" in question
    assert "STOP" in question  # a marketing question carries the opt-out mention
    # when the customer answers "le 2"
    text(live, "le 2")
    # then the second slot is booked, the dealer told, and the conversation done
    assert phone_texts(live)[-1] == ("C'est réservé Camille ! Votre essai : samedi 15h chez "
                                     "Boutique Lumière. A très vite.")
    assert contact_of(live).properties["test_drive_slot"] == "samedi 15h"
    assert [w.action for w in merchant_events(live)] == ["test_drive_slot"]
    assert conversation(live, started["conversation_id"]).status == "closed"


def test_visit_reminder_non_cancels_the_visit_and_notifies_the_agency(live):
    # given a visit reminder started from the CLI for someone who never gave marketing consent
    started = cli_start(live, "--to", "06 11 22 33 44", "--scenario", "visit_reminder",
                        "--var", "property=l'appartement rue des Fleurs", "--var", "visit_time=17h")
    phone = "+33611223344"
    assert phone_texts(live, phone) == [
        "Bonjour, visite de l'appartement rue des Fleurs à 17h. Besoin d'annuler ? Répondez "
        "NON. Sinon, à tout à l'heure !"]
    assert contact_of(live, phone).consent_status == "not_subscribed"
    # when they answer NON
    text(live, "NON", phone)
    # then the cancellation is acknowledged and the agency gets the event with the contact
    assert "la visite de l'appartement rue des Fleurs est annulée" in phone_texts(live, phone)[-1]
    [event] = merchant_events(live)
    assert event.action == "visit_cancelled" and event.payload["contact"]["phone"] == phone
    assert event.payload["conversation_id"] == started["conversation_id"]
    assert conversation(live, started["conversation_id"]).state["automation"] == "completed"


def test_online_class_lien_sends_the_link_again(live):
    started = api_start(live, "online_class", course="Marketing Digital", starts="demain 9h",
                        link="https://zoom.us/j/123456789")
    assert "Répondez LIEN" in phone_texts(live)[0]
    # when the student texts "lien"
    text(live, "lien")
    assert phone_texts(live)[-1] == ("Voici votre lien pour 'Marketing Digital' : "
                                     "https://zoom.us/j/123456789 A demain 9h !")
    assert conversation(live, started["conversation_id"]).status == "closed"


def test_trip_upsell_oui_before_midnight_books_at_minus_15_percent(live):
    shopify_customer(live)
    started = api_start(live, "trip_upsell", destination="Nice", excursion="Monaco")
    assert "Répondez OUI avant minuit" in phone_texts(live)[0]
    expires = conversation(live, started["conversation_id"]).expires_at
    assert expires is not None and started["expires_at"] is not None
    text(live, "Oui !")
    assert phone_texts(live)[-1].startswith("C'est réservé : excursion à Monaco à -15 %")
    [event] = merchant_events(live)
    assert event.action == "excursion_booked" and event.payload["data"] == {"discount_percent": 15}


def test_trip_upsell_oui_after_midnight_gets_a_polite_expiry(live):
    shopify_customer(live)
    started = api_start(live, "trip_upsell", destination="Nice", excursion="Monaco")
    # given midnight passed (the deadline is moved into the past) and the tick ran
    with live.runtime.db.transaction() as s:
        s.get(Conversation, started["conversation_id"]).expires_at = (
            datetime.now(UTC) - timedelta(minutes=1))
    live.work()
    assert conversation(live, started["conversation_id"]).state["automation"] == "expired"
    # when the customer answers OUI
    text(live, "OUI")
    # then they are told politely the offer ended; nothing is booked
    assert phone_texts(live)[-1] == ("Désolé, l'offre -15 % sur l'excursion à Monaco a pris fin "
                                     "à minuit. Un conseiller reste joignable ici.")
    assert merchant_events(live) == []
    assert "excursion" not in contact_of(live).properties


def abandoned_checkout(live, phone: str = PHONE) -> dict:
    payload = json.loads((FIXTURES / "checkouts__create.json").read_text())
    payload.update(phone=phone, token=uuid.uuid4().hex, id=uuid.uuid4().int % 10**12)
    payload["abandoned_checkout_url"] = f"https://{SHOP}/checkouts/{payload['token']}/recover?key=k"
    answer = live.boxes.shopify.emit_webhook("checkouts/create", payload, f"{live.url}/webhooks/shopify",
                                             live.runtime.config.shopify_api_secret, shop=SHOP)
    assert answer.status_code == 200
    live.work()
    return payload


def test_abandoned_cart_acheter_sends_the_link_that_completes_the_order(live):
    shopify_customer(live)
    cart = abandoned_checkout(live)
    with live.runtime.db.session() as s:
        checkout = s.scalar(sa.select(Checkout).where(Checkout.token == cart["token"]))
    assert checkout is not None and checkout.contact_id == contact_of(live).id
    api_start(live, "abandoned_cart", product_title="le T-shirt Lumière",
              checkout_token=cart["token"])
    assert phone_texts(live)[0].startswith("Il vous reste le T-shirt Lumière dans votre panier.")
    text(live, "acheter")
    assert phone_texts(live)[-1] == ("Voici votre lien pour finaliser la commande : "
                                     f"{cart['abandoned_checkout_url']}")


def test_abandoned_cart_question_mark_reaches_a_person(live):
    shopify_customer(live)
    started = api_start(live, "abandoned_cart", checkout_url=f"https://{SHOP}/cart")
    text(live, "?")
    assert phone_texts(live)[-1] == ("Avec plaisir ! Posez votre question, un conseiller vous "
                                     "répond ici très vite.")
    handed = conversation(live, started["conversation_id"])
    assert handed.status == "open" and handed.handoff_at is not None
    assert handed.state["automation"] == "handed_off"
    # the customer's question lands in the same conversation for the agent, unread
    text(live, "Il taille grand ?")
    handed = conversation(live, started["conversation_id"])
    assert handed.unread_count >= 1
    assert len(phone_texts(live)) == 2  # no automated answer to the question itself


def test_medical_appointment_o_confirms(live):
    started = api_start(live, "medical_appointment", doctor="Dr Martin", appointment="mardi 9h",
                        option_1="mercredi 10h", option_2="jeudi 14h", option_3="vendredi 9h")
    assert "Répondez O pour confirmer, N pour reporter" in phone_texts(live)[0]
    text(live, "O")
    assert phone_texts(live)[-1] == ("Merci, votre RDV Dr Martin mardi 9h est confirmé. "
                                     "N'oubliez pas votre ordonnance.")
    assert conversation(live, started["conversation_id"]).status == "closed"


def test_medical_appointment_n_offers_new_slots_and_books_one(live):
    started = cli_start(live, "--to", PHONE, "--scenario", "medical_appointment", "--example")
    text(live, "N")
    assert phone_texts(live)[-1] == ("Quel créneau vous convient ? 1 : mercredi 10h, 2 : jeudi "
                                     "14h, 3 : vendredi 9h. Ou répondez ? pour qu'on vous rappelle.")
    assert conversation(live, started["conversation_id"]).status == "waiting"
    text(live, "3")
    assert phone_texts(live)[-1] == ("C'est noté : RDV Dr Martin reporté à vendredi 9h. Pensez à "
                                     "votre ordonnance.")
    assert [w.action for w in merchant_events(live)] == [
        "appointment_reschedule_asked", "appointment_rescheduled"]
    with live.runtime.db.session() as s:
        sent = s.scalars(sa.select(Message.status).where(
            Message.conversation_id == started["conversation_id"],
            Message.direction == "outbound")).all()
    assert set(sent) == {"sent"}


# ----------------------------------------------------------------------------- refusals

AUTH = {"Authorization": "Bearer test-api-token"}


def test_the_api_says_why_a_conversation_cannot_start(client):
    from tests.connector.helpers import SHOP as TEST_SHOP
    from tests.connector.helpers import make_shop

    make_shop(client.application.extensions["parlons"].db, sms_number=NUMBER)
    base = {"shop": TEST_SHOP, "to": PHONE}
    assert client.post("/api/v1/conversations", json=base).status_code == 401
    answer = client.post("/api/v1/conversations", headers=AUTH, json={**base, "scenario": "nope"})
    assert answer.status_code == 400 and "unknown scenario" in answer.json["messages"]["scenario"][0]
    answer = client.post("/api/v1/conversations", headers=AUTH,
                         json={**base, "scenario": "online_class", "variables": {"course": "Yoga"}})
    assert answer.status_code == 400
    assert answer.json["messages"]["variables"] == ["missing: link, starts"]
    answer = client.post("/api/v1/conversations", headers=AUTH,
                         json={**base, "to": "12", "scenario": "abandoned_cart"})
    assert answer.status_code == 400 and "to" in answer.json["messages"]
    answer = client.post("/api/v1/conversations", headers=AUTH,
                         json={**base, "shop": "other.myshopify.com", "scenario": "abandoned_cart"})
    assert answer.status_code == 404
    # a marketing scenario to a phone that never consented is refused, and says so
    answer = client.post("/api/v1/conversations", headers=AUTH,
                         json={**base, "scenario": "abandoned_cart"})
    assert answer.status_code == 409
    assert answer.json["messages"]["to"] == ["a marketing conversation needs SMS marketing consent"]
    answer = client.post("/api/v1/conversations", headers=AUTH, json={**base, "flow": {"key": "x"}})
    assert answer.status_code == 400 and "flow" in answer.json["messages"]


def test_a_flow_of_your_own_starts_like_a_scenario(client):
    from tests.connector.helpers import SHOP as TEST_SHOP
    from tests.connector.helpers import make_shop

    make_shop(client.application.extensions["parlons"].db, sms_number=NUMBER)
    flow = {"key": "delivery_slot", "steps": {"start": {
        "question": "Livraison {{ day }} ? Répondez OUI ou NON.",
        "answers": [{"key": "oui"}, {"key": "non"}]}}}
    answer = client.post("/api/v1/conversations", headers=AUTH, json={
        "shop": TEST_SHOP, "to": "0612345678", "flow": flow, "variables": {"day": "demain"}})
    assert answer.status_code == 201, answer.json
    assert answer.json["question"] == "Livraison demain ? Répondez OUI ou NON."
    assert answer.json["to"] == PHONE and answer.json["contact_created"] is True
    assert answer.json["url"] == f"/admin/conversations/{answer.json['conversation_id']}"


def test_scenarios_are_listed_by_the_api_and_the_cli(client):
    listed = client.get("/api/v1/conversations/scenarios", headers=AUTH).json["scenarios"]
    assert [s["key"] for s in listed] == ["test_drive", "visit_reminder", "online_class",
                                          "trip_upsell", "abandoned_cart", "medical_appointment"]
    assert listed[0]["required_variables"] == ["offer", "slot_1", "slot_2", "slot_3"]
    from connector.commands.conversations import scenarios

    output = client.application.test_cli_runner().invoke(scenarios, []).output
    assert "medical_appointment" in output and "variables: appointment, doctor" in output


# ----------------------------------------------------------------------------- demo page


def test_the_demo_page_starts_a_scenario_and_the_customer_answers_from_the_phone(
        config, database, redis_conn, sandboxes):
    import dataclasses

    from connector import create_app
    from connector.local.demo import CUSTOMER, seed
    from connector.local.devservers import free_port
    from connector.shops import forget
    from connector.web import demo as demo_pages
    from connector.worker import jobs
    from connector.worker.rq_workers import InProcessWorker
    from integrations.serving import serve

    # given the demo app as `parlons demo` builds it (sandboxes, demo shop, demo pages)
    forget()
    port = free_port()
    app = create_app(dataclasses.replace(sandboxes.configure(config),
                                         public_url=f"http://127.0.0.1:{port}"))
    runtime = app.extensions["parlons"]
    app.extensions["parlons_demo"] = seed(runtime, sandboxes, f"http://127.0.0.1:{port}")
    app.register_blueprint(demo_pages.bp)
    server = serve(app, port=port)

    def work() -> None:
        with app.app_context():
            jobs.tick(reschedule=False)
            InProcessWorker(runtime.queues(), connection=runtime.redis).work(burst=True)

    try:
        page = app.test_client()
        assert "Rendez-vous : O pour confirmer" in page.get("/demo").get_data(as_text=True)
        # when the visitor starts the trip upsell (a marketing scenario) for the demo customer
        answer = page.post("/demo/scenario", data={"key": "trip_upsell"})
        assert answer.status_code == 302 and "started" in answer.headers["Location"]
        work()
        phone = [m["body"] for m in sandboxes.twilio.inbox(CUSTOMER["phone"])]
        assert "Répondez OUI avant minuit" in phone[-1]
        # and answers OUI from the phone view
        page.post("/demo/reply", data={"text": "OUI"})
        work()
        phone = [m["body"] for m in sandboxes.twilio.inbox(CUSTOMER["phone"])]
        assert phone[-1].startswith("C'est réservé : excursion à Monaco à -15 %")
    finally:
        server.stop()
        runtime.close()
