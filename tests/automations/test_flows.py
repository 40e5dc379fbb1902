"""Each ready-made flow, played event by event: which messages, at what time, and what ends them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from automations import engine, rules, shops, sweeps
from automations.events import ConsentData, ContactData, DomainEvent
from automations.models import Checkout, Contact, FlowRun, Link, Message, Rule

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Paris
PHONE = "+33612345678"
CUSTOMER = "gid://shopify/Customer/115310627314723954"


def install(session, shop, *enable):
    shops.install_default_rules(session, shop)
    for key in enable:
        rules.set_enabled(session, shop, key, True)


def customer(**kw) -> ContactData:
    values = {"phone": PHONE, "first_name": "Léa", "shopify_customer_id": CUSTOMER}
    values.update(kw)
    return ContactData(**values)


def subscribe(session, shop, at=T0 - timedelta(days=30), **kw) -> Contact:
    outcome = engine.handle_event(session, shop, DomainEvent(
        "ConsentChanged", occurred_at=at, contact=customer(**kw),
        consent=ConsentData("subscribed", "shopify", at, {"collected_from": "checkout"})), now=at)
    return session.get(Contact, outcome.contact_id)


def checkout(session, shop, token="tok-1", at=T0, **contact):
    return engine.handle_event(session, shop, DomainEvent(
        "CheckoutUpdated", occurred_at=at, subject_key=token, contact=customer(**contact),
        source_updated_at=at,
        data={"token": token, "abandoned_checkout_url": f"https://boutique.example/checkouts/{token}/recover",
              "total_price": "59.90", "currency": "EUR", "line_items": [{"title": "Lampe Aurore", "quantity": 1}]},
    ), now=at)


def order(session, shop, at, checkout_token="tok-1", gid="gid://shopify/Order/1001"):
    return engine.handle_event(session, shop, DomainEvent(
        "OrderPlaced", occurred_at=at, subject_key=gid, contact=customer(), source_updated_at=at,
        data={"order_name": "#1001", "checkout_token": checkout_token, "total_price": "59.90",
              "currency": "EUR", "order_status_url": "https://boutique.example/orders/1001"},
    ), now=at)


def messages(session, rule_key=None):
    query = sa.select(Message).order_by(Message.send_at, Message.id)
    if rule_key:
        query = query.join(Rule, Rule.id == Message.rule_id).where(Rule.key == rule_key)
    return session.scalars(query).all()


def test_ready_made_flows_are_installed_once_and_editable(session, shop):
    # when installed twice, with an edit in between
    created = shops.install_default_rules(session, shop)
    rules.set_enabled(session, shop, "welcome", True)
    again = shops.install_default_rules(session, shop)
    # then every flow exists once; transactional ones on, marketing ones off; the edit is kept
    assert again == []
    state = dict(session.execute(sa.select(Rule.key, Rule.enabled)).all())
    assert len(created) == len(state) == 9
    assert state["order_shipped"] and state["order_confirmation"] and state["delivered"]
    assert not state["abandoned_checkout"] and not state["win_back"] and not state["birthday"]
    assert state["welcome"]


def test_abandoned_checkout_one_hour_then_a_day_later_with_a_discount(session, shop):
    # given the flow turned on and a subscribed customer who leaves a checkout at T0
    install(session, shop, "abandoned_checkout")
    subscribe(session, shop)
    checkout(session, shop)
    # when 59 minutes pass nothing is abandoned yet
    assert sweeps.raise_abandoned(session, T0 + timedelta(minutes=59)) == []
    # when an hour has passed
    [outcome] = sweeps.raise_abandoned(session, T0 + timedelta(hours=1))
    # then a first reminder goes out at once, with a short link to the cart and the STOP mention
    [first] = messages(session)
    assert outcome.messages == [first.id]
    assert first.send_at == T0 + timedelta(hours=1) and first.status == "scheduled"
    assert first.kind == "marketing" and "Bonjour Léa, votre panier vous attend" in first.body
    assert "https://sms.example.org/l/" in first.body and "STOP" in first.body
    link = session.scalars(sa.select(Link)).one()
    assert link.message_id == first.id and link.target_url.startswith("https://boutique.example/checkouts/tok-1")
    assert first.segments >= 1 and first.cost and first.encoding
    # when the flows advance before the day has passed, nothing more; after it, the discount
    engine.advance_flows(session, T0 + timedelta(hours=24))
    assert len(messages(session)) == 1
    engine.advance_flows(session, T0 + timedelta(hours=25))
    second = messages(session)[1]
    assert second.send_at == T0 + timedelta(hours=25)
    assert "PANIER10" in second.body
    assert session.scalars(sa.select(FlowRun)).one().status == "completed"


def test_order_before_the_delay_means_no_reminder(session, shop):
    install(session, shop, "abandoned_checkout")
    subscribe(session, shop)
    checkout(session, shop)
    # when the order for that checkout comes 30 minutes later
    order(session, shop, T0 + timedelta(minutes=30))
    # then the checkout is never abandoned and no reminder exists
    assert sweeps.raise_abandoned(session, T0 + timedelta(hours=3)) == []
    assert messages(session, "abandoned_checkout") == []
    assert session.scalars(sa.select(Checkout)).one().order_gid == "gid://shopify/Order/1001"


def test_order_after_the_first_reminder_ends_the_flow(session, shop):
    install(session, shop, "abandoned_checkout")
    subscribe(session, shop)
    checkout(session, shop)
    sweeps.raise_abandoned(session, T0 + timedelta(hours=1))
    # when the customer orders between the two reminders
    outcome = order(session, shop, T0 + timedelta(hours=5))
    # then the flow has ended because of the order, and the second reminder never comes
    run = session.scalars(sa.select(FlowRun).join(Rule).where(Rule.key == "abandoned_checkout")).one()
    assert run.status == "exited" and run.exit_reason == "order placed"
    assert run.id in outcome.flows_exited
    # and the first reminder, not sent yet, is cancelled for that reason
    [first] = messages(session, "abandoned_checkout")
    assert (first.status, first.status_reason) == ("cancelled", "order placed")
    engine.advance_flows(session, T0 + timedelta(days=2))
    assert len(messages(session, "abandoned_checkout")) == 1


def test_duplicate_and_out_of_order_checkout_updates_start_one_sequence(session, shop):
    install(session, shop, "abandoned_checkout")
    subscribe(session, shop)
    # given an update at T0+10m, then a late older one (T0), then the newer one again
    checkout(session, shop, at=T0 + timedelta(minutes=10))
    checkout(session, shop, at=T0)
    checkout(session, shop, at=T0 + timedelta(minutes=10))
    # then the abandonment clock runs from the newest update
    assert sweeps.raise_abandoned(session, T0 + timedelta(hours=1, minutes=5)) == []
    assert len(sweeps.raise_abandoned(session, T0 + timedelta(hours=1, minutes=10))) == 1
    # and a later update of the same abandoned checkout does not start another sequence
    checkout(session, shop, at=T0 + timedelta(hours=2))
    assert sweeps.raise_abandoned(session, T0 + timedelta(hours=4)) == []
    assert session.scalar(sa.select(sa.func.count()).select_from(FlowRun)) == 1
    assert len(messages(session, "abandoned_checkout")) == 1


def shipped(session, shop, at=T0, **data):
    payload = {"order_name": "#1001", "tracking_url": "https://track.example/1Z999",
               "tracking_number": "1Z999", "carrier": "Colissimo"}
    payload.update(data)
    return engine.handle_event(session, shop, DomainEvent(
        "OrderShipped", occurred_at=at, subject_key="gid://shopify/Fulfillment/255858046",
        contact=customer(), data=payload), now=at)


def test_shipped_goes_to_a_contact_without_marketing_consent(session, shop):
    install(session, shop)
    # given a customer who never subscribed to marketing
    outcome = shipped(session, shop)
    # then the transactional message goes, word for word, without STOP footer
    [message] = messages(session)
    assert outcome.messages == [message.id]
    assert message.kind == "transactional"
    assert message.body == "Bonjour Léa, votre commande #1001 est en route : https://track.example/1Z999"
    assert message.send_at == T0 and message.to_phone == PHONE


def test_shipped_never_renders_none_for_missing_values(session, shop):
    install(session, shop)
    engine.handle_event(session, shop, DomainEvent(
        "OrderShipped", occurred_at=T0, subject_key="gid://shopify/Fulfillment/1",
        contact=ContactData(phone=PHONE),
        data={"order_name": "#1002", "order_status_url": "https://boutique.example/orders/1002"}), now=T0)
    [message] = messages(session)
    assert message.body == "Bonjour, votre commande #1002 est en route : https://boutique.example/orders/1002"


def test_shipped_never_goes_to_a_contact_who_replied_stop(session, shop):
    from automations import consent

    install(session, shop)
    contact = subscribe(session, shop)
    consent.opt_out(session, contact, "sms", {"body": "STOP"}, T0 - timedelta(days=1))
    outcome = shipped(session, shop)
    assert messages(session) == []
    assert outcome.skipped == ["contact opted out"]


def test_english_variant_for_an_english_speaking_contact(session, shop):
    install(session, shop)
    engine.handle_event(session, shop, DomainEvent(
        "OrderShipped", occurred_at=T0, subject_key="gid://shopify/Fulfillment/2",
        contact=customer(locale="en-GB", first_name="Amy"),
        data={"order_name": "#1003", "tracking_url": "https://track.example/2"}), now=T0)
    assert messages(session)[0].body == "Hi Amy, your order #1003 is on its way: https://track.example/2"


def test_order_confirmation_and_out_for_delivery(session, shop):
    install(session, shop)
    order(session, shop, T0, checkout_token=None)
    engine.handle_event(session, shop, DomainEvent(
        "OutForDelivery", occurred_at=T0 + timedelta(days=2), subject_key="gid://shopify/Fulfillment/3",
        contact=customer(), data={"order_name": "#1001", "tracking_url": "https://track.example/3"}),
        now=T0 + timedelta(days=2))
    confirmation, out = messages(session)
    assert confirmation.body.startswith("Merci Léa ! Votre commande #1001 est confirmée.")
    assert "https://boutique.example/orders/1001" in confirmation.body
    assert "sera livrée aujourd'hui" in out.body and out.send_at == T0 + timedelta(days=2)


def test_delivered_then_a_review_request_three_days_later(session, shop):
    install(session, shop, "review_request")
    subscribe(session, shop)
    delivered = DomainEvent("Delivered", occurred_at=T0, subject_key="gid://shopify/Fulfillment/4",
                            contact=customer(), data={"order_name": "#1001",
                                                      "order_status_url": "https://boutique.example/o/1"})
    engine.handle_event(session, shop, delivered, now=T0)
    [notice] = messages(session)
    assert notice.kind == "transactional" and "a été livrée" in notice.body
    engine.advance_flows(session, T0 + timedelta(days=3))
    review = messages(session, "review_request")
    assert len(review) == 1 and review[0].send_at == T0 + timedelta(days=3)
    assert "votre avis compte" in review[0].body and "STOP" in review[0].body


def test_welcome_after_opt_in_is_deferred_to_the_next_opening(session, shop):
    install(session, shop, "welcome")
    # given an opt-in on Saturday 14 March at 21:00 in Paris (window closed; Sunday closed too)
    saturday_night = datetime(2026, 3, 14, 20, 0, tzinfo=UTC)
    contact = subscribe(session, shop, at=saturday_night)
    # then the welcome is scheduled for Monday 08:00 Paris, saying why
    [welcome] = messages(session, "welcome")
    assert welcome.send_at == datetime(2026, 3, 16, 7, 0, tzinfo=UTC)
    assert welcome.status == "scheduled" and welcome.status_reason
    assert "BIENVENUE10" in welcome.body
    # and a second consent statement does not welcome them twice
    engine.handle_event(session, shop, DomainEvent(
        "ConsentChanged", contact=customer(), consent=ConsentData("subscribed", "hubspot", saturday_night)),
        now=saturday_night)
    assert len(messages(session, "welcome")) == 1 and contact.id == welcome.contact_id


def test_win_back_after_ninety_days_without_order_once(session, shop):
    install(session, shop, "win_back")
    contact = subscribe(session, shop)
    contact.last_order_at = T0 - timedelta(days=91)
    # when the daily sweep runs twice
    sweeps.daily_sweeps(session, T0)
    sweeps.daily_sweeps(session, T0 + timedelta(days=1))
    # then one win-back message
    [message] = messages(session, "win_back")
    assert "vous nous manquez" in message.body and "REVIENS15" in message.body
    # and a contact who ordered recently gets none
    contact.last_order_at = T0
    sweeps.daily_sweeps(session, T0 + timedelta(days=2))
    assert len(messages(session, "win_back")) == 1


def test_birthday_on_the_day(session, shop):
    install(session, shop, "birthday")
    contact = subscribe(session, shop)
    contact.birthday = "1990-03-11"
    sweeps.daily_sweeps(session, T0)
    assert messages(session, "birthday") == []
    sweeps.daily_sweeps(session, T0 + timedelta(days=1))
    sweeps.daily_sweeps(session, T0 + timedelta(days=1, hours=2))
    [message] = messages(session, "birthday")
    assert message.body.startswith("Boutique Lumière: Joyeux anniversaire Léa ! Un cadeau vous attend")
