"""The six ready-made scenarios, each played end to end: start -> customer reply -> outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from automations import conversations
from automations.models import Checkout, OutboundWrite
from automations.scenarios import SCENARIOS, flow_for, list_scenarios
from tests.automations.test_conversations import NOW, make_contact, reply


def start(session, shop, contact, key: str, **extra):
    variables = {**SCENARIOS[key].example, **extra}
    return conversations.start(session, shop, contact, key, variables, NOW)


def webhook_events(session) -> list[str]:
    return list(session.scalars(sa.select(OutboundWrite.action).where(
        OutboundWrite.target == "shop_webhook").order_by(OutboundWrite.id)))


def test_six_scenarios_in_french_and_english() -> None:
    assert [s.key for s in list_scenarios()] == [
        "test_drive", "visit_reminder", "online_class", "trip_upsell", "abandoned_cart",
        "medical_appointment"]
    for scenario in list_scenarios():
        assert set(scenario.variants) == {"fr", "en"}
    assert flow_for("online_class", "de-DE").locale == "fr"
    with pytest.raises(ValueError, match="unknown scenario"):
        flow_for("nope", "fr")


def test_test_drive_reply_2_books_the_second_slot(session, shop) -> None:
    # given the open-weekend offer with three slots
    contact = make_contact(session, shop)
    conversation, question = start(session, shop, contact, "test_drive")
    assert "1 (samedi 10h), 2 (samedi 15h) ou 3 (dimanche 11h)" in question.body
    # when the customer replies "le 2"
    outcome = reply(session, shop, contact, "le 2", NOW + timedelta(minutes=3))
    # then the confirmation names the slot, the dealer is told, the slot is on the contact
    assert outcome.replies[0].body == ("C'est réservé Sarah ! Votre essai : samedi 15h chez "
                                       "Boutique Lumière. A très vite.")
    assert contact.properties["test_drive_slot"] == "samedi 15h"
    assert webhook_events(session) == ["test_drive_slot"]
    assert conversation.status == "closed"


def test_test_drive_in_english_with_a_number_word(session, shop) -> None:
    contact = make_contact(session, shop, locale="en", first_name="Sam")
    start(session, shop, contact, "test_drive", slot_3="Sunday 11am")
    outcome = reply(session, shop, contact, "three", NOW + timedelta(minutes=3))
    assert "Your test drive: Sunday 11am" in outcome.replies[0].body


def test_visit_reminder_non_cancels_and_notifies_the_agency(session, shop) -> None:
    contact = make_contact(session, shop)
    _, question = start(session, shop, contact, "visit_reminder")
    assert question.body.startswith("Bonjour Sarah, visite de l'appartement rue des Fleurs à 17h")
    assert "STOP" not in question.body  # a reminder the customer expects: no marketing footer
    outcome = reply(session, shop, contact, "NON", NOW + timedelta(minutes=1))
    assert "est annulée" in outcome.replies[0].body
    write = session.scalars(sa.select(OutboundWrite)).one()
    assert write.action == "visit_cancelled" and write.payload["contact"]["phone"] == "+33612345678"


def test_visit_reminder_oui_confirms(session, shop) -> None:
    contact = make_contact(session, shop)
    start(session, shop, contact, "visit_reminder")
    outcome = reply(session, shop, contact, "Je confirme !", NOW + timedelta(minutes=1))
    assert outcome.matched_answer == "oui"
    assert outcome.replies[0].body == "Parfait, à tout à l'heure !"
    assert "visit_confirmed" in webhook_events(session)


def test_online_class_lien_sends_the_link_again(session, shop) -> None:
    contact = make_contact(session, shop)
    _, question = start(session, shop, contact, "online_class")
    assert "Répondez LIEN" in question.body
    outcome = reply(session, shop, contact, "lien svp", NOW + timedelta(minutes=1))
    assert "https://zoom.us/j/123456789" in outcome.replies[0].body


def test_online_class_without_a_link_goes_to_a_person(session, shop) -> None:
    contact = make_contact(session, shop)
    start(session, shop, contact, "online_class", link=None)
    outcome = reply(session, shop, contact, "LIEN", NOW + timedelta(minutes=1))
    assert outcome.handoff and "no link" in session.scalars(sa.select(
        conversations.TimelineEntry.body).where(conversations.TimelineEntry.kind == "handoff")).one()


def test_trip_upsell_oui_before_midnight_books_at_minus_15(session, shop) -> None:
    # given the offer sent at 11:00 Paris time
    contact = make_contact(session, shop)
    conversation, question = start(session, shop, contact, "trip_upsell")
    assert "Répondez OUI avant minuit" in question.body and "STOP" in question.body
    # when the customer says yes at 23:30 Paris time (22:30 UTC)
    outcome = reply(session, shop, contact, "OUI", datetime(2026, 3, 10, 22, 30, tzinfo=UTC))
    # then the excursion is booked at -15 % and the agency told
    assert "excursion à Monaco à -15 %" in outcome.replies[0].body
    write = session.scalars(sa.select(OutboundWrite)).one()
    assert write.action == "excursion_booked" and write.payload["data"] == {"discount_percent": 15}
    assert conversation.state["automation"] == "completed"


def test_trip_upsell_oui_after_midnight_gets_a_polite_expiry(session, shop) -> None:
    contact = make_contact(session, shop)
    conversation, _ = start(session, shop, contact, "trip_upsell")
    # midnight in Paris is 23:00 UTC in March
    assert conversation.expires_at == datetime(2026, 3, 10, 23, 0, tzinfo=UTC)
    outcome = reply(session, shop, contact, "oui !", datetime(2026, 3, 10, 23, 10, tzinfo=UTC))
    assert outcome.actions == ["expired"]
    assert outcome.replies[0].body.startswith("Désolé, l'offre -15 % sur l'excursion à Monaco a pris fin")
    assert webhook_events(session) == []


def test_abandoned_cart_acheter_sends_the_checkout_link(session, shop) -> None:
    # given an abandoned checkout of this contact
    contact = make_contact(session, shop)
    session.add(Checkout(shop_id=shop.id, token="tok-1", contact_id=contact.id,
                         abandoned_checkout_url="https://boutique-lumiere.fr/checkouts/tok-1/recover"))
    session.flush()
    _, question = start(session, shop, contact, "abandoned_cart", checkout_token="tok-1")
    assert question.body.startswith("Il vous reste un T-shirt dans votre panier.")
    # when the customer replies ACHETER (with a typo)
    outcome = reply(session, shop, contact, "achter", NOW + timedelta(minutes=1))
    # then they get the link that completes the order
    assert outcome.replies[0].body.endswith("https://boutique-lumiere.fr/checkouts/tok-1/recover")


def test_abandoned_cart_question_mark_reaches_a_person(session, shop) -> None:
    contact = make_contact(session, shop)
    conversation, _ = start(session, shop, contact, "abandoned_cart")
    outcome = reply(session, shop, contact, "?", NOW + timedelta(minutes=1))
    assert outcome.handoff and conversation.status == "open" and conversation.unread_count == 1
    assert contact.paused_until == NOW + timedelta(minutes=1, hours=24)
    assert "Posez votre question" in outcome.replies[0].body


def test_abandoned_cart_without_any_link_hands_off(session, shop) -> None:
    contact = make_contact(session, shop)
    start(session, shop, contact, "abandoned_cart")
    assert reply(session, shop, contact, "ACHETER", NOW + timedelta(minutes=1)).handoff


def test_abandoned_cart_link_from_the_shop_url_template(session, shop) -> None:
    shop.settings = {**shop.settings,
                     "checkout_url_template": "https://{{ shop_domain }}/cart/{{ variant_id }}:1"}
    contact = make_contact(session, shop)
    start(session, shop, contact, "abandoned_cart", variant_id="4242")
    outcome = reply(session, shop, contact, "buy", NOW + timedelta(minutes=1))
    assert outcome.replies[0].body.endswith("https://boutique-lumiere.myshopify.com/cart/4242:1")


def test_medical_appointment_o_confirms(session, shop) -> None:
    contact = make_contact(session, shop)
    _, question = start(session, shop, contact, "medical_appointment")
    assert question.body.startswith("RDV Dr Martin mardi 9h. Répondez O pour confirmer")
    outcome = reply(session, shop, contact, "O", NOW + timedelta(minutes=1))
    assert "est confirmé" in outcome.replies[0].body
    assert webhook_events(session) == ["appointment_confirmed"]


def test_medical_appointment_n_offers_slots_then_reschedules(session, shop) -> None:
    # given the appointment reminder
    contact = make_contact(session, shop)
    conversation, _ = start(session, shop, contact, "medical_appointment")
    # when the patient answers N / then three new slots are offered
    offer = reply(session, shop, contact, "n", NOW + timedelta(minutes=1))
    assert offer.replies[0].body.startswith("Quel créneau vous convient ? 1 : mercredi 10h")
    assert conversation.status == "waiting" and conversation.state["step"] == "reschedule"
    # when they pick 2 / then the appointment is moved and the practice told
    moved = reply(session, shop, contact, "2", NOW + timedelta(minutes=2))
    assert moved.replies[0].body == ("C'est noté : RDV Dr Martin reporté à jeudi 14h. Pensez à "
                                     "votre ordonnance.")
    assert webhook_events(session) == ["appointment_reschedule_asked", "appointment_rescheduled"]
    assert conversation.state["automation"] == "completed"


def test_medical_appointment_in_english_y_confirms(session, shop) -> None:
    contact = make_contact(session, shop, locale="en")
    _, question = start(session, shop, contact, "medical_appointment")
    assert "Reply Y to confirm" in question.body
    assert "is confirmed" in reply(session, shop, contact, "Y", NOW).replies[0].body
