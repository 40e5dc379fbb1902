"""Reply handling: keywords first, then the conversation's answers, then the human inbox."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from automations import conversations, replies
from automations.conversation_flows import FlowDefinition
from automations.conversations import ConversationRefused
from automations.encoding import analyse
from automations.models import (
    ConsentEvent,
    Contact,
    Conversation,
    Message,
    OutboundWrite,
    Shop,
    TimelineEntry,
)

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # a Tuesday, 11:00 in Paris

YES_NO = {
    "key": "delivery_slot", "locale": "fr", "max_reprompts": 1,
    "reminder": {"after": 3600, "template": "Petit rappel : répondez OUI ou NON."},
    "steps": {"start": {
        "question": "{{ first_name }}, livraison demain ? Répondez OUI ou NON.",
        "answers": [
            {"key": "oui", "actions": [
                {"type": "send", "template": "Parfait, livraison demain."},
                {"type": "set_property", "name": "delivery", "value": "demain"},
                {"type": "webhook", "name": "delivery_confirmed", "value": {"day": "demain"}}]},
            {"key": "non", "actions": [{"type": "send", "template": "Entendu, on vous rappelle."}]},
        ],
    }},
}


def make_contact(session: Session, shop: Shop, **values) -> Contact:
    data = {"phone_e164": "+33612345678", "first_name": "Sarah", "locale": "fr",
            "consent_status": "subscribed", "email": "sarah@example.org"} | values
    contact = Contact(shop_id=shop.id, **data)
    session.add(contact)
    session.flush()
    return contact


def reply(session: Session, shop: Shop, contact: Contact, text: str | None, at: datetime = NOW):
    message = Message(
        shop_id=shop.id, contact_id=contact.id, direction="inbound", kind="conversational",
        from_phone=contact.phone_e164, to_phone=shop.sms_number, body=text, status="received",
        idempotency_key=f"in:{at.isoformat()}:{session.scalar(sa.select(sa.func.count(Message.id)))}",
        created_at=at,
    )
    session.add(message)
    session.flush()
    return replies.handle_inbound(session, shop, contact, message, at)


def test_start_schedules_the_question_now_and_is_idempotent(session, shop) -> None:
    # given a subscribed contact and a yes/no flow
    contact = make_contact(session, shop)
    flow = FlowDefinition.from_dict(YES_NO)
    # when the conversation starts (twice with the same subject)
    conversation, question = conversations.start(
        session, shop, contact, flow, {"subject_key": "order-1"}, NOW)
    again, same = conversations.start(session, shop, contact, flow, {"subject_key": "order-1"}, NOW)
    # then one waiting conversation and one scheduled question, personalised, sent now
    assert (again.id, same.id) == (conversation.id, question.id)
    assert conversation.status == "waiting"
    assert question.body == "Sarah, livraison demain ? Répondez OUI ou NON."
    assert (question.kind, question.status, question.send_at) == ("conversational", "scheduled", NOW)
    assert question.to_phone == "+33612345678" and question.from_phone == shop.sms_number
    # and the reminder waits an hour
    reminder = session.scalars(sa.select(Message).where(Message.send_at == NOW + timedelta(hours=1))).one()
    assert reminder.body.startswith("Petit rappel")


def test_a_marketing_flow_question_carries_the_stop_mention(session, shop) -> None:
    contact = make_contact(session, shop)
    _, question = conversations.start(session, shop, contact, "abandoned_cart",
                                      {"product_title": "un T-shirt"}, NOW)
    assert "STOP" in question.body


@pytest.mark.parametrize(
    ("values", "why"),
    [({"opted_out_at": NOW}, "STOP"), ({"phone_e164": None}, "mobile"),
     ({"paused_until": NOW + timedelta(hours=2)}, "paused"),
     ({"consent_status": "not_subscribed"}, "consent")],
)
def test_start_is_refused_for_a_contact_who_cannot_be_texted(session, shop, values, why) -> None:
    contact = make_contact(session, shop, **values)
    with pytest.raises(ConversationRefused, match=why):
        conversations.start(session, shop, contact, "trip_upsell", {}, NOW)


def test_an_expected_answer_runs_its_actions_and_completes(session, shop) -> None:
    # given a waiting yes/no conversation
    contact = make_contact(session, shop)
    conversation, _ = conversations.start(session, shop, contact, FlowDefinition.from_dict(YES_NO), {}, NOW)
    # when the customer answers loosely
    outcome = reply(session, shop, contact, "Ouais merci !", NOW + timedelta(minutes=5))
    # then the answer is recognised, the reply scheduled, the property set, the shop told
    assert outcome.matched_answer == "oui"
    assert [m.body for m in outcome.replies] == ["Parfait, livraison demain."]
    assert outcome.replies[0].status == "scheduled" and outcome.replies[0].kind == "conversational"
    assert contact.properties["delivery"] == "demain"
    write = session.scalars(sa.select(OutboundWrite).where(OutboundWrite.target == "shop_webhook")).one()
    assert write.payload["event"] == "delivery_confirmed" and write.payload["answer"] == "oui"
    assert write.payload["data"] == {"day": "demain"}
    # and the conversation is closed, its pending reminder cancelled
    assert conversation.status == "closed" and conversation.state["automation"] == "completed"
    reminder = session.scalars(sa.select(Message).where(Message.body.like("Petit rappel%"))).one()
    assert reminder.status == "cancelled"


def test_unexpected_reply_is_re_prompted_once_then_handed_to_a_person(session, shop) -> None:
    # given a waiting conversation allowing one re-prompt
    contact = make_contact(session, shop)
    conversation, _ = conversations.start(session, shop, contact, FlowDefinition.from_dict(YES_NO), {}, NOW)
    # when the customer answers something unexpected
    first = reply(session, shop, contact, "peut-être, ça dépend", NOW + timedelta(minutes=1))
    # then they are asked again with the expected choices
    assert first.actions == ["reprompt"] and not first.handoff
    assert first.replies[0].body == "Désolé, je n'ai pas compris. Répondez OUI ou NON."
    # when it happens again
    second = reply(session, shop, contact, "je sais pas", NOW + timedelta(minutes=2))
    # then a person takes over: inbox, automation paused 24 h, customer told, timeline noted
    assert second.handoff and conversation.status == "open" and conversation.unread_count == 1
    assert conversation.handoff_at == NOW + timedelta(minutes=2)
    assert contact.paused_until == NOW + timedelta(minutes=2, hours=24)
    assert "conseiller" in second.replies[0].body
    kinds = session.scalars(sa.select(TimelineEntry.kind).order_by(TimelineEntry.id)).all()
    assert kinds == ["sms_in", "sms_in", "handoff"]


def test_stop_opts_out_cancels_queued_marketing_and_confirms_once(session, shop) -> None:
    # given a contact in a conversation with a marketing SMS already queued for tomorrow
    contact = make_contact(session, shop)
    conversation, _ = conversations.start(session, shop, contact, FlowDefinition.from_dict(YES_NO), {}, NOW)
    promo = Message(shop_id=shop.id, contact_id=contact.id, direction="outbound", kind="marketing",
                    body="Soldes !", status="scheduled", send_at=NOW + timedelta(days=1),
                    idempotency_key="promo-1", to_phone=contact.phone_e164)
    session.add(promo)
    session.flush()
    # when the customer texts "Stop !"
    outcome = reply(session, shop, contact, "Stop !", NOW + timedelta(minutes=1))
    # then the contact is opted out with the SMS as evidence, the promo cancelled
    assert (outcome.intent, outcome.keyword) == ("opt_out", "stop")
    assert contact.opted_out_at is not None and contact.consent_status == "unsubscribed"
    event = session.scalars(sa.select(ConsentEvent)).one()
    assert event.source == "sms" and event.evidence["body"] == "Stop !"
    assert promo.status == "cancelled"
    assert conversation.status == "closed" and conversation.state["automation"] == "opted_out"
    # and exactly one confirmation goes out: system kind, no footer, one GSM-7 segment
    [confirmation] = outcome.replies
    assert confirmation.kind == "system" and confirmation.status == "scheduled"
    assert confirmation.body.startswith("Désinscription confirmée") and "START" in confirmation.body
    assert "Boutique Lumière" in confirmation.body
    assert analyse(confirmation.body).segments == 1
    # when they text ARRÊT again / then no second confirmation
    again = reply(session, shop, contact, "ARRÊT", NOW + timedelta(minutes=2))
    assert again.intent == "opt_out" and again.replies == []
    assert "already" in again.reason
    # and ordinary replies get no automated answer any more
    late = reply(session, shop, contact, "OUI", NOW + timedelta(minutes=3))
    assert late.replies == [] and late.actions == ["inbox"]


def test_start_after_stop_opts_back_in_and_confirms(session, shop) -> None:
    contact = make_contact(session, shop, opted_out_at=NOW - timedelta(days=1),
                           consent_status="unsubscribed")
    outcome = reply(session, shop, contact, "START", NOW)
    assert outcome.intent == "opt_in" and contact.opted_out_at is None
    assert contact.consent_status == "subscribed"
    assert "STOP" in outcome.replies[0].body and outcome.replies[0].kind == "system"


def test_oui_confirms_a_pending_double_opt_in(session, shop) -> None:
    contact = make_contact(session, shop, consent_status="pending")
    outcome = reply(session, shop, contact, "Oui", NOW)
    assert outcome.intent == "opt_in" and contact.consent_status == "subscribed"


def test_help_answers_with_brand_support_cost_and_stop(session, shop) -> None:
    # given a shop with a support address
    shop.settings = {**shop.settings, "support_contact": "aide@boutique-lumiere.fr"}
    contact = make_contact(session, shop)
    # when the customer texts AIDE
    outcome = reply(session, shop, contact, "aide", NOW)
    # then the help text names the brand, support, frequency, cost and how to stop
    body = outcome.replies[0].body
    for part in ("Boutique Lumière", "aide@boutique-lumiere.fr", "SMS par semaine",
                 "Prix d'un SMS standard", "STOP"):
        assert part in body
    # and in English for an English-speaking contact
    english = make_contact(session, shop, phone_e164="+447700900123", locale="en-GB")
    body = reply(session, shop, english, "HELP", NOW).replies[0].body
    assert "Msg & data rates may apply" in body and "Reply STOP" in body


def test_free_text_without_a_conversation_goes_to_the_inbox(session, shop) -> None:
    contact = make_contact(session, shop)
    outcome = reply(session, shop, contact, "Bonjour, vous livrez en Belgique ?", NOW)
    conversation = session.get(Conversation, outcome.conversation_id)
    assert conversation.status == "open" and conversation.unread_count == 1
    assert outcome.replies == [] and not outcome.handoff
    # a second message lands in the same conversation
    reply(session, shop, contact, "Merci", NOW + timedelta(minutes=1))
    assert conversation.unread_count == 2


@pytest.mark.parametrize("text", ["", "x" * 5000, "👍🙂", "Да, конечно", None])
def test_bad_replies_never_crash_and_are_re_prompted(session, shop, text) -> None:
    contact = make_contact(session, shop)
    conversations.start(session, shop, contact, FlowDefinition.from_dict(YES_NO), {}, NOW)
    outcome = reply(session, shop, contact, text, NOW + timedelta(minutes=1))
    assert outcome.intent == "other" and outcome.actions == ["reprompt"]


def test_handling_the_same_inbound_twice_does_nothing_more(session, shop) -> None:
    contact = make_contact(session, shop)
    conversations.start(session, shop, contact, FlowDefinition.from_dict(YES_NO), {}, NOW)
    outcome = reply(session, shop, contact, "oui", NOW)
    inbound = session.get(Message, session.scalars(
        sa.select(Message.id).where(Message.direction == "inbound")).one())
    again = replies.handle_inbound(session, shop, contact, inbound, NOW)
    assert again.reason == "already handled" and again.replies == []
    assert len(outcome.replies) == 1
    assert session.scalar(sa.select(sa.func.count(Message.id)).where(
        Message.body == "Parfait, livraison demain.")) == 1


def test_dry_run_tells_what_would_happen_without_any_write(session, shop) -> None:
    # given a waiting conversation
    contact = make_contact(session, shop)
    conversation, _ = conversations.start(session, shop, contact, FlowDefinition.from_dict(YES_NO), {}, NOW)
    session.commit()
    counts = [session.scalar(sa.select(sa.func.count()).select_from(t))
              for t in (Message, TimelineEntry, Conversation, OutboundWrite, ConsentEvent)]
    # when replies are tried out
    yes = replies.dry_run(session, shop, contact, "oui", NOW)
    stop = replies.dry_run(session, shop, contact, "STOP", NOW)
    bare = replies.dry_run(None, None, None, "Arrêt", NOW)
    # then the decision is told
    assert yes["intent"] == "other" and yes["conversation_id"] == conversation.id
    assert yes["matched_answer"] == "oui" and yes["actions"] == ["send", "set_property", "webhook"]
    assert stop["route"] == "opt_out" and bare["intent"] == "opt_out"
    # and nothing changed
    session.rollback()
    assert counts == [session.scalar(sa.select(sa.func.count()).select_from(t))
                      for t in (Message, TimelineEntry, Conversation, OutboundWrite, ConsentEvent)]
    assert contact.opted_out_at is None and conversation.state["reprompts"] == 0


def test_expired_conversation_answers_politely_once_then_goes_to_a_person(session, shop) -> None:
    # given a flow accepting answers for one hour, swept after that hour
    contact = make_contact(session, shop)
    flow = FlowDefinition.from_dict(YES_NO | {"timeout": 3600, "reminder": None})
    conversation, _ = conversations.start(session, shop, contact, flow, {}, NOW)
    assert conversations.expire_due(session, NOW + timedelta(minutes=59)) == []
    assert conversations.expire_due(session, NOW + timedelta(hours=2)) == [conversation.id]
    # when the customer answers OUI the next day
    late = reply(session, shop, contact, "OUI", NOW + timedelta(days=1))
    # then a polite expiry notice, nothing else
    assert late.actions == ["expired"] and "expiré" in late.replies[0].body
    assert not session.scalars(sa.select(OutboundWrite)).all()
    # and a further message is for a person
    after = reply(session, shop, contact, "Dommage", NOW + timedelta(days=1, minutes=1))
    assert after.actions == ["inbox"] and after.conversation_id != conversation.id


def test_flow_definitions_are_validated(session, shop) -> None:
    broken = YES_NO | {"steps": {"start": {"question": "Q ?", "answers": [
        {"key": "oui", "next": "nowhere"}]}}}
    with pytest.raises(ValidationError, match="nowhere"):
        FlowDefinition.from_dict(broken)
    with pytest.raises(ValidationError, match="template"):
        FlowDefinition.from_dict(YES_NO | {"steps": {"start": {"question": "Q ?", "answers": [
            {"key": "oui", "actions": [{"type": "send"}]}]}}})
    with pytest.raises(ValidationError):
        FlowDefinition.from_dict(YES_NO | {"steps": {"start": {"question": "{{ oops", "answers": [
            {"key": "oui"}]}}})
    # and a valid flow survives the round trip through its stored form
    flow = FlowDefinition.from_dict(YES_NO)
    assert FlowDefinition.from_dict(flow.to_dict()).to_dict() == flow.to_dict()


def test_two_replies_at_once_are_handled_one_after_the_other(db_engine, shop) -> None:
    # given a waiting conversation allowing one re-prompt, and two unexpected replies
    # arriving at the same moment on two workers
    with Session(db_engine, expire_on_commit=False) as setup:
        contact = make_contact(setup, setup.merge(shop))
        conversations.start(setup, setup.merge(shop), contact, FlowDefinition.from_dict(YES_NO), {}, NOW)
        ids = []
        for n in range(2):
            message = Message(shop_id=shop.id, contact_id=contact.id, direction="inbound",
                              body=f"hein ? {n}", status="received", idempotency_key=f"race-{n}")
            setup.add(message)
            setup.flush()
            ids.append(message.id)
        setup.commit()
    results: list[list[str]] = []
    barrier = threading.Barrier(2)

    def work(message_id: int) -> None:
        with Session(db_engine, expire_on_commit=False) as worker:
            barrier.wait()
            outcome = replies.handle_inbound(
                worker, worker.get(Shop, shop.id), worker.get(Contact, contact.id),
                worker.get(Message, message_id), NOW)
            worker.commit()
            results.append(outcome.actions)

    threads = [threading.Thread(target=work, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then one was re-prompted and the other, seeing that, handed off: never two re-prompts
    assert sorted(a[0] for a in results) == ["handoff", "reprompt"]
