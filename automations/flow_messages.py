"""A flow's send step as a message: the locale's template, the documented variables with their
fallbacks, short links and the footer (see `automations.compose`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from automations import (
    links,
    templating,
)
from automations.compose import Composition, compose
from automations.models import Contact, Link, Shop
from automations.policy import ShopPolicy
from automations.rule_cache import RuleSnapshot

Shorten = Callable[[str], str]


def compose_step(
    shop: Shop, policy: ShopPolicy, rule: RuleSnapshot, step: dict[str, Any], contact: Contact,
    event_json: dict[str, Any], at: datetime, shorten: Shorten | None,
) -> Composition:
    """A send step's message for this contact as it will be sent (TemplateError if it cannot render)."""
    templates = step["template"] if isinstance(step["template"], dict) else {"": step["template"]}
    locale = pick_locale(templates, contact.locale, shop.locale)
    variables = message_variables(shop, contact, event_json, step.get("variables", {}), locale)
    text = tidy(templating.render(templates[locale], variables))
    return compose(
        text, policy=policy, to=contact.phone_e164, at=at, marketing=rule.marketing,
        raw=bool(step.get("raw")), smart=step.get("smart"), locale=locale or shop.locale,
        shorten=shorten if rule.marketing else None,
    )


def link_maker(
    session: Session, shop: Shop, contact: Contact, policy: ShopPolicy, campaign: str, made: list[Link]
) -> Shorten:
    def shorten(url: str) -> str:
        link = Link(code=links.new_code(), shop_id=shop.id, contact_id=contact.id,
                    target_url=links.add_utm(url, campaign=campaign))
        session.add(link)
        made.append(link)
        return links.short_link(policy.public_url or "", link.code)

    return shorten


def pick_locale(templates: dict[str, str], contact_locale: str | None, shop_locale: str | None) -> str:
    """The template locale for a contact: theirs, else the shop's, else French, else any."""
    for wanted in (contact_locale, shop_locale, "fr", "en", ""):
        short = (wanted or "")[:2].lower()
        if short in templates:
            return short
    return next(iter(templates))


def _money(amount: Any, currency: str | None, locale: str) -> str | None:
    if amount in (None, ""):
        return None
    try:
        value = f"{float(amount):,.2f}"
    except (TypeError, ValueError):
        return str(amount)
    symbol = {"EUR": "€", "USD": "$", "GBP": "£"}.get((currency or "").upper(), currency or "")
    if locale == "fr":
        return f"{value.replace(',', ' ').replace('.', ',')} {symbol}".strip()
    return f"{symbol}{value}" if symbol in ("€", "$", "£") else f"{value} {symbol}".strip()


def message_variables(
    shop: Shop, contact: Contact, data: dict[str, Any], extra: dict[str, str], locale: str
) -> dict[str, Any]:
    """The documented template variables (templating.VARIABLES), with sensible fallbacks."""
    items = data.get("line_items") or []
    currency = data.get("currency") or shop.currency
    status_url = data.get("order_status_url")
    shop_url = (shop.settings or {}).get("shop_url") or f"https://{shop.domain}"
    values = {
        "first_name": contact.first_name, "last_name": contact.last_name,
        "shop_name": shop.name or shop.domain, "shop_url": shop_url,
        "discount_code": data.get("discount_code"),
        "line_items": items,
        "product_title": items[0].get("title") if items and isinstance(items[0], dict) else None,
        "order_name": data.get("order_name") or data.get("name"),
        "order_total": _money(data.get("total_price"), currency, locale),
        "order_status_url": status_url,
        "tracking_number": data.get("tracking_number"),
        "tracking_url": data.get("tracking_url") or status_url or shop_url,
        "carrier": data.get("carrier") or data.get("tracking_company"),
        "checkout_url": data.get("abandoned_checkout_url") or data.get("checkout_url") or shop_url,
        "cart_total": _money(data.get("total_price"), currency, locale),
        "review_url": data.get("review_url") or (shop.settings or {}).get("review_url") or status_url or shop_url,
    }
    for name in ("delivery_status", "cancel_reason", "days_since_last_order", "last_order_name",
                 "date_name", "date", "reply_text", "keyword"):
        values[name] = data.get(name)
    values.update({k: v for k, v in extra.items() if v})
    if data.get("unique_discount_code"):  # a subscriber's own welcome code beats the step's shared one
        values["discount_code"] = data["unique_discount_code"]
    return values


def tidy(text: str) -> str:
    """Spacing left by missing values: no space before a comma or full stop, no double spaces."""
    text = re.sub(r"[ \t]+([,.])", r"\1", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()
