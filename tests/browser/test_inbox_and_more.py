"""A merchant answers a customer in the inbox; the sync, privacy and HubSpot pages in the same look;
every page of the menu is reachable by keyboard."""

from __future__ import annotations

from tests.connector.test_scenarios_live import phone_texts, text


def test_a_merchant_answers_a_customer_from_the_inbox(live, merchant):
    text(live, "Bonjour, ma commande n'est pas arrivée")
    page = merchant.open("/admin/conversations")
    assert "1 unread" in page.locator(".page-header").inner_text()
    page.get_by_role("link", name="+33612345678").first.click()
    assert "Bonjour, ma commande n'est pas arrivée" in page.locator(".history").inner_text()
    page.get_by_label("Votre réponse, envoyée par SMS au +33612345678").fill("Nous regardons tout de suite !")
    page.get_by_label("Agent").fill("Léa")
    page.get_by_role("button", name="Envoyer le SMS").click()
    assert page.get_by_role("status").inner_text() == "Reply queued: it leaves now."
    live.work()
    assert phone_texts(live)[-1] == "Nous regardons tout de suite !"
    page.reload()
    assert "sent by Léa" in page.locator(".history").inner_text()
    merchant.shot("inbox")
    # an empty answer is refused next to the field
    page.get_by_role("button", name="Envoyer le SMS").click()
    assert page.locator("#f-text-error").inner_text() != ""


def test_sync_privacy_and_hubspot_pages(live, merchant):
    page = merchant.open("/admin/sync")
    assert "Shopify customers" in page.locator("table").inner_text()
    merchant.shot("sync")
    page = merchant.open("/admin/privacy")
    assert "No data request so far" in page.inner_text("main")
    page = merchant.open("/admin/hubspot")
    assert "4242" in page.inner_text("main")
    merchant.shot("hubspot")


def test_the_menu_works_with_the_keyboard(live, merchant):
    page = merchant.open("/admin")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Aller au contenu"
    wanted = ["Accueil", "Automatisations", "Contacts", "Messagerie", "Réglages", "Synchronisation",
              "Confidentialité", "HubSpot"]
    seen = []
    for _ in range(20):
        page.keyboard.press("Tab")
        label = page.evaluate("document.activeElement.closest('nav.sidebar') && document.activeElement.textContent")
        if label:
            seen.append(label.strip())
    assert [w for w in wanted if w in seen] == wanted
    # Enter follows the focused link
    page.locator("nav.sidebar a", has_text="Réglages").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/settings")
    # every field of the settings page has a label
    unlabelled = page.evaluate("""[...document.querySelectorAll('main input:not([type=hidden]), main select, main textarea')]
        .filter(el => !el.labels || el.labels.length === 0).map(el => el.name)""")
    assert unlabelled == []
