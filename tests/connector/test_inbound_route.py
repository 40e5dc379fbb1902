"""Inbound SMS through the real route and a worker: every odd input has a clear outcome, nothing is
lost, nothing crashes. The route matches the shop by the number texted, the worker by the sender."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from automations.models import Contact, Conversation, Message, StoreEvent
from tests.connector.test_scenarios_live import NUMBER, PHONE, api_start, phone_texts, text

STRANGER = "+33698765432"


def events(live) -> list[StoreEvent]:
    with live.runtime.db.session() as s:
        return list(s.scalars(sa.select(StoreEvent).where(StoreEvent.source == "twilio",
                                                          StoreEvent.topic == "inbound")
                              .order_by(StoreEvent.id)))


def last_outcome(live) -> dict:
    event = events(live)[-1]
    assert event.status == "processed", event.outcome
    return event.outcome


def inbound_messages(live, phone: str) -> list[Message]:
    with live.runtime.db.session() as s:
        return list(s.scalars(sa.select(Message).where(Message.direction == "inbound",
                                                       Message.from_phone == phone)
                              .order_by(Message.id)))


def inbox_conversation(live, phone: str) -> Conversation:
    with live.runtime.db.session() as s:
        return s.scalars(sa.select(Conversation).join(Contact, Contact.id == Conversation.contact_id)
                         .where(Contact.phone_e164 == phone).order_by(Conversation.id.desc())).first()


def test_an_unknown_sender_becomes_a_contact_without_consent_and_reaches_the_inbox(live):
    # when someone we never heard of texts the shop's number
    text(live, "Bonjour, vous livrez à Lyon ?", STRANGER)
    # then they are a new contact with no consent, their text waits unread in the inbox
    with live.runtime.db.session() as s:
        contact = s.scalar(sa.select(Contact).where(Contact.phone_e164 == STRANGER))
    assert contact.consent_status == "not_subscribed" and contact.opted_out_at is None
    conversation = inbox_conversation(live, STRANGER)
    assert conversation.status == "open" and conversation.unread_count == 1
    outcome = last_outcome(live)["reply"]
    assert outcome["intent"] == "other" and outcome["actions"] == ["inbox"]
    assert phone_texts(live, STRANGER) == []  # no automated answer to a question


def test_a_text_to_a_number_no_shop_uses_is_kept_for_review(live):
    # when a phone texts a number that belongs to no shop
    answer = live.boxes.twilio.send_inbound(PHONE, "+33757999999", "Allô ?",
                                            app_inbound_url=f"{live.url}/webhooks/twilio/inbound")
    assert answer.status_code == 200
    live.work()
    # then the delivery is stored, unattached, with an outcome that says why; nothing else happens
    [event] = events(live)
    assert event.shop_id is None and event.status == "processed"
    assert event.outcome == {"ignored": "no shop uses the number +33757999999"}
    assert json.loads(event.payload)["Body"] == "Allô ?"
    with live.runtime.db.session() as s:
        assert s.scalar(sa.select(sa.func.count(Contact.id))) == 0
    assert phone_texts(live) == []


def test_the_same_inbound_delivered_twice_is_handled_once(live):
    # given Twilio posts the very same STOP twice (a retry after a timeout)
    sid = "SM" + uuid.uuid4().hex
    params = {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid":
              live.runtime.config.twilio_account_sid, "From": PHONE, "To": NUMBER, "Body": "STOP",
              "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01"}
    url = f"{live.url}/webhooks/twilio/inbound"
    first = live.boxes.twilio.post_signed(url, params)
    second = live.boxes.twilio.post_signed(url, params)
    live.work()
    # then both are acknowledged, and one message, one opt-out, one confirmation exist
    assert first.status_code == second.status_code == 200
    assert len(events(live)) == 1
    assert [m.provider_message_id for m in inbound_messages(live, PHONE)] == [sid]
    assert len(phone_texts(live)) == 1 and "Désinscription confirmée" in phone_texts(live)[0]


def test_empty_and_huge_bodies_are_stored_whole_and_go_to_a_person(live):
    # when a customer sends an empty text, then a very long one that mentions STOP in passing
    long_text = ("Bonjour, je voulais vous dire que " + "la commande est super " * 70
                 + "et que je ne veux pas que ça STOP.")
    assert len(long_text) > 1500
    text(live, "")
    assert last_outcome(live)["reply"]["actions"] == ["inbox"]
    text(live, long_text)
    # then both are kept as received, neither is read as a keyword, and a person sees them
    assert [m.body for m in inbound_messages(live, PHONE)] == ["", long_text]
    outcome = last_outcome(live)["reply"]
    assert outcome["intent"] == "other" and outcome["actions"] == ["inbox"]
    assert inbox_conversation(live, PHONE).unread_count == 2
    with live.runtime.db.session() as s:
        assert s.scalar(sa.select(Contact.opted_out_at).where(Contact.phone_e164 == PHONE)) is None
    assert phone_texts(live) == []


def test_another_alphabet_and_emoji_only_are_re_asked_then_handed_to_a_person(live):
    # given a visit reminder waiting for NON
    started = api_start(live, "visit_reminder", property="la maison", visit_time="18h")
    # when the customer answers in Arabic script, then with an emoji only
    text(live, "نعم")
    # then they are asked again with the expected words
    assert phone_texts(live)[-1] == "Désolé, je n'ai pas compris. Répondez NON ou OUI."
    assert last_outcome(live)["reply"]["actions"] == ["reprompt"]
    text(live, "👍")
    # then after the re-prompt a person takes over, and the customer is told so
    assert phone_texts(live)[-1] == "Merci ! Un conseiller vous répond ici très vite."
    with live.runtime.db.session() as s:
        handed = s.get(Conversation, started["conversation_id"])
        assert handed.state["automation"] == "handed_off" and handed.status == "open"
    assert [m.body for m in inbound_messages(live, PHONE)] == ["نعم", "👍"]


def test_a_reply_to_an_expired_conversation(live):
    # given a visit reminder whose deadline passed, closed by the periodic tick
    started = api_start(live, "visit_reminder", property="la maison", visit_time="18h")
    with live.runtime.db.transaction() as s:
        s.get(Conversation, started["conversation_id"]).expires_at = (
            datetime.now(UTC) - timedelta(seconds=1))
    live.work()
    with live.runtime.db.session() as s:
        assert s.get(Conversation, started["conversation_id"]).status == "closed"
    # when the customer writes something else than an answer, then a person gets it
    text(live, "Je serai en retard")
    assert last_outcome(live)["reply"]["actions"] == ["inbox"]
    assert inbox_conversation(live, PHONE).id != started["conversation_id"]
    assert len(phone_texts(live)) == 1


def test_an_expected_answer_after_expiry_gets_the_expiry_notice_once(live):
    started = api_start(live, "visit_reminder", property="la maison", visit_time="18h")
    with live.runtime.db.transaction() as s:
        s.get(Conversation, started["conversation_id"]).expires_at = (
            datetime.now(UTC) - timedelta(seconds=1))
    live.work()
    text(live, "non")
    assert phone_texts(live)[-1].startswith("Désolé, cette offre a expiré.")
    assert last_outcome(live)["reply"]["actions"] == ["expired"]
    text(live, "non")  # said again: a person reads it, no second notice
    assert last_outcome(live)["reply"]["actions"] == ["inbox"]
    assert len(phone_texts(live)) == 2
