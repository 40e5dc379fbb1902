"""What Parlons itself says in a conversation (opt-out, help, expiry…) in French and English, and
the values its texts are rendered with."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations.conversation_flows import FlowDefinition
from automations.models import (
    Checkout,
    Contact,
    Shop,
)
from automations.policy import ShopPolicy
from automations.templating import render

TEXTS = {
    "fr": {
        "opt_out": "Désinscription confirmée : plus aucun SMS de {brand}. Répondez START pour "
                   "vous réabonner.",
        "opt_in": "Réabonnement confirmé aux SMS de {brand}. Répondez STOP pour vous désabonner.",
        "help": "{brand} : SMS d'information et d'offres, {frequency}. Aide : {support}. "
                "Prix d'un SMS standard. Répondez STOP pour vous désabonner.",
        "reprompt": "Désolé, je n'ai pas compris. Répondez {choices}.",
        "expired": "Désolé, cette offre a expiré. Un conseiller reste joignable ici si besoin.",
        "handoff": "Merci ! Un conseiller vous répond ici très vite.",
        "frequency": "jusqu'à {n} SMS par semaine", "frequency_any": "fréquence variable",
    },
    "en": {
        "opt_out": "You are unsubscribed from {brand}. No more messages. Reply START to "
                   "resubscribe.",
        "opt_in": "You are subscribed to {brand} SMS again. Reply STOP to opt out.",
        "help": "{brand}: order updates and offers, {frequency}. Help: {support}. Msg & data "
                "rates may apply. Reply STOP to opt out.",
        "reprompt": "Sorry, I did not understand. Please reply {choices}.",
        "expired": "Sorry, this offer has expired. You can still write to us here.",
        "handoff": "Thanks! Someone from our team will answer you here shortly.",
        "frequency": "up to {n} msgs/week", "frequency_any": "msg frequency varies",
    },
}


def language(contact: Contact | None, shop: Shop | None) -> str:
    for locale in (contact.locale if contact else None, shop.locale if shop else None):
        lang = (locale or "")[:2].lower()
        if lang in TEXTS:
            return lang
    return "fr"


def brand(shop: Shop) -> str:
    sender = str((shop.settings or {}).get("sender_name") or "").strip()
    return sender or shop.name or shop.domain


def reply_text(name: str, lang: str, **values: str) -> str:
    return TEXTS.get(lang, TEXTS["en"])[name].format(**values)


def help_text(shop: Shop, lang: str) -> str:
    """The shop's HELP answer: `help_text` setting (per locale) or brand, frequency, support, STOP."""
    settings = shop.settings or {}
    custom = settings.get("help_text")
    if isinstance(custom, dict):
        custom = custom.get(lang)
    if isinstance(custom, str) and custom.strip():
        return custom
    cap = ShopPolicy.from_settings(settings).marketing_cap_7d
    frequency = reply_text("frequency", lang, n=str(cap)) if cap else reply_text("frequency_any", lang)
    support = str(settings.get("support_contact") or shop.domain)
    return reply_text("help", lang, brand=brand(shop), frequency=frequency, support=support)


def template_variables(shop: Shop, contact: Contact) -> dict[str, Any]:
    return {"first_name": contact.first_name, "last_name": contact.last_name,
            "shop_name": shop.name or shop.domain, "shop_url": f"https://{shop.domain}",
            "shop_domain": shop.domain}


def expiry_deadline(flow: FlowDefinition, shop: Shop, now: datetime) -> datetime | None:
    deadlines = []
    if flow.timeout is not None:
        deadlines.append(now + flow.timeout)
    if flow.expires_at_local:
        zone = ZoneInfo(shop.timezone or "Europe/Paris")
        local = now.astimezone(zone)
        at = time.fromisoformat(flow.expires_at_local)
        candidate = datetime.combine(local.date(), at, zone)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), at, zone)
        deadlines.append(candidate)
    return min(deadlines) if deadlines else None


def checkout_url(
    session: Session, shop: Shop, contact: Contact, variables: dict[str, Any]
) -> str | None:
    """The link that completes the order: the open cart's abandoned-checkout URL, else the
    `checkout_url` variable, else the shop's `checkout_url_template` rendered."""
    query = sa.select(Checkout).where(
        Checkout.shop_id == shop.id, Checkout.contact_id == contact.id,
        Checkout.completed_at.is_(None), Checkout.abandoned_checkout_url.is_not(None))
    if variables.get("checkout_token"):
        query = query.where(Checkout.token == str(variables["checkout_token"]))
    checkout = session.scalars(query.order_by(Checkout.id.desc()).limit(1)).first()
    if checkout is not None:
        return checkout.abandoned_checkout_url
    if variables.get("checkout_url"):
        return str(variables["checkout_url"])
    template = (shop.settings or {}).get("checkout_url_template")
    return render(template, variables) or None if template else None
