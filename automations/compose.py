"""Compose an SMS as it will be sent: links, footer, encoding, segments, send time and cost.

The one function behind `parlons preview` and `POST /api/v1/messages/preview`, and the one the
dispatcher uses, so that what a merchant previews is what the recipient receives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import phonenumbers

from automations.encoding import SegmentInfo, analyse, smart_encode
from automations.footer import apply_footer
from automations.links import rewrite_links
from automations.policy import ShopPolicy
from automations.pricing import cost, price_per_segment
from automations.windows import WindowDecision, next_send_time, parse_phone


@dataclass(frozen=True)
class Composition:
    body: str  # the text as sent
    info: SegmentInfo
    marketing: bool
    footer_added: bool = False
    smart_encoded: bool = False  # smart encoding changed the text
    links: list[tuple[str, str]] = field(default_factory=list)  # (original, short)
    to: str | None = None  # E.164
    window: WindowDecision | None = None
    cost: Decimal | None = None
    price_per_segment: Decimal | None = None
    currency: str | None = None

    def to_json(self) -> dict[str, Any]:
        window = self.window
        return {
            "body": self.body,
            "encoding": self.info.encoding,
            "segments": self.info.segments,
            "characters": self.info.characters,
            "units": self.info.units,
            "non_gsm_characters": list(self.info.non_gsm_characters),
            "parts": list(self.info.parts),
            "marketing": self.marketing,
            "footer_added": self.footer_added,
            "smart_encoded": self.smart_encoded,
            "links": [{"original": o, "short": s} for o, s in self.links],
            "to": self.to,
            "country": window.country if window else None,
            "timezone": window.timezone if window else None,
            "send_at": window.send_at.isoformat() if window else None,
            "deferred_reason": window.deferred_reason if window else None,
            "cost": str(self.cost) if self.cost is not None else None,
            "price_per_segment": (
                str(self.price_per_segment) if self.price_per_segment is not None else None
            ),
            "currency": self.currency,
        }


def compose(
    text: str,
    *,
    policy: ShopPolicy | None = None,
    to: str | None = None,
    at: datetime | None = None,
    marketing: bool = True,
    raw: bool = False,
    smart: bool | None = None,
    locale: str | None = None,
    shorten: Callable[[str], str] | None = None,
) -> Composition:
    """Compose `text` for sending (policy defaults to `ShopPolicy()`).

    Order: links rewritten (when `shorten` is given) -> footer and sender name (marketing) ->
    smart encoding (`smart`, default the policy's; kept only when it costs no more segments) ->
    segment analysis. `raw=True` counts the text exactly as given. With `to` (E.164, or national
    in the shop's region) the result also has the recipient's country, send time and cost;
    an invalid number raises ValueError("invalid phone number: …").
    """
    policy = policy or ShopPolicy()
    e164 = country = None
    if to:
        number = parse_phone(to, policy.default_region)
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        country = phonenumbers.region_code_for_number(number)
    body, links, footer_added, smart_encoded = text, [], False, False
    if not raw:
        if shorten is not None:
            skip = [f"{policy.public_url}/l/"] if policy.public_url else []
            body, links = rewrite_links(body, shorten, skip_prefixes=skip)
        body, footer_added = apply_footer(body, locale, policy, marketing, country=country)
        if policy.smart_encoding if smart is None else smart:
            candidate = smart_encode(body)
            if candidate != body and analyse(candidate).segments <= analyse(body).segments:
                body, smart_encoded = candidate, True
    info = analyse(body)
    if e164 is None:
        return Composition(body, info, marketing, footer_added, smart_encoded, links)
    window = next_send_time(e164, at or datetime.now(UTC), policy, marketing)
    return Composition(
        body,
        info,
        marketing,
        footer_added,
        smart_encoded,
        links,
        to=e164,
        window=window,
        cost=cost(country, info.segments, policy),
        price_per_segment=price_per_segment(country, policy),
        currency=policy.currency,
    )
