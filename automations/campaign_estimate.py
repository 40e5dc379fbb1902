"""What a campaign will do before it does it, and a test send to one number.

The estimate: recipients reachable and excluded by reason; each variant per locale as composed
(footer, short links, encoding, segments); cost by country and in total; when the last message
will leave, the schedule, the throttle, the A/B wait and each country's send window considered.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import links, templating
from automations.campaign_send import audience
from automations.campaigns import variants
from automations.compose import compose
from automations.contacts import upsert_contact
from automations.events import ContactData
from automations.flow_messages import message_variables, pick_locale, tidy
from automations.models import Campaign, Contact, Message, Shop
from automations.pricing import price_per_segment
from automations.segments import MarketingError
from automations.segments_sql import REACHABLE, Compiler, count
from automations.shops import policy_for
from automations.windows import next_send_time


def _sample_link(public_url: str | None) -> Any:
    return (lambda _url: links.short_link(public_url, "Ab3dE5gH")) if public_url else None


def estimate(session: Session, shop: Shop, campaign: Campaign, now: datetime) -> dict[str, Any]:
    policy = policy_for(shop)
    compiler = Compiler(session, shop.id, now)
    spec = campaign.audience or {}
    counted = count(session, compiler, compiler.audience(spec.get("include", []), spec.get("exclude", [])))
    example = session.scalar(sa.select(Contact).where(audience(compiler, campaign), REACHABLE).limit(1))
    shown, weighted = [], Decimal(0)
    for variant in variants(session, campaign):
        per_locale = {}
        for locale, source in variant.templates.items():
            try:
                text = tidy(templating.render(source, message_variables(
                    shop, example or Contact(), {"discount_code": campaign.discount_code}, {}, locale)))
            except templating.TemplateError as exc:
                per_locale[locale] = {"error": str(exc)}
                continue
            made = compose(text, policy=policy, marketing=True, locale=locale, shorten=_sample_link(policy.public_url))
            per_locale[locale] = {"body": made.body, "encoding": made.info.encoding, "segments": made.info.segments,
                                  "characters": made.info.characters,
                                  "non_gsm_characters": list(made.info.non_gsm_characters)}
        main = per_locale.get(pick_locale(variant.templates, shop.locale, shop.locale), {})
        weighted += Decimal(variant.share) / 100 * Decimal(main.get("segments", 1))
        shown.append({"label": variant.label, "share": variant.share, "locales": per_locale})
    by_country = _by_country(session, compiler, campaign)
    costs = [{"country": c, "recipients": n,
              "cost": str((price_per_segment(c, policy) * weighted * n).quantize(Decimal("0.01")))}
             for c, n, _ in by_country]
    return {
        "campaign_id": campaign.id, **counted, "variants": shown, "cost_by_country": costs,
        "cost": str(sum((Decimal(c["cost"]) for c in costs), Decimal(0))), "currency": policy.currency,
        "last_send_at": _last_send(campaign, shop, by_country, now),
    }


def _by_country(session: Session, compiler: Compiler, campaign: Campaign) -> list[tuple[str, int, str]]:
    """(country, reachable recipients, one of their numbers), from the numbers' prefixes."""
    prefix = sa.func.substr(Contact.phone_e164, 1, 5)
    rows = session.execute(sa.select(prefix, sa.func.count(), sa.func.min(Contact.phone_e164))
                           .where(audience(compiler, campaign), REACHABLE).group_by(prefix)).all()
    found: dict[str, list[Any]] = {}
    for _, n, phone in rows:
        try:
            country = phonenumbers.region_code_for_number(phonenumbers.parse(phone)) or "ZZ"
        except phonenumbers.NumberParseException:
            country = "ZZ"
        entry = found.setdefault(country, [0, phone])
        entry[0] += n
    return sorted(((c, n, p) for c, (n, p) in found.items()), key=lambda r: -r[1])


def _last_send(campaign: Campaign, shop: Shop, by_country: list[tuple[str, int, str]], now: datetime) -> str | None:
    if not by_country:
        return None
    policy = policy_for(shop)
    spec = campaign.schedule or {}
    start = max(campaign.send_at or now, now)
    if spec.get("mode") == "local":
        start = datetime.combine(date.fromisoformat(spec["date"]), time.fromisoformat(spec["time"]),
                                 tzinfo=ZoneInfo("Etc/GMT+12"))
    end = start + timedelta(hours=campaign.throttle_hours or 0)
    if (campaign.ab or {}).get("mode") == "winner":
        end = max(end, start + timedelta(hours=float(campaign.ab.get("after_hours", 4))))
    last = max(next_send_time(phone, end, policy, True).send_at for _, _, phone in by_country)
    return last.isoformat()


def test_message(session: Session, shop: Shop, campaign: Campaign, phone: str, label: str | None,
                 now: datetime) -> Message:
    """One message of the campaign to one number, now (a test: no window, no cap, not counted)."""
    choices = {v.label: v for v in variants(session, campaign)}
    variant = choices.get((label or "A").upper())
    if variant is None:
        raise MarketingError(400, {"variant": [f"no variant {label!r}; this campaign has {sorted(choices)}"]})
    result = upsert_contact(session, shop, ContactData(phone=phone), source="admin")
    contact = result.contact
    if contact is None or not contact.phone_e164:
        raise MarketingError(400, {"phone": [f"not a valid phone number ({result.phone_error or 'empty'})"]})
    if contact.opted_out_at is not None:
        raise MarketingError(409, {"phone": ["this number replied STOP: nothing is sent to it"]})
    policy = policy_for(shop)
    locale = pick_locale(variant.templates, contact.locale, shop.locale)
    try:
        text = tidy(templating.render(variant.templates[locale], message_variables(
            shop, contact, {"discount_code": campaign.discount_code}, {}, locale)))
    except templating.TemplateError as exc:
        raise MarketingError(400, {"variants": {variant.label: [str(exc)]}}) from exc
    made = compose(text, policy=policy, to=contact.phone_e164, at=now, marketing=True, locale=locale)
    message = Message(
        shop_id=shop.id, contact_id=contact.id, direction="outbound", kind="system", to_phone=made.to,
        from_phone=shop.sms_number, body=made.body, encoding=made.info.encoding, segments=made.info.segments,
        cost=str(made.cost), status="scheduled", status_reason="campaign test send",
        idempotency_key=f"campaign:{campaign.id}:test:{uuid.uuid4().hex}", send_at=now,
        media_urls=[campaign.media_url] if campaign.media_url else [],
    )
    session.add(message)
    session.flush()
    return message
