"""Composing a campaign's messages fast, exactly as `automations.compose` composes any message.

Recipients whose personalised text, send time, country and time zones are the same get the same
composition (numbers that share their first 8 characters share their country and zones): it is
computed once per process with placeholder short links, and each recipient's copy gets its own
links (codes of the same length and alphabet, so encoding and segments are unchanged). Rows are written with COPY on PostgreSQL
(ids drawn from the sequence in one query), in one statement elsewhere.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import orjson
import phonenumbers
import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import links, templating
from automations.compose import Composition, compose
from automations.flow_messages import message_variables, pick_locale, tidy
from automations.models import (
    Campaign,
    CampaignRecipient,
    CampaignVariant,
    Contact,
    Link,
    Message,
    Shop,
    utcnow,
)
from automations.policy import ShopPolicy
from automations.windows import parse_phone, recipient_zones

PREFIX = 8  # characters of an E.164 number that fix its country and time zone
MEMO_SIZE = 20_000
_MESSAGE_COLUMNS = ("id", "shop_id", "contact_id", "direction", "kind", "to_phone", "from_phone", "body", "encoding",
                    "segments", "cost", "status", "status_reason", "idempotency_key", "send_at", "media_urls",
                    "created_at", "updated_at")
_LINK_COLUMNS = ("code", "shop_id", "contact_id", "message_id", "target_url", "created_at")


_Memo = dict[tuple[Any, ...], tuple[Composition, list[tuple[str, str]]]]
_memos: dict[int, _Memo] = {}  # per campaign, kept from one batch to the next in this process


def memo(campaign_id: int) -> _Memo:
    """The compositions this process made for the campaign (the last few campaigns only)."""
    if campaign_id not in _memos:
        while len(_memos) >= 4:
            _memos.pop(next(iter(_memos)))
        _memos[campaign_id] = {}
    return _memos[campaign_id]


@functools.lru_cache(maxsize=256)
def _utm(url: str, campaign: str) -> str:
    return links.add_utm(url, campaign=campaign)


class Composer:
    """One campaign's messages, for one batch after another."""

    def __init__(self, shop: Shop, policy: ShopPolicy, campaign: Campaign, memo: _Memo) -> None:
        self.shop, self.policy, self.campaign, self.memo = shop, policy, campaign, memo
        self.tag = f"campaign-{campaign.id}"
        self.data = {"discount_code": campaign.discount_code}
        self.places: dict[str, tuple[str | None, tuple[str, ...]]] = {}
        self.texts: dict[tuple[Any, ...], str] = {}

    def message(self, variant: CampaignVariant, contact: Contact, at: datetime, key: str
                ) -> tuple[dict[str, Any] | None, list[dict[str, Any]], str | None]:
        """The message row and its link rows, or None and why it could not be composed."""
        shop, policy = self.shop, self.policy
        locale = pick_locale(variant.templates, contact.locale, shop.locale)
        phone = contact.phone_e164 or ""
        try:
            text = self._text(variant, locale, contact)
            memo_key = (variant.id, locale, text, self._place(phone), at)
            found = self.memo.get(memo_key)
            if found is None:
                found = self._compose(text, phone, at, locale or shop.locale)
                if len(self.memo) >= MEMO_SIZE:
                    self.memo.clear()
                self.memo[memo_key] = found
        except (templating.TemplateError, ValueError) as exc:
            return None, [], f"not composed: {exc}"
        made, placeholders = found
        body, made_links = made.body, []
        for url, placeholder in placeholders:
            code = links.new_code()
            body = body.replace(placeholder, links.short_link(policy.public_url or "", code))
            made_links.append({"code": code, "shop_id": shop.id, "contact_id": contact.id, "key": key,
                               "target_url": _utm(url, self.tag)})
        assert made.window is not None
        return {
            "shop_id": shop.id, "contact_id": contact.id, "direction": "outbound", "kind": "marketing",
            "to_phone": phone, "from_phone": shop.sms_number, "body": body, "encoding": made.info.encoding,
            "segments": made.info.segments, "cost": str(made.cost), "status": "scheduled",
            "status_reason": made.window.deferred_reason, "idempotency_key": key, "send_at": made.window.send_at,
            "media_urls": [self.campaign.media_url] if self.campaign.media_url else [],
        }, made_links, None

    def _text(self, variant: CampaignVariant, locale: str, contact: Contact) -> str:
        """The personalised text (a campaign's variables depend on the contact's names only)."""
        key = (variant.id, locale, contact.first_name, contact.last_name)
        text = self.texts.get(key)
        if text is None:
            text = tidy(templating.render(variant.templates[locale],
                                          message_variables(self.shop, contact, self.data, {}, locale)))
            self.texts[key] = text
        return text

    def _place(self, phone: str) -> tuple[str | None, tuple[str, ...]]:
        """The number's country and candidate time zones (what its window and price depend on)."""
        place = self.places.get(phone[:PREFIX])
        if place is None:
            number = parse_phone(phone, self.policy.default_region)
            place = (phonenumbers.region_code_for_number(number), recipient_zones(number, self.policy))
            self.places[phone[:PREFIX]] = place
        return place

    def _compose(self, text: str, phone: str, at: datetime, locale: str
                 ) -> tuple[Composition, list[tuple[str, str]]]:
        placeholders: list[tuple[str, str]] = []

        def placeholder(url: str) -> str:
            short = links.short_link(self.policy.public_url or "", f"zz{len(placeholders):06d}")
            placeholders.append((url, short))
            return short

        made = compose(text, policy=self.policy, to=phone, at=at, marketing=True, locale=locale,
                       shorten=placeholder if self.policy.public_url else None)
        return made, placeholders


_MARK = """
UPDATE campaign_recipients AS r
SET status = d.status, reason = d.reason, planned_at = d.planned_at, message_id = d.message_id
FROM unnest(CAST(:ids AS integer[]), CAST(:statuses AS varchar[]), CAST(:reasons AS varchar[]),
            CAST(:planned AS timestamptz[]), CAST(:messages AS integer[]))
     AS d(id, status, reason, planned_at, message_id)
WHERE r.id = d.id
"""


def mark(session: Session, updates: list[dict[str, Any]]) -> None:
    """Write what became of each recipient (queued with its message, or skipped and why)."""
    if session.get_bind().dialect.name != "postgresql":
        session.execute(sa.update(CampaignRecipient), updates)
        return
    session.execute(sa.text(_MARK), {name: [u[column] for u in updates] for name, column in (
        ("ids", "id"), ("statuses", "status"), ("reasons", "reason"), ("planned", "planned_at"),
        ("messages", "message_id"))})


def write(session: Session, rows: list[dict[str, Any]], link_rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert the messages and their links; message ids by idempotency key."""
    if not rows:
        return {}
    if session.get_bind().dialect.name != "postgresql":
        made = dict(session.execute(sa.insert(Message).returning(Message.idempotency_key, Message.id), rows).all())
        if link_rows:
            session.execute(sa.insert(Link), [{**{k: v for k, v in link.items() if k != "key"},
                                               "message_id": made[link["key"]]} for link in link_rows])
        return made
    session.flush()
    ids = list(session.scalars(sa.select(sa.func.nextval("messages_id_seq"))
                               .select_from(sa.func.generate_series(1, len(rows)))))
    now = utcnow()
    made = {row["idempotency_key"]: message_id for row, message_id in zip(rows, ids, strict=True)}
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY messages ({', '.join(_MESSAGE_COLUMNS)}) FROM STDIN") as copy:
        for row, message_id in zip(rows, ids, strict=True):
            values = {**row, "id": message_id, "created_at": now, "updated_at": now,
                      "media_urls": orjson.dumps(row["media_urls"]).decode()}
            copy.write_row(tuple(values[c] for c in _MESSAGE_COLUMNS))
    if link_rows:
        with cursor.copy(f"COPY links ({', '.join(_LINK_COLUMNS)}) FROM STDIN") as copy:
            for link in link_rows:
                values = {**link, "message_id": made[link["key"]], "created_at": now}
                copy.write_row(tuple(values[c] for c in _LINK_COLUMNS))
    return made
