"""What Parlons says while someone joins the SMS list, in French and English, and the legal
consent text a sign-up page shows (each shop may replace it; every text carries its version)."""

from __future__ import annotations

from typing import Any

from automations.conversation_texts import brand, reply_text
from automations.models import Shop
from automations.policy import ShopPolicy

LEGAL_VERSION = "2026-01"
LEGAL_TEXTS = {
    "fr": "En saisissant mon numéro, j'accepte de recevoir des SMS marketing de {brand} "
          "({frequency}). Je confirmerai par SMS. Désinscription à tout moment en répondant STOP. "
          "Prix d'un SMS standard.",
    "en": "By entering my number, I agree to receive marketing text messages from {brand} "
          "({frequency}). I will confirm by SMS. Reply STOP at any time to opt out. Msg & data "
          "rates may apply.",
}
TEXTS = {
    "fr": {
        "request_keyword": "{brand} : répondez OUI pour recevoir nos offres par SMS ({frequency}). "
                           "Prix d'un SMS standard. STOP pour refuser.",
        "request_code": "{brand} : votre code est {code}. Saisissez-le sur la page ou répondez OUI "
                        "pour recevoir nos offres par SMS ({frequency}). STOP pour refuser.",
        "confirmed": "Inscription confirmée aux SMS de {brand}. Répondez STOP pour vous désabonner.",
        "already": "Vous êtes déjà inscrit(e) aux SMS de {brand}. Répondez STOP pour vous désabonner.",
        "back_in_stock": "{brand} : {product} est de nouveau disponible ! {url} STOP pour se "
                         "désabonner.",
        "price_drop": "{brand} : {product} passe à {price} ! {url} STOP pour se désabonner.",
    },
    "en": {
        "request_keyword": "{brand}: reply YES to get our offers by text ({frequency}). Msg & data "
                           "rates may apply. Reply STOP to decline.",
        "request_code": "{brand}: your code is {code}. Type it on the page or reply YES to get our "
                        "offers by text ({frequency}). Reply STOP to decline.",
        "confirmed": "You are subscribed to {brand} texts. Reply STOP to opt out.",
        "already": "You are already subscribed to {brand} texts. Reply STOP to opt out.",
        "back_in_stock": "{brand}: {product} is back in stock! {url} Reply STOP to opt out.",
        "price_drop": "{brand}: {product} is now {price}! {url} Reply STOP to opt out.",
    },
}


def lang_of(locale: str | None, shop: Shop) -> str:
    for value in (locale, shop.locale):
        short = (value or "")[:2].lower()
        if short in TEXTS:
            return short
    return "fr"


def frequency(shop: Shop, lang: str) -> str:
    cap = ShopPolicy.from_settings(shop.settings or {}).marketing_cap_7d
    return reply_text("frequency", lang, n=str(cap)) if cap else reply_text("frequency_any", lang)


def text(shop: Shop, name: str, lang: str, **values: Any) -> str:
    return TEXTS[lang][name].format(brand=brand(shop), frequency=frequency(shop, lang), **values)


def legal(shop: Shop, lang: str) -> tuple[str, str]:
    """The consent text a sign-up form shows in this language, and its version.

    A shop replaces it with the `signup.legal` setting ({"fr": …, "en": …, "version": …}); `{brand}`
    and `{frequency}` are filled in.
    """
    custom = ((shop.settings or {}).get("signup") or {}).get("legal") or {}
    source = custom.get(lang) if isinstance(custom, dict) else None
    version = str(custom.get("version") or "custom") if source else LEGAL_VERSION
    source = source or LEGAL_TEXTS[lang]
    return source.replace("{brand}", brand(shop)).replace("{frequency}", frequency(shop, lang)), version
