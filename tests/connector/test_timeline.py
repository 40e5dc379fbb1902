"""The HubSpot timeline: every SMS, reply, keyword, consent change and handoff lands once as an
SMS Communication on the contact, readable, and never twice across retries."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from automations.models import Contact, Shop, TimelineEntry
from connector import clients
from connector.worker.crm import write_pending
from connector.worker.timeline import marker_for
from tests.connector.conftest import PORTAL, SHOP
from tests.connector.test_end_to_end import PHONE, shipped_payload

OUR_NUMBER = "+33757000001"


def timeline(live) -> list[dict]:
    [contact] = [c for c in live.boxes.hubspot.contacts_for(PORTAL) if c.get("parlons_phone_e164") == PHONE]
    return live.boxes.hubspot.communications_for(contact["id"])


def bodies(live) -> list[str]:
    return [c["hs_communication_body"] for c in timeline(live)]


def entries(live) -> list[TimelineEntry]:
    with live.runtime.db.session() as s:
        return list(s.scalars(sa.select(TimelineEntry).order_by(TimelineEntry.id)))


def reply(live, text: str) -> None:
    assert live.boxes.twilio.send_inbound(PHONE, OUR_NUMBER, text).status_code == 200
    live.work()


def test_an_outbound_sms_is_one_communication_updated_with_its_status(live):
    # given a shipping SMS sent, then delivered
    live.boxes.shopify.emit_webhook("fulfillments/create", shipped_payload(), f"{live.url}/webhooks/shopify",
                                    live.runtime.config.shopify_api_secret, shop=SHOP)
    live.work()
    [sent] = timeline(live)
    assert sent["hs_communication_body"].startswith("SMS to Camille Shipper (+33612345678)\n")
    assert "SMS sent:" in sent["hs_communication_body"]
    live.boxes.twilio.deliver_pending()
    live.work()
    # then the same communication now says delivered, dated when the SMS was sent
    [delivered] = timeline(live)
    assert delivered["id"] == sent["id"] and "SMS delivered:" in delivered["hs_communication_body"]
    assert (delivered["hs_communication_channel_type"], delivered["hs_communication_logged_from"]) == ("SMS", "CRM")
    [entry] = entries(live)
    stamp = datetime.fromisoformat(delivered["hs_timestamp"])
    assert abs((stamp - entry.occurred_at.replace(tzinfo=stamp.tzinfo or UTC)).total_seconds()) < 1
    assert entry.hubspot_id == delivered["id"]


def test_replies_keywords_and_consent_changes_each_land_once(live):
    # when the customer texts STOP, then HELP, then START
    for text in ("STOP", "HELP", "START"):
        reply(live, text)
    live.work()
    texts = "\n---\n".join(bodies(live))
    # then the timeline has each reply, each keyword's action and both consent changes
    for expected in ("SMS reply from +33612345678", "Keyword from", "STOP: unsubscribed from SMS",
                     "HELP: help requested", "START: subscribed to SMS", "SMS consent: unsubscribed (STOP)",
                     "SMS consent: subscribed"):
        assert expected in texts, expected
    # every entry written, none twice
    written = entries(live)
    assert {e.status for e in written} == {"written"}
    assert len(timeline(live)) == len(written) == len({e.hubspot_id for e in written})


def test_a_handoff_links_to_the_conversation_in_the_admin(live):
    from automations import conversations
    from automations.models import Conversation, utcnow

    # given a question that opened a conversation in the inbox
    reply(live, "Bonjour, ma commande est arrivée abîmée, que faire ?")
    # when it is handed to a person
    with live.runtime.db.transaction() as s:
        conversation = s.scalar(sa.select(Conversation))
        conversations.handoff(s, s.get(Shop, live.shop_id()), s.get(Contact, conversation.contact_id), conversation,
                              "damaged parcel", utcnow())
        link = f"Conversation: {live.url}/admin/conversations/{conversation.id}"
    live.work()
    # then the timeline shows the reply and the handoff, both linking to the conversation
    [question] = [b for b in bodies(live) if b.startswith("SMS reply from")]
    [handoff] = [b for b in bodies(live) if "handed to a person" in b]
    assert link in question and link in handoff and "Handed to a person: damaged parcel" in handoff


def test_a_write_that_landed_before_the_worker_lost_its_answer_is_not_written_again(live):
    # given a timeline entry whose first attempt reached HubSpot but whose answer never came back
    reply(live, "STOP")
    with live.runtime.db.transaction() as s:
        entry = s.scalars(sa.select(TimelineEntry).where(TimelineEntry.kind == "keyword")).one()
        lost_id = entry.hubspot_id
        entry.hubspot_id, entry.status, entry.attempts = None, "pending", 1
        entry.last_error, entry.updated_at = "no answer: timed out", datetime(2020, 1, 1, tzinfo=UTC)
    before = len(timeline(live))
    # when the writer tries again
    write_pending(live.runtime)
    # then it finds the communication by its marker and writes nothing new
    with live.runtime.db.session() as s:
        again = s.get(TimelineEntry, entry.id)
    assert (again.status, again.hubspot_id) == ("written", lost_id)
    assert len(timeline(live)) == before


def test_a_gateway_error_on_write_is_retried_and_lands_once(live):
    live.boxes.hubspot.fail_next(1, "502", path="/crm/v3/objects/communications")
    reply(live, "HELP")
    comms = timeline(live)
    assert sum("HELP: help requested" in c["hs_communication_body"] for c in comms) == 1
    with live.runtime.db.session() as s:
        client = clients.hubspot_for(live.runtime, s, s.get(Shop, live.shop_id()))
    entry = [e for e in entries(live) if e.kind == "keyword"][0]
    assert client.find_communication(marker_for(entry.key)) == entry.hubspot_id


def test_a_contact_missing_in_hubspot_is_not_created_when_the_shop_says_not_to(live):
    with live.runtime.db.transaction() as s:
        s.get(Shop, live.shop_id()).settings = {"hubspot_create_contacts": False}
    reply(live, "HELP")
    assert live.boxes.hubspot.contacts_for(PORTAL) == []
    assert {e.status for e in entries(live)} == {"skipped"}
    assert "does not create contacts" in entries(live)[0].last_error


def test_a_contact_deleted_in_hubspot_is_never_recreated_by_the_timeline(live):
    # given a contact whose entries are written, then deleted in HubSpot
    reply(live, "HELP")
    [hs_contact] = live.boxes.hubspot.contacts_for(PORTAL)
    live.boxes.hubspot.send_webhook_batch(
        [live.boxes.hubspot.event(PORTAL, "contact.deletion", hs_contact["id"])], f"{live.url}/webhooks/hubspot")
    live.work()
    with live.runtime.db.session() as s:
        assert s.scalar(sa.select(Contact.deleted_at)) is not None
    # when more happens on that phone before anyone notices (an old message's status, say)
    with live.runtime.db.transaction() as s:
        contact = s.scalar(sa.select(Contact))
        s.add(TimelineEntry(shop_id=contact.shop_id, contact_id=contact.id, kind="sms_in", key="late-1",
                            body="late", occurred_at=datetime.now(UTC)))
    write_pending(live.runtime)
    # then it is skipped, saying why, and HubSpot gets no new contact
    late = [e for e in entries(live) if e.key == "late-1"][0]
    assert (late.status, late.last_error) == ("skipped", "contact deleted")
    assert len(live.boxes.hubspot.contacts_for(PORTAL)) == 1
