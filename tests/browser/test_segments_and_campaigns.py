"""A merchant builds a segment with its live count, composes an A/B campaign with the live
counter, sends it and reads its report."""

from __future__ import annotations

from automations import consent
from automations.contacts import upsert_contact
from automations.events import ConsentData, ContactData
from automations.models import Shop, utcnow
from connector.services import campaigns as service
from connector.services.preview import preview
from tests.browser.conftest import SHOP


def vip_contacts(live, n: int = 4) -> None:  # noqa: ANN001
    now = utcnow()
    with live.runtime.db.transaction() as session:
        shop = session.query(Shop).filter_by(domain=SHOP).one()
        for i in range(n):
            contact = upsert_contact(session, shop, ContactData(phone=f"+3361200000{i}", first_name=f"Client{i}"),
                                     source="shopify").contact
            contact.tags = ["vip"]
            if i:  # the first one never agreed to marketing
                consent.record(session, contact, ConsentData("subscribed", "shopify", now, {"form": "checkout"}), now)


def test_a_merchant_builds_a_segment_with_its_live_count(live, merchant):
    vip_contacts(live)
    page = merchant.open("/admin/segments")
    page.get_by_role("link", name="Créer un segment").click()
    page.get_by_label("Nom").fill("Clients VIP")
    page.get_by_label("Clé").fill("clients-vip")
    page.get_by_label("Champ").select_option("contact.tags")
    page.get_by_label("Test").select_option("contains")
    page.get_by_label("Valeur").fill("vip")
    page.wait_for_function("document.querySelector('[data-matching]').textContent === '4'")
    assert page.locator("[data-reachable]").inner_text() == "3"
    merchant.shot("segment")
    page.get_by_role("button", name="Enregistrer le segment").click()
    assert page.get_by_role("status").inner_text() == "Segment « Clients VIP » enregistré."
    # a test that does not fit its field is refused next to it
    page.get_by_label("Test").select_option("gt")
    page.get_by_role("button", name="Enregistrer le segment").click()
    assert "contact.tags takes" in page.locator("#rows .field-error").nth(1).inner_text()
    assert page.get_by_label("Valeur").input_value() == "vip"


def test_a_merchant_sends_an_ab_campaign_and_reads_its_report(live, merchant):
    vip_contacts(live)
    service.create_segment(live.runtime, SHOP, {"key": "clients-vip", "name": "Clients VIP", "conditions": {
        "all": [{"field": "contact.tags", "op": "contains", "value": "vip"}]}})
    page = merchant.open("/admin/campaigns")
    page.get_by_role("link", name="Créer une campagne").click()
    page.get_by_label("Nom").fill("Soldes d'hiver")
    page.get_by_role("checkbox", name="Clients VIP").check()
    typed = "Soldes d'hiver : -20 % sur tout ce week-end ! "
    page.get_by_label("Texte (fr)").nth(0).fill(typed)
    # the shop's address is picked from the variables, inserted where the cursor is
    page.get_by_label("Insérer une variable").nth(0).select_option("shop_url")
    text_a = typed + "{{ shop_url }}"
    assert page.get_by_label("Texte (fr)").nth(0).input_value() == text_a
    expected = preview(live.runtime, {"text": text_a, "shop": SHOP})
    want = f"{expected['characters']} caractères · {expected['segments']} SMS · {expected['encoding']}"
    page.wait_for_function("([w]) => document.getElementById('c-A.fr').textContent.startsWith(w)", arg=[want])
    page.get_by_label("Texte (fr)").nth(1).fill("Dernier jour des soldes : -20 % ! {{ shop_url }}")
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    assert page.get_by_role("status").inner_text() == "Campagne enregistrée comme brouillon."
    merchant.shot("campaign-draft")
    page.get_by_role("button", name="Programmer").click()
    merchant.shot("campaign-scheduled")
    assert page.get_by_role("status").inner_text() == "Campagne en cours d'envoi : progression ci-dessous."
    live.work()
    page.goto(page.url)
    # the reachable VIPs are the audience (one never agreed to marketing); A and B are reported apart
    assert page.locator("section", has=page.get_by_role("heading", name="Progression")).locator("dd").first.inner_text() == "3"
    report = page.locator("section.report")
    assert report.locator("tr[data-variant=A]").count() == 1 and report.locator("tr[data-variant=B]").count() == 1
    merchant.shot("campaign-report")
