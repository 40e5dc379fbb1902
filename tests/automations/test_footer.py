"""Opt-out footer and sender name: every marketing SMS says who sends it and how to stop."""

from __future__ import annotations

import pytest

from automations.footer import apply_footer, footer_text, has_opt_out
from automations.policy import ShopPolicy

SHOP = ShopPolicy(sender_name="Maison Lune")


def test_french_marketing_sms_gets_the_stop_footer_and_the_sender_name():
    # given a French marketing body without opt-out mention
    body, added = apply_footer("-20% ce week-end !", "fr", SHOP, marketing=True)
    # then it is signed and carries the STOP mention on its own line
    assert added is True
    assert body == "Maison Lune: -20% ce week-end !\nRépondez STOP pour vous désabonner"


def test_with_a_short_code_the_french_footer_names_it():
    policy = ShopPolicy(short_code="36111")
    body, added = apply_footer("Soldes !", "fr", policy, marketing=True)
    assert body.endswith("\nSTOP au 36111")
    assert added


def test_english_recipient_gets_the_english_footer():
    body, _ = apply_footer("Sale!", "en-GB", ShopPolicy(), marketing=True, country="GB")
    assert body == "Sale!\nReply STOP to opt out"


def test_other_locales_fall_back_to_the_shop_locale_then_english():
    assert footer_text("de", ShopPolicy()) == "Répondez STOP pour vous désabonner"
    assert footer_text("de", ShopPolicy(locale="it")) == "Reply STOP to opt out"
    assert footer_text(None, ShopPolicy(locale="en")) == "Reply STOP to opt out"


def test_shop_footer_overrides_win():
    policy = ShopPolicy(opt_out_footers={"fr": "Stop SMS: STOP au 38xxx", "de": "STOP zum Abmelden"})
    assert footer_text("fr_FR", policy) == "Stop SMS: STOP au 38xxx"
    assert footer_text("de", policy) == "STOP zum Abmelden"


@pytest.mark.parametrize(
    "body",
    [
        "Soldes ! stop au 36111",
        "Soldes ! ARRET au 36111",
        "Soldes ! Arrêt: répondez ARRÊT",
        "Sale! Reply STOP to opt out",
        "Sale! opt-out: reply STOP",
        "Lien pour vous désabonner: https://x.fr/u",
        "Unsubscribe: https://x.fr/u",
    ],
)
def test_a_body_that_already_carries_an_opt_out_mention_is_left_as_written(body):
    out, added = apply_footer(body, "fr", ShopPolicy(), marketing=True)
    assert (out, added) == (body, False)


def test_opt_out_detection_is_about_words():
    assert not has_opt_out("Nos stopper et arrêtoirs sont en promo")
    assert has_opt_out("Répondez Stop.")


def test_transactional_messages_get_neither_footer_nor_sender_name():
    body, added = apply_footer("Votre colis arrive demain.", "fr", SHOP, marketing=False)
    assert (body, added) == ("Votre colis arrive demain.", False)


def test_sender_name_only_where_the_country_requires_it_and_only_once():
    us_body, _ = apply_footer("Sale!", "en", SHOP, marketing=True, country="US")
    assert us_body.startswith("Sale!")
    signed, _ = apply_footer("Maison Lune : nouveautés", "fr", SHOP, marketing=True)
    assert signed.startswith("Maison Lune : nouveautés")
    assert signed.count("Maison Lune") == 1


def test_no_sender_name_configured_means_no_prefix():
    body, _ = apply_footer("Soldes", "fr", ShopPolicy(), marketing=True)
    assert body == "Soldes\nRépondez STOP pour vous désabonner"
