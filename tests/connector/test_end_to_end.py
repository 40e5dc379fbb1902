"""The walking skeleton, end to end: a Shopify order ships -> the customer gets an SMS -> the SMS
shows on their HubSpot timeline. Real HTTP to the sandboxes, real Redis, real DB, a real worker."""

from __future__ import annotations

import json

import sqlalchemy as sa

from automations.models import Message, StoreEvent
from tests.connector.conftest import PORTAL, SHOP
from tests.connector.helpers import FIXTURES

PHONE = "+33612345678"


def shipped_payload(phone: str = PHONE, first_name: str = "Camille", name: str = "#1042.1") -> dict:
    payload = json.loads((FIXTURES / "fulfillments__create.json").read_text())
    payload["destination"].update(phone=phone, first_name=first_name, country_code="FR")
    payload["name"] = name
    return payload


def messages(live) -> list[Message]:
    with live.runtime.db.session() as s:
        return list(s.scalars(sa.select(Message).order_by(Message.id)))


def test_an_order_ships_and_the_sms_travels_to_the_phone_and_the_crm_timeline(live):
    boxes = live.boxes
    # given a connected shop and portal; when Shopify says an order shipped
    answer = boxes.shopify.emit_webhook("fulfillments/create", shipped_payload(), f"{live.url}/webhooks/shopify",
                                        live.runtime.config.shopify_api_secret, shop=SHOP)
    assert answer.status_code == 200
    live.work()
    # then the customer's phone got the shipping SMS, rendered from the built-in rule
    inbox = boxes.twilio.inbox(PHONE)
    assert len(inbox) == 1
    assert inbox[0]["body"] == (
        "Bonjour Camille, votre commande #1042 est en route : "
        "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630"
    )
    [sent] = messages(live)
    assert sent.status == "sent" and sent.kind == "transactional" and sent.provider_message_id == inbox[0]["sid"]
    # when the provider reports delivery, then the message is delivered
    boxes.twilio.deliver_pending()
    live.work()
    [delivered] = messages(live)
    assert delivered.status == "delivered"
    # and the HubSpot contact (created by phone) shows the SMS with its status, once
    [hs_contact] = [c for c in boxes.hubspot.contacts_for(PORTAL) if c.get("parlons_phone_e164") == PHONE]
    comms = boxes.hubspot.communications_for(hs_contact["id"])
    assert len(comms) == 1
    assert comms[0]["hs_communication_channel_type"] == "SMS"
    assert "Bonjour Camille" in comms[0]["hs_communication_body"]
    assert "delivered" in comms[0]["hs_communication_body"].lower()
    # a second pass of the worker writes nothing twice
    live.work()
    assert len(boxes.hubspot.communications_for(hs_contact["id"])) == 1
    assert len(boxes.twilio.inbox(PHONE)) == 1


def test_the_same_shipment_delivered_three_times_sends_one_sms(live):
    payload = json.dumps(shipped_payload()).encode()
    for _ in range(3):
        live.boxes.shopify.emit_webhook("fulfillments/create", payload, f"{live.url}/webhooks/shopify",
                                        live.runtime.config.shopify_api_secret, webhook_id="same-delivery", shop=SHOP)
    # Shopify may also re-deliver the same event under a new delivery id
    live.boxes.shopify.emit_webhook("fulfillments/create", payload, f"{live.url}/webhooks/shopify",
                                    live.runtime.config.shopify_api_secret, shop=SHOP)
    live.work()
    assert len(live.boxes.twilio.inbox(PHONE)) == 1


def test_an_invalid_phone_gets_no_sms_and_the_event_says_why(live):
    live.boxes.shopify.emit_webhook("fulfillments/create", shipped_payload(phone="555-555-SHIP"),
                                    f"{live.url}/webhooks/shopify", live.runtime.config.shopify_api_secret, shop=SHOP)
    live.work()
    assert live.boxes.twilio.messages() == []
    with live.runtime.db.session() as s:
        event = s.scalar(sa.select(StoreEvent))
    assert event.status == "processed"
    assert "phone" in json.dumps(event.outcome).lower()


def test_a_customer_who_replied_stop_gets_no_shipping_sms(live):
    url = f"{live.url}/webhooks/shopify"
    secret = live.runtime.config.shopify_api_secret
    # given the customer replied STOP to our number
    reply = live.boxes.twilio.send_inbound(PHONE, "+33757000001", "STOP")
    assert reply.status_code == 200
    live.work()
    confirmations = live.boxes.twilio.inbox(PHONE)
    # when their order ships
    live.boxes.shopify.emit_webhook("fulfillments/create", shipped_payload(), url, secret, shop=SHOP)
    live.work()
    # then nothing more reaches their phone, and the event says why
    assert live.boxes.twilio.inbox(PHONE) == confirmations
    with live.runtime.db.session() as s:
        event = s.scalars(sa.select(StoreEvent).where(StoreEvent.source == "shopify")).one()
    assert "opted out" in json.dumps(event.outcome)


def test_an_sms_that_becomes_due_as_the_dispatch_drain_ends_is_sent_by_that_drain(live, monkeypatch):
    # given a shipment being dispatched
    from connector import signals
    from connector.worker import jobs

    secret = live.runtime.config.shopify_api_secret
    live.boxes.shopify.emit_webhook("fulfillments/create", shipped_payload(), f"{live.url}/webhooks/shopify",
                                    secret, shop=SHOP)
    finish = signals.finish_drain
    late: list[str] = []

    def another_shipment_lands_as_the_drain_ends(conn, kind, *args, **kwargs):  # noqa: ANN001
        # when, just as the dispatch drain has found nothing more to send, another shipment's
        # SMS is composed (its signal finds the dispatch flag still held: no new job)
        if kind == "dispatch" and not late:
            late.append(kind)
            other = shipped_payload(phone="+33612345679", first_name="Léa", name="#1043.1")
            other.update(id=654321, admin_graphql_api_id="gid://shopify/Fulfillment/654321")  # another one
            live.boxes.shopify.emit_webhook("fulfillments/create", other, f"{live.url}/webhooks/shopify",
                                            secret, shop=SHOP)
            jobs.drain_events()
        return finish(conn, kind, *args, **kwargs)

    monkeypatch.setattr(signals, "finish_drain", another_shipment_lands_as_the_drain_ends)
    live.work()
    # then both customers got their SMS in this pass, not at a later tick
    assert late == ["dispatch"]
    assert len(live.boxes.twilio.inbox(PHONE)) == 1
    assert len(live.boxes.twilio.inbox("+33612345679")) == 1
