"""A shop's policy (its settings over its own region, zone and locale) and its ready-made rules."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import flows, rules
from automations.models import Rule, Shop
from automations.policy import ShopPolicy


def policy_for(shop: Shop) -> ShopPolicy:
    """The shop's composition and timing policy; its stored settings win over its own fields."""
    base = {
        "default_region": shop.default_region,
        "timezone": shop.timezone,
        "locale": shop.locale,
        "sender_name": shop.name,
    }
    settings = {k: v for k, v in base.items() if v}
    settings.update(shop.settings or {})
    return ShopPolicy.from_settings(settings)


def install_default_rules(session: Session, shop: Shop) -> list[Rule]:
    """Create the ready-made rules the shop does not have yet; an edited rule is left as it is."""
    existing = set(session.scalars(sa.select(Rule.key).where(Rule.shop_id == shop.id)))
    created = []
    for definition in flows.default_rules():
        if definition["key"] not in existing:
            created.append(rules.save_rule(session, shop, definition))
    return created
