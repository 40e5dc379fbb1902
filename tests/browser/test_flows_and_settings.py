"""A merchant turns on a flow, edits a step with the live counter, tries it on past events;
changes a setting; creates and revokes an API key; adds an outgoing webhook."""

from __future__ import annotations

import re

import requests

from automations.models import Shop
from connector.services.preview import preview
from tests.browser.conftest import SHOP


def test_a_merchant_turns_on_a_flow_and_edits_a_step(live, merchant):
    page = merchant.open("/admin/flows")
    row = page.locator("tr[data-flow=abandoned_checkout]")
    assert "Désactivée" in row.inner_text()
    row.get_by_role("button", name="Activer").click()
    assert page.get_by_role("status").inner_text() == "« Panier abandonné » est activée."
    assert "Activée" in page.locator("tr[data-flow=abandoned_checkout]").inner_text()
    merchant.shot("flows")
    page.get_by_role("link", name="Panier abandonné").click()
    # the first text, with a live counter that is the server's preview
    text = page.get_by_label("Texte (fr)").first
    new = "Bonjour {{ first_name }}, votre panier vous attend : {{ checkout_url }} — à tout de suite !"
    text.fill(new)
    expected = preview(live.runtime, {"text": new, "shop": SHOP})
    counter = page.locator("[id='c-steps.0.template.fr']")
    want = f"{expected['characters']} caractères · {expected['segments']} SMS · {expected['encoding']}"
    page.wait_for_function("([el, want]) => el.textContent.startsWith(want)", arg=[counter.element_handle(), want])
    assert expected["encoding"] == "UCS-2"  # the dash and the accent
    # a wait that is not a duration is refused next to its field, the text typed is kept
    page.get_by_label("Durée").fill("demain")
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    error = page.locator("[id='f-steps.1.duration-error']")
    assert "duration" in error.inner_text()
    assert page.get_by_label("Texte (fr)").first.input_value() == new
    merchant.shot("flow-error")
    page.get_by_label("Durée").fill("12h")
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    assert page.get_by_role("status").inner_text() == "Enregistré : version 3."  # 2 was turning it on
    assert page.get_by_label("Durée").input_value() == "12h"
    # a dry run over past events, with its report
    page.get_by_label("Sur les derniers").select_option("7d")
    page.get_by_role("button", name="Lancer").click()
    report = page.locator("dl.dry-run")
    assert "Événements rejoués" in report.inner_text()
    merchant.shot("flow")


def test_a_merchant_changes_a_setting_and_a_refused_one_says_why_next_to_it(live, merchant):
    page = merchant.open("/admin/settings")
    page.get_by_label("Au plus par contact en 7 jours").fill("3")
    page.get_by_label("Réponse à HELP").fill("Boutique Lumière, service client : 01 23 45 67 89")
    page.get_by_role("button", name="Enregistrer").click()
    assert page.get_by_role("status").inner_text() == "Réglages enregistrés."
    assert page.get_by_label("Au plus par contact en 7 jours").input_value() == "3"
    with live.runtime.db.session() as s:
        stored = s.query(Shop).filter_by(domain=SHOP).one().settings
    assert stored["marketing_cap_7d"] == 3 and stored["help_text"].startswith("Boutique Lumière")
    # a window that ends before it starts, and a cap that is no number of messages
    page.get_by_label("De", exact=True).fill("21:00")
    page.get_by_label("Jusqu'à").fill("08:00")
    page.get_by_label("Au plus par contact en 24 heures").fill("-3")
    page.get_by_role("button", name="Enregistrer").click()
    assert "21:00 is not before end 08:00" in page.locator("#f-window_start-error").inner_text()
    assert page.locator("#f-marketing_cap_24h-error").inner_text() == "Un nombre entier de 0 à 50."
    assert page.get_by_label("Jusqu'à").input_value() == "08:00"
    with live.runtime.db.session() as s:
        assert s.query(Shop).filter_by(domain=SHOP).one().settings == stored  # nothing half-saved
    merchant.shot("settings-error")


def test_a_merchant_creates_an_api_key_that_opens_the_api_and_revokes_it(live, merchant):
    page = merchant.open("/admin/settings/api-keys")
    page.get_by_role("button", name="Créer la clé").click()
    assert page.locator("#f-name-error").inner_text() != ""
    page.get_by_label("Nom").fill("Export ERP")
    page.get_by_label("Accès").select_option("read")
    page.get_by_role("button", name="Créer la clé").click()
    key = page.locator("#new-key").inner_text()
    assert re.fullmatch(r"plk_\w+_[\w-]+", key) or key.startswith("plk_")
    merchant.shot("api-keys")
    shop = requests.get(f"{live.url}/api/v1/shop", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert shop.status_code == 200 and shop.json()["domain"] == SHOP
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("tr[data-key='Export ERP']").get_by_role("button", name="Révoquer").click()
    assert "révoquée" in page.get_by_role("status").inner_text()
    again = requests.get(f"{live.url}/api/v1/shop", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert again.status_code == 401


def test_a_merchant_adds_an_outgoing_webhook_and_sees_its_secret_once(live, merchant):
    page = merchant.open("/admin/settings/webhooks")
    page.get_by_label("URL").fill("ftp://example.com/hook")
    page.get_by_role("button", name="Ajouter l'endpoint").click()
    assert page.locator("#f-url-error").inner_text() != ""
    page.get_by_label("URL").fill("https://hooks.example.com/parlons")
    page.get_by_label("consent.changed").check()
    page.get_by_role("button", name="Ajouter l'endpoint").click()
    assert page.locator("#new-secret").inner_text().startswith("whsec_")
    assert "https://hooks.example.com/parlons" in page.locator("table").first.inner_text()
    merchant.shot("webhooks")
    page = merchant.open("/admin/settings/webhooks")
    assert page.locator("#new-secret").count() == 0  # shown once, stored encrypted
