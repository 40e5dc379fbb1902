"""HubSpot webhooks through the real route and a real worker: each event type, echoes of our own
writes, deletions with messages in flight, and every kind of bad input."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
import sqlalchemy as sa

from automations.models import ConsentEvent, Contact, Message, OutboundWrite, StoreEvent, utcnow
from connector import create_app
from integrations.serving import serve
from tests.connector.conftest import PORTAL, SHOP

PHONE = "+33610000000"  # the first contact add_contacts makes: +3361 then 0000000


def hook(live) -> str:
    return f"{live.url}/webhooks/hubspot"


def send(live, *events, **options):
    return live.boxes.hubspot.send_webhook_batch(list(events), hook(live), **options)


def contacts(live) -> list[Contact]:
    with live.runtime.db.session() as s:
        return list(s.scalars(sa.select(Contact).order_by(Contact.id)))


def hubspot_contact(live, **props) -> str:
    [cid] = live.boxes.hubspot.add_contacts(PORTAL, 1, **props)
    return cid


def link(live, hubspot_id: str, phone: str = PHONE, **fields) -> int:
    with live.runtime.db.transaction() as s:
        contact = Contact(shop_id=live.shop_id(), hubspot_contact_id=hubspot_id, phone_e164=phone,
                          email="customer0@example.com", tags=[], properties={}, **fields)
        s.add(contact)
        s.flush()
        return contact.id


def test_a_new_hubspot_contact_becomes_one_contact_with_its_phone(live):
    # given a contact created in HubSpot with a phone and an email
    cid = hubspot_contact(live)
    creation = live.boxes.hubspot.event(PORTAL, "contact.creation", cid)
    # when HubSpot tells us, then tells us again (a retry)
    first, again = send(live, creation), send(live, creation)
    live.work()
    # then both answers are quick 200s, the retry is a duplicate, and we hold one contact
    assert first.status_code == 200 and first.json()["stored"] == 1
    assert again.json() == {"outcome": "stored", "stored": 0, "duplicates": 1, "unknown_portals": []}
    [contact] = contacts(live)
    assert (contact.hubspot_contact_id, contact.phone_e164, contact.email) == (cid, PHONE, "customer0@example.com")


def test_a_creation_for_a_contact_we_know_by_phone_links_it_instead_of_duplicating(live):
    # given a Shopify customer we already hold, with the same phone
    with live.runtime.db.transaction() as s:
        s.add(Contact(shop_id=live.shop_id(), phone_e164=PHONE, shopify_customer_id="gid://shopify/Customer/9",
                      tags=[], properties={}))
    cid = hubspot_contact(live)
    # when HubSpot says the contact was created
    send(live, live.boxes.hubspot.event(PORTAL, "contact.creation", cid))
    live.work()
    # then the one contact is now linked to HubSpot
    [contact] = contacts(live)
    assert contact.hubspot_contact_id == cid and contact.shopify_customer_id == "gid://shopify/Customer/9"


def test_a_crm_user_changing_consent_is_a_ledger_entry_that_reaches_shopify(live):
    # given a Shopify customer linked to a HubSpot contact
    gid = live.boxes.shopify.add_customer(SHOP, phone=PHONE)
    cid = hubspot_contact(live)
    contact_id = link(live, cid, shopify_customer_id=gid)
    # when a CRM user sets the SMS consent property to subscribed
    send(live, live.boxes.hubspot.event(PORTAL, "contact.propertyChange", cid, propertyName="parlons_sms_consent",
                                        propertyValue="subscribed", sourceId="userId:31"))
    live.work()
    # then the ledger says HubSpot, with the user as evidence, and the contact is subscribed
    with live.runtime.db.session() as s:
        [entry] = s.scalars(sa.select(ConsentEvent).where(ConsentEvent.contact_id == contact_id)).all()
        assert s.get(Contact, contact_id).consent_status == "subscribed"
        targets = s.scalars(sa.select(OutboundWrite.target).where(OutboundWrite.contact_id == contact_id)).all()
    assert (entry.status, entry.source, entry.evidence["sourceId"]) == ("subscribed", "hubspot", "userId:31")
    # and Shopify was told, HubSpot was not told back what it said
    assert targets == ["shopify"]
    assert live.boxes.shopify.customer(SHOP, gid)["smsMarketingConsent"]["marketingState"] == "SUBSCRIBED"


def test_our_own_writes_coming_back_are_ignored(live):
    cid = hubspot_contact(live)
    contact_id = link(live, cid)
    boxes = live.boxes
    # given a STOP we recorded and pushed to HubSpot
    boxes.twilio.send_inbound(PHONE, "+33757000001", "STOP")
    live.work()
    assert boxes.hubspot.contacts_for(PORTAL)[0]["parlons_sms_consent"] == "unsubscribed"
    with live.runtime.db.session() as s:
        ledger_before = s.scalar(sa.select(sa.func.count()).select_from(ConsentEvent))
    # when HubSpot sends that change back, once as our app and once without saying who
    send(live,
         boxes.hubspot.event(PORTAL, "contact.propertyChange", cid, propertyName="parlons_sms_consent",
                             propertyValue="unsubscribed", changeSource="INTEGRATION", sourceId=str(boxes.hubspot.app_id)),
         boxes.hubspot.event(PORTAL, "contact.propertyChange", cid, propertyName="parlons_sms_consent",
                             propertyValue="unsubscribed", changeSource="API", sourceId=None))
    live.work()
    # then nothing new is in the ledger and nothing new is pushed anywhere
    with live.runtime.db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ConsentEvent)) == ledger_before
        assert s.get(Contact, contact_id).opted_out_at is not None
        events = s.scalars(sa.select(StoreEvent).where(StoreEvent.source == "hubspot")).all()
    assert [e.outcome for e in events] == [{"events": [], "note": "nothing to do"}] * 2


def test_a_phone_change_in_hubspot_updates_the_contact(live):
    cid = hubspot_contact(live)
    contact_id = link(live, cid)
    send(live, live.boxes.hubspot.event(PORTAL, "contact.propertyChange", cid, propertyName="mobilephone",
                                        propertyValue="06 98 76 54 32"))
    live.work()
    with live.runtime.db.session() as s:
        assert s.get(Contact, contact_id).phone_e164 == "+33698765432"


def test_a_deleted_contact_is_unlinked_and_its_waiting_sms_are_cancelled(live):
    # given a linked contact with an SMS waiting to be sent
    cid = hubspot_contact(live)
    contact_id = link(live, cid, consent_status="subscribed")
    with live.runtime.db.transaction() as s:
        s.add(Message(shop_id=live.shop_id(), contact_id=contact_id, direction="outbound", kind="marketing",
                      to_phone=PHONE, body="Soldes !", status="scheduled", idempotency_key="waiting-1",
                      send_at=utcnow() + timedelta(hours=1)))
    # when the contact is deleted in HubSpot
    send(live, live.boxes.hubspot.event(PORTAL, "contact.deletion", cid))
    live.work()
    # then the waiting SMS is cancelled saying why, the contact is unlinked and gets nothing more
    with live.runtime.db.session() as s:
        message = s.scalar(sa.select(Message))
        contact = s.get(Contact, contact_id)
    assert (message.status, message.status_reason) == ("cancelled", "contact deleted in HubSpot")
    assert contact.hubspot_contact_id is None and contact.deleted_at is not None
    assert live.boxes.twilio.inbox(PHONE) == []


def test_a_privacy_deletion_erases_the_contact(live):
    cid = hubspot_contact(live)
    contact_id = link(live, cid, first_name="Camille")
    send(live, live.boxes.hubspot.event(PORTAL, "contact.privacyDeletion", cid))
    live.work()
    with live.runtime.db.session() as s:
        contact = s.get(Contact, contact_id)
    assert contact.redacted_at is not None
    assert (contact.phone_e164, contact.email, contact.first_name, contact.hubspot_contact_id) == (None,) * 4


def test_a_merge_moves_our_link_to_the_surviving_contact(live):
    survivor, merged = live.boxes.hubspot.add_contacts(PORTAL, 2)
    contact_id = link(live, merged)
    send(live, live.boxes.hubspot.event(PORTAL, "contact.merge", survivor, primaryObjectId=int(survivor),
                                        mergedObjectIds=[int(survivor), int(merged)], newObjectId=int(survivor)))
    live.work()
    [contact] = contacts(live)
    assert (contact.id, contact.hubspot_contact_id) == (contact_id, survivor)


def test_events_of_a_batch_are_handled_oldest_first(live):
    # given a batch where the newer consent change comes first
    cid = hubspot_contact(live)
    contact_id = link(live, cid)
    newer = live.boxes.hubspot.event(PORTAL, "contact.propertyChange", cid, propertyName="parlons_sms_consent",
                                     propertyValue="unsubscribed")
    older = live.boxes.hubspot.event(PORTAL, "contact.propertyChange", cid, propertyName="parlons_sms_consent",
                                     propertyValue="subscribed", occurredAt=newer["occurredAt"] - 5000)
    send(live, newer, older)
    live.work()
    # then the contact ends in the newer state
    with live.runtime.db.session() as s:
        assert s.get(Contact, contact_id).consent_status == "unsubscribed"


@pytest.mark.parametrize("skew_minutes", [-6, 6])
def test_stale_and_future_signatures_are_refused(live, skew_minutes):
    event = live.boxes.hubspot.event(PORTAL, "contact.creation", 1)
    stamp = int((utcnow() + timedelta(minutes=skew_minutes)).timestamp() * 1000)
    assert send(live, event, timestamp_ms=stamp).status_code == 401


def test_a_wrong_secret_or_no_signature_is_refused(live):
    event = live.boxes.hubspot.event(PORTAL, "contact.creation", 1)
    assert send(live, event, client_secret="not-the-secret").status_code == 401
    import requests

    assert requests.post(hook(live), json=[event], timeout=5).status_code == 401
    with live.runtime.db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(StoreEvent)) == 0


@pytest.mark.parametrize("body", [
    {"not": "a list"},
    [{"eventId": 1}],
    [{"eventId": i, "portalId": PORTAL, "occurredAt": 1, "subscriptionType": "contact.creation"} for i in range(101)],
])
def test_malformed_batches_are_refused(live, body):
    answer = live.boxes.hubspot.send_webhook_batch(body, hook(live))
    assert answer.status_code == 400


def test_events_for_an_unknown_portal_are_accepted_and_dropped(live):
    answer = send(live, live.boxes.hubspot.event(999, "contact.creation", 5))
    assert answer.status_code == 200 and answer.json()["unknown_portals"] == [999]
    with live.runtime.db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(StoreEvent)) == 0


def test_a_portal_serving_two_shops_stores_the_event_for_each(live):
    from connector.install import connect_hubspot, connect_shopify

    live.boxes.shopify.add_shop("atelier-nord.myshopify.com")
    with live.runtime.db.transaction() as s:
        other = connect_shopify(live.runtime, s, "atelier-nord.myshopify.com",
                                live.boxes.shopify.grant_token("atelier-nord.myshopify.com", expires_in=None),
                                register_webhooks=False)
        connect_hubspot(live.runtime, s, other, live.boxes.hubspot.issue_token(PORTAL), hub_id=PORTAL)
    cid = hubspot_contact(live)
    assert send(live, live.boxes.hubspot.event(PORTAL, "contact.creation", cid)).json()["stored"] == 2
    live.work()
    assert sorted(c.shop_id for c in contacts(live)) == sorted([live.shop_id(), other.id])


def test_behind_a_proxy_the_signature_covers_the_public_url(live):
    # given the app served behind a proxy whose public address is configured
    config = dataclasses.replace(live.runtime.config, public_url="https://sms.example.com/parlons")
    app = create_app(config)
    server = serve(app)
    try:
        event = live.boxes.hubspot.event(PORTAL, "contact.creation", hubspot_contact(live))
        # when HubSpot signs the public URL and the proxy forwards to the inside address
        answer = live.boxes.hubspot.send_webhook_batch(
            [event], f"{server.url}/webhooks/hubspot", signed_uri="https://sms.example.com/parlons/webhooks/hubspot")
        # then the signature holds
        assert answer.status_code == 200 and answer.json()["stored"] == 1
    finally:
        server.stop()
        app.extensions["parlons"].close()
