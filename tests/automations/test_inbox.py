"""The human inbox: what an agent sees and does, and the conversation KPIs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from automations import conversations, dispatch, inbox
from automations.inbox import ContactOptedOut, InboxError
from automations.scenarios import SCENARIOS
from tests.automations.test_conversations import NOW, make_contact, reply


def handed_off(session, shop, phone: str = "+33612345678"):
    """A cart conversation the customer sent to a person with "?"."""
    contact = make_contact(session, shop, phone_e164=phone)
    conversation, _ = conversations.start(
        session, shop, contact, "abandoned_cart", SCENARIOS["abandoned_cart"].example, NOW)
    reply(session, shop, contact, "?", NOW + timedelta(minutes=1))
    return contact, conversation


def test_handed_off_conversations_are_listed_with_unread_and_last_message(session, shop) -> None:
    # given one handed-off conversation and one still waiting for an answer
    contact, conversation = handed_off(session, shop)
    other = make_contact(session, shop, phone_e164="+33698765432", first_name="Paul")
    conversations.start(session, shop, other, "visit_reminder", SCENARIOS["visit_reminder"].example, NOW)
    # when the agent opens the inbox
    open_ = inbox.list_conversations(session, shop, status="open")
    everything = inbox.list_conversations(session, shop)
    # then the handed-off one is there, unread, with its last message
    assert [s.id for s in open_] == [conversation.id]
    summary = open_[0]
    assert summary.unread_count == 1 and summary.contact_name == "Sarah"
    assert summary.last_direction == "outbound" and "Posez votre question" in summary.last_message
    assert {s.status for s in everything} == {"open", "waiting"}
    assert everything[0].id == conversation.id  # unread first
    with pytest.raises(InboxError, match="unknown status"):
        inbox.list_conversations(session, shop, status="archived")


def test_agent_reply_is_scheduled_now_and_not_held_by_send_windows(session, shop, redis_conn) -> None:
    # given a handed-off conversation and a Sunday evening in France
    contact, conversation = handed_off(session, shop)
    sunday_night = datetime(2026, 3, 15, 21, 30, tzinfo=UTC)
    # when an agent answers
    message = inbox.agent_reply(session, conversation, "Oui, la taille M est en stock.", "lea", sunday_night)
    # then an SMS is scheduled now, written by the agent; the conversation is theirs and read
    assert (message.direction, message.kind, message.status) == ("outbound", "conversational", "scheduled")
    assert message.author == "lea" and message.send_at == sunday_night
    assert conversation.status == "assigned" and conversation.assigned_to == "lea"
    assert conversation.unread_count == 0 and conversation.first_human_reply_at == sunday_night
    # and the dispatcher lets it go at once although marketing would wait for Monday
    assert dispatch.check_before_send(session, message, sunday_night, redis_conn).send
    # a second reply keeps the first response time
    inbox.agent_reply(session, conversation, "Autre chose ?", "lea", sunday_night + timedelta(minutes=5))
    assert conversation.first_human_reply_at == sunday_night


def test_agent_reply_to_an_opted_out_contact_is_refused(session, shop) -> None:
    contact, conversation = handed_off(session, shop)
    reply(session, shop, contact, "STOP", NOW + timedelta(minutes=2))
    with pytest.raises(ContactOptedOut, match="replied STOP"):
        inbox.agent_reply(session, conversation, "Vraiment ?", "lea", NOW + timedelta(minutes=3))
    with pytest.raises(InboxError, match="empty"):
        inbox.agent_reply(session, conversation, "   ", "lea", NOW)


def test_handoff_pauses_automation_until_the_conversation_is_closed(session, shop) -> None:
    # given a handed-off contact: automation paused for 24 h
    contact, conversation = handed_off(session, shop)
    assert contact.paused_until == NOW + timedelta(minutes=1, hours=24)
    with pytest.raises(conversations.ConversationRefused, match="paused"):
        conversations.start(session, shop, contact, "trip_upsell", {}, NOW + timedelta(hours=1))
    # when the agent closes it
    inbox.close(session, conversation, NOW + timedelta(hours=1))
    # then automation resumes and the conversation counts as resolved by a person
    assert contact.paused_until is None and conversation.status == "closed"
    assert conversation.state["automation"] == "closed_by_agent"
    conversations.start(session, shop, contact, "trip_upsell", SCENARIOS["trip_upsell"].example,
                        NOW + timedelta(hours=1))


def test_pause_ends_by_itself_after_the_timeout(session, shop) -> None:
    contact, _ = handed_off(session, shop)
    later = NOW + timedelta(hours=25)
    conversation, _ = conversations.start(session, shop, contact, "trip_upsell",
                                          SCENARIOS["trip_upsell"].example, later)
    assert conversation.status == "waiting"


def test_assign_note_and_mark_read(session, shop) -> None:
    contact, conversation = handed_off(session, shop)
    inbox.assign(session, conversation, "marc", NOW + timedelta(minutes=2))
    note = inbox.add_note(session, conversation, "Client fidèle, proposer -10 %", "marc",
                          NOW + timedelta(minutes=3))
    inbox.mark_read(session, conversation)
    assert conversation.status == "assigned" and conversation.assigned_to == "marc"
    assert (note.direction, note.status, note.author) == ("note", "note", "marc")
    assert conversation.unread_count == 0
    inbox.close(session, conversation, NOW + timedelta(minutes=4))
    with pytest.raises(InboxError, match="closed"):
        inbox.assign(session, conversation, "marc", NOW + timedelta(minutes=5))


def test_history_tells_the_whole_story_in_time_order(session, shop) -> None:
    # given a conversation: question, "?", handoff, note, agent reply, then STOP
    contact, conversation = handed_off(session, shop)
    inbox.add_note(session, conversation, "Question taille", "lea", NOW + timedelta(minutes=2))
    inbox.agent_reply(session, conversation, "La taille M taille grand.", "lea", NOW + timedelta(minutes=3))
    reply(session, shop, contact, "STOP", NOW + timedelta(minutes=4))
    # when the agent reads the history
    items = inbox.history(session, conversation)
    # then everything is there, in order
    assert [i.kind for i in items] == [
        "outbound", "inbound", "handoff", "outbound", "note", "outbound", "inbound", "keyword",
        "consent", "outbound"]
    assert items[1].body == "?" and items[5].author == "lea"
    assert items[7].body == "STOP: unsubscribed from SMS"
    assert items[8].body == "SMS consent: unsubscribed (via sms)"
    assert items[9].body.startswith("Désinscription confirmée")


def test_kpis_answers_handoffs_response_time_resolution_and_opt_outs(session, shop) -> None:
    # given four test-drive conversations: slots 2, 2 and 1 chosen, one STOP
    example = SCENARIOS["test_drive"].example
    answers = ["2", "deux", "1", "STOP"]
    for n, text in enumerate(answers):
        contact = make_contact(session, shop, phone_e164=f"+3361234560{n}")
        conversations.start(session, shop, contact, "test_drive", example, NOW)
        reply(session, shop, contact, text, NOW + timedelta(minutes=10))
    # and one cart conversation handed off, answered by a person after 2 minutes, then closed
    contact, cart = handed_off(session, shop, phone="+33612345699")
    inbox.agent_reply(session, cart, "Bonjour !", "lea", NOW + timedelta(minutes=3))
    inbox.close(session, cart, NOW + timedelta(minutes=30))
    # when the merchant reads the figures
    drive = inbox.kpis(session, shop, flow_key="test_drive")
    everything = inbox.kpis(session, shop, since=NOW - timedelta(days=1))
    # then
    assert drive["conversations"] == 4 and drive["replies"] == 4
    assert drive["answers"] == {"2": 2, "1": 1}
    assert drive["resolution_rate"] == 0.75 and drive["opt_outs"] == 1 and drive["opt_out_rate"] == 0.25
    assert drive["duration_median_seconds"] == 600
    assert drive["handoffs"] == 0 and drive["first_human_response_median_seconds"] is None
    assert everything["conversations"] == 5 and everything["handoffs"] == 1
    assert everything["handoff_rate"] == 0.2
    assert everything["first_human_response_median_seconds"] == 120
    assert inbox.kpis(session, shop, since=NOW + timedelta(days=1))["conversations"] == 0
