"""The human inbox in the admin: conversations by status with unread counts, one conversation's
full history, agent replies (sent at once, refused after STOP, on the HubSpot timeline), assign,
notes, close; a handoff pauses a flow message until the conversation is closed; KPIs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from automations import windows
from automations.models import Contact, Conversation, Message, Shop
from automations.policy import DAY_NAMES, ShopPolicy
from tests.connector.conftest import PORTAL, SHOP
from tests.connector.helpers import FIXTURES, post_form, sign_in
from tests.connector.test_scenarios_live import (
    NUMBER,
    PHONE,
    api_start,
    phone_texts,
    shopify_customer,
    text,
)


@pytest.fixture
def admin(live):
    """A signed-in admin browser on the live app."""
    browser = live.app.test_client()
    answer = sign_in(browser, SHOP, live.runtime.config.api_token)
    assert answer.status_code == 302
    return browser


def conversation_of(live, phone: str = PHONE) -> Conversation:
    with live.runtime.db.session() as s:
        return s.scalars(sa.select(Conversation).join(Contact, Contact.id == Conversation.contact_id)
                         .where(Contact.phone_e164 == phone).order_by(Conversation.id.desc())).first()


def test_pages_need_a_signed_in_merchant(live):
    answer = live.app.test_client().get("/admin/conversations")
    assert answer.status_code == 302 and "/admin/login" in answer.headers["Location"]


def test_list_by_status_with_unread_counts_and_a_full_history(live, admin):
    # given a customer wrote twice with no conversation waiting, and another one was answered
    text(live, "Bonjour, une question sur ma commande")
    text(live, "Vous êtes là ?")
    api_start(live, "online_class", to="+33699887766", course="Yoga", starts="demain 9h",
              link="https://zoom.us/j/1")
    # when the merchant opens the open conversations
    page = admin.get("/admin/conversations?status=open").get_data(as_text=True)
    # then the customer's conversation shows with 2 unread, the waiting one is not listed there
    assert "+33612345678" in page and "2 unread" in page
    assert "+33699887766" not in page
    waiting = admin.get("/admin/conversations?status=waiting").get_data(as_text=True)
    assert "+33699887766" in waiting and "online_class" in waiting
    assert "waiting (1" in admin.get("/admin/conversations").get_data(as_text=True)
    # when they open it, the history shows both texts and the unread count drops to 0
    conversation = conversation_of(live)
    view = admin.get(f"/admin/conversations/{conversation.id}").get_data(as_text=True)
    assert view.index("Bonjour, une question sur ma commande") < view.index("Vous êtes là ?")
    assert conversation_of(live).unread_count == 0
    assert admin.get("/admin/conversations?status=bogus").status_code == 400


def test_agent_reply_goes_out_now_even_outside_marketing_hours_and_lands_on_hubspot(live, admin):
    # given marketing send windows closed right now for this shop
    today = datetime.now(ZoneInfo("Europe/Paris")).weekday()
    other_day = DAY_NAMES[1 if today == 0 else 0]
    with live.runtime.db.transaction() as s:
        shop = s.scalar(sa.select(Shop).where(Shop.domain == SHOP))
        shop.settings = {**shop.settings, "window_overrides": {
            "FR": {"start": "08:00", "end": "20:00", "days": [other_day]}}}
        policy = ShopPolicy.from_settings(shop.settings)
    now = datetime.now(UTC)
    assert windows.next_send_time(PHONE, now, policy, marketing=True).send_at > now
    # and a customer question in the inbox
    text(live, "Le colis est abîmé, que faire ?")
    conversation = conversation_of(live)
    # when an agent answers from the conversation page
    answer = post_form(admin, f"/admin/conversations/{conversation.id}", f"/admin/conversations/{conversation.id}/reply",
                        data={"text": "Désolé ! Envoyez-nous une photo, on renvoie l'article.",
                              "agent": "Léa"})
    assert answer.status_code == 302
    live.work()
    # then the phone has it at once, signed by the agent in the history, assigned to her
    assert phone_texts(live)[-1] == "Désolé ! Envoyez-nous une photo, on renvoie l'article."
    view = admin.get(f"/admin/conversations/{conversation.id}").get_data(as_text=True)
    assert "sent by Léa" in view
    assert conversation_of(live).status == "assigned"
    assert conversation_of(live).assigned_to == "Léa"
    # and the HubSpot contact's timeline shows the reply
    [hs] = [c for c in live.boxes.hubspot.contacts_for(PORTAL) if c.get("parlons_phone_e164") == PHONE]
    bodies = [c["hs_communication_body"] for c in live.boxes.hubspot.communications_for(hs["id"])]
    assert any("Envoyez-nous une photo" in body for body in bodies)


def test_agent_reply_after_stop_is_refused_with_a_clear_error(live, admin):
    text(live, "J'ai une question")
    conversation = conversation_of(live)
    text(live, "STOP")
    # when an agent tries to answer
    answer = post_form(admin, f"/admin/conversations/{conversation.id}", f"/admin/conversations/{conversation.id}/reply",
                        data={"text": "Bien sûr, dites-moi", "agent": "Léa"})
    # then the page says why, keeps the draft, and nothing is sent
    assert answer.status_code == 409
    page = answer.get_data(as_text=True)
    assert "replied STOP" in page and "Bien sûr, dites-moi" in page
    live.work()
    assert len(phone_texts(live)) == 1  # only the STOP confirmation
    with live.runtime.db.session() as s:
        assert s.scalar(sa.select(sa.func.count(Message.id)).where(Message.author == "Léa")) == 0
    # the history shows the keyword and the consent change
    view = admin.get(f"/admin/conversations/{conversation.id}").get_data(as_text=True)
    assert "STOP: unsubscribed from SMS" in view and "SMS consent: unsubscribed" in view


def test_assign_note_and_close(live, admin):
    text(live, "Bonjour")
    conversation = conversation_of(live)
    base = f"/admin/conversations/{conversation.id}"
    post_form(admin, base, f"{base}/assign", {"assignee": "Marc"})
    assert conversation_of(live).status == "assigned" and conversation_of(live).assigned_to == "Marc"
    post_form(admin, base, f"{base}/note", {"text": "Client fidèle, geste commercial OK", "agent": "Marc"})
    assert "Client fidèle, geste commercial OK" in admin.get(base).get_data(as_text=True)
    assert post_form(admin, base, f"{base}/note", {"text": "  "}).status_code == 400
    post_form(admin, base, f"{base}/close")
    live.work()
    assert conversation_of(live).status == "closed"
    assert phone_texts(live) == []  # a note is never sent
    assert admin.get("/admin/conversations/999999").status_code == 404


def test_a_handoff_pauses_a_flow_message_until_the_agent_closes(live, admin):
    # given a customer handed to a person ("?" in the abandoned-cart conversation)
    shopify_customer(live)
    api_start(live, "abandoned_cart", checkout_url=f"https://{SHOP}/cart")
    text(live, "?")
    conversation = conversation_of(live)
    assert conversation.state["automation"] == "handed_off"
    # when their order ships (the built-in shipping flow sends an SMS)
    payload = json.loads((FIXTURES / "fulfillments__create.json").read_text())
    payload["destination"].update(phone=PHONE, first_name="Camille", country_code="FR")
    live.boxes.shopify.emit_webhook("fulfillments/create", payload, f"{live.url}/webhooks/shopify",
                                    live.runtime.config.shopify_api_secret, shop=SHOP)
    live.work()
    # then the flow message waits while a person handles the conversation
    with live.runtime.db.session() as s:
        held = s.scalar(sa.select(Message).where(Message.flow_run_id.is_not(None)))
    assert held.status == "scheduled" and "paused" in held.status_reason
    texts_before = phone_texts(live)
    assert not any("est en route" in t for t in texts_before)
    # when the agent closes the conversation, automation resumes and the SMS leaves
    post_form(admin, f"/admin/conversations/{conversation.id}", f"/admin/conversations/{conversation.id}/close")
    live.work()
    assert "est en route" in phone_texts(live)[-1]
    assert conversation_of(live).status == "closed"


def test_kpis_per_flow_and_overall(live, admin):
    api_start(live, "online_class", course="Yoga", starts="demain 9h", link="https://zoom.us/j/1")
    text(live, "LIEN")
    api_start(live, "visit_reminder", to="+33699887766", property="la maison", visit_time="18h")
    live.boxes.twilio.send_inbound("+33699887766", NUMBER, "NON")
    live.work()
    page = admin.get("/admin/conversations/kpis").get_data(as_text=True)
    assert "All conversations" in page and "online_class" in page and "visit_reminder" in page
    assert "lien: 1" in page and "non: 1" in page
