"""STOP through the real inbound route: queued marketing is cancelled, the customer is told once,
and within one worker pass Shopify and HubSpot both know the contact unsubscribed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from automations.models import Message, OutboundWrite
from tests.connector.conftest import PORTAL, SHOP
from tests.connector.test_scenarios_live import contact_of, phone_texts, shopify_customer, text


def hubspot_contact(live, phone: str) -> dict:
    [found] = [c for c in live.boxes.hubspot.contacts_for(PORTAL)
               if c.get("parlons_phone_e164") == phone]
    return found


def test_stop_cancels_queued_marketing_and_reaches_shopify_and_hubspot_in_one_pass(live):
    phone = "+33622334455"
    # given a Shopify customer subscribed to SMS marketing, known as such in HubSpot
    gid = shopify_customer(live, phone)
    assert hubspot_contact(live, phone)["parlons_sms_consent"] == "subscribed"
    # and a marketing SMS queued for them (waiting for the next send window)
    contact = contact_of(live, phone)
    with live.runtime.db.transaction() as s:
        s.add(Message(shop_id=contact.shop_id, contact_id=contact.id, direction="outbound",
                      kind="marketing", to_phone=phone, body="-20 % ce week-end ! STOP au 36111",
                      status="scheduled", idempotency_key="campaign:weekend:1",
                      send_at=datetime.now(UTC) + timedelta(hours=2)))
    # when they text "Arrêt svp" and the worker runs once
    text(live, "Arrêt svp", phone)
    # then the queued marketing SMS is cancelled and will never leave
    with live.runtime.db.session() as s:
        queued = s.scalar(sa.select(Message).where(Message.idempotency_key == "campaign:weekend:1"))
        writes = s.scalars(sa.select(OutboundWrite).where(OutboundWrite.contact_id == contact.id,
                                                          OutboundWrite.action == "consent")).all()
    assert queued.status == "cancelled" and "opted out" in queued.status_reason
    # and the customer got a single confirmation
    [confirmation] = phone_texts(live, phone)
    assert confirmation.startswith("Désinscription confirmée")
    # and Shopify's customer and HubSpot's contact both say unsubscribed
    customer = live.boxes.shopify.customer(SHOP, gid)
    assert customer["smsMarketingConsent"]["marketingState"] == "UNSUBSCRIBED"
    hs = hubspot_contact(live, phone)
    assert hs["parlons_sms_consent"] == "unsubscribed"
    assert hs["parlons_sms_consent_source"] == "sms"
    assert {w.target: w.status for w in writes if w.payload["status"] == "unsubscribed"} == {
        "shopify": "done", "hubspot": "done"}
    assert contact_of(live, phone).consent_status == "unsubscribed"


def test_a_second_stop_changes_nothing_and_is_not_confirmed_again(live):
    phone = "+33622334455"
    shopify_customer(live, phone)
    text(live, "STOP", phone)
    text(live, "stop stop", phone)
    assert len(phone_texts(live, phone)) == 1
    with live.runtime.db.session() as s:
        pushes = s.scalar(sa.select(sa.func.count(OutboundWrite.id)).where(
            OutboundWrite.action == "consent", OutboundWrite.target == "shopify"))
    assert pushes == 1


def test_start_after_stop_subscribes_again_everywhere(live):
    phone = "+33622334455"
    gid = shopify_customer(live, phone)
    text(live, "STOP", phone)
    # when the customer texts START
    text(live, "START", phone)
    # then they are told, and both systems follow
    assert phone_texts(live, phone)[-1].startswith("Réabonnement confirmé")
    assert live.boxes.shopify.customer(SHOP, gid)["smsMarketingConsent"]["marketingState"] == \
        "SUBSCRIBED"
    assert hubspot_contact(live, phone)["parlons_sms_consent"] == "subscribed"
