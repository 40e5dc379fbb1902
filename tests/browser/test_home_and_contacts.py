"""A merchant opens the dashboard and finds a contact with their consent proof."""

from __future__ import annotations

from datetime import timedelta

from automations.models import ConsentEvent, Contact, Link, LinkClick, Message, Order, Rule, utcnow


def seed_activity(live) -> None:  # noqa: ANN001
    """Twenty messages this period and five in the previous one, clicks and an attributed order."""
    now = utcnow()
    shop_id = live.shop_id()
    with live.runtime.db.transaction() as s:
        cart = s.query(Rule).filter_by(shop_id=shop_id, key="abandoned_checkout").one()
        contact = Contact(shop_id=shop_id, phone_e164="+33611112222", first_name="Léa", last_name="Martin",
                          consent_status="subscribed", email="lea@example.com", tags=["vip"])
        s.add(contact)
        s.flush()
        s.add(ConsentEvent(shop_id=shop_id, contact_id=contact.id, status="subscribed", source="checkout",
                           evidence={"ip": "203.0.113.9", "text": "J'accepte de recevoir des SMS"},
                           occurred_at=now - timedelta(days=20)))
        for i in range(25):
            at = now - timedelta(days=i % 10 if i < 20 else 35, hours=1)
            message = Message(shop_id=shop_id, contact_id=contact.id, direction="outbound", kind="marketing",
                              to_phone=contact.phone_e164, body=f"Offre {i}", status="delivered", segments=1,
                              cost="0.0700", sent_at=at, delivered_at=at, idempotency_key=f"seed:{i}",
                              rule_id=cart.id if i < 4 else None)
            s.add(message)
            s.flush()
            if i < 4:
                link = Link(code=f"seed{i}", shop_id=shop_id, contact_id=contact.id, message_id=message.id,
                            target_url="https://boutique.example/soldes")
                s.add(link)
                s.flush()
                s.add(LinkClick(link_id=link.id, clicked_at=at + timedelta(minutes=5)))
        s.add(Order(shop_id=shop_id, gid="gid://shopify/Order/1", name="#1001", contact_id=contact.id,
                    created_at=now - timedelta(hours=1), data={"total_price": "89.90"}))


def test_the_dashboard_shows_the_periods_figures_against_the_previous_one(live, merchant):
    seed_activity(live)
    page = merchant.open("/admin")
    sent = page.locator("[data-metric=sent]")
    assert sent.locator(".value").inner_text() == "20"
    assert "▲ 300,0 %" in sent.locator(".delta").inner_text()  # 20 against 5
    assert page.locator("[data-metric=clicks] .value").inner_text() == "4"
    assert page.locator("[data-metric=ctr] .value").inner_text() == "20,0 %"
    assert page.locator("[data-metric=orders] .value").inner_text() == "1"
    assert page.locator("[data-metric=revenue] .value").inner_text() == "89,90 EUR"
    assert page.locator("[data-metric=cost] .value").inner_text() == "1,40 EUR"
    top = page.locator("section", has=page.get_by_role("heading", name="Automatisations et campagnes qui rapportent le plus"))
    assert "Panier abandonné" in top.inner_text() and "89,90 EUR" in top.inner_text()
    # the charts are drawn by the chart library
    page.wait_for_function("document.querySelectorAll('canvas').length > 0 && !!window.Chart")
    assert page.evaluate("Object.keys(Chart.instances).length") >= 8
    merchant.shot("home")
    # a shorter period is one choice away, by keyboard too
    page.get_by_label("Période").select_option("7")
    page.get_by_role("button", name="Afficher").click()
    page.wait_for_url("**/admin?days=7")
    assert page.locator("[data-metric=sent] .value").inner_text() == "14"


def test_a_merchant_finds_a_contact_and_reads_their_consent_proof(live, merchant):
    seed_activity(live)
    page = merchant.open("/admin/contacts")
    page.get_by_label("Rechercher par téléphone, nom ou e-mail").fill("06 11 11 22 22")
    page.get_by_role("button", name="Rechercher").click()
    page.get_by_role("link", name="Léa Martin").click()
    assert page.get_by_role("heading", name="Léa Martin").is_visible()
    history = page.locator("section", has=page.get_by_role("heading", name="Historique du consentement"))
    assert "checkout" in history.inner_text()
    history.get_by_text("Preuve").click()
    assert "J'accepte de recevoir des SMS" in history.inner_text()
    merchant.shot("contact")
    # unsubscribing asks why, next to the field, and then records it
    page.get_by_role("button", name="Désabonner du marketing").click()
    assert page.locator("#f-reason-error").inner_text() == "Dites pourquoi, pour le registre du consentement."
    page.get_by_label("Raison du désabonnement").fill("Demande par téléphone")
    page.get_by_role("button", name="Désabonner du marketing").click()
    assert page.get_by_role("status").inner_text().startswith("Désabonné")
    assert "Demande par téléphone" in history.inner_text() or "admin" in history.inner_text()
