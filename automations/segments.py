"""Segments as data: a condition tree in the rule condition language (`automations.conditions`)
over a shop's contacts, validated with the same groups, operators and field-keyed errors.

Fields a segment may test (op and value as in rules):

- contact: `contact.country` (ISO code, from the phone number), `contact.locale`, `contact.tags`,
  `contact.created_at`, `contact.source` (shopify | hubspot | other)
- consent: `consent.status`, `consent.since`, `consent.source`
- commerce: `commerce.orders_count`, `commerce.total_spent`, `commerce.last_order_at`,
  `commerce.average_order_value`, `commerce.spend_percentile` (0–100 among the shop's buyers),
  `commerce.bought_product` (a product gid or title the order webhooks carried),
  `commerce.abandoned_checkout` (`within_days`)
- engagement (`within_days` N, or `exists` false for "never"): `engagement.received`,
  `engagement.clicked`, `engagement.replied`, `engagement.converted`
- conversations: `conversation.open`, `conversation.handed_off` (`eq` true/false)
- membership: `segment` with `in` / `not_in` a list of segment ids of the same shop

Saving a changed definition bumps the version and keeps the old one.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from automations.conditions import ConditionField, LeafSchema
from automations.models import Segment, SegmentVersion, Shop

DATE_FIELDS = ("contact.created_at", "consent.since", "commerce.last_order_at")
NUMBER_FIELDS = ("commerce.orders_count", "commerce.total_spent", "commerce.average_order_value",
                 "commerce.spend_percentile")
TEXT_FIELDS = ("contact.country", "contact.locale", "contact.source", "consent.status", "consent.source")
ACTIVITY_FIELDS = ("engagement.received", "engagement.clicked", "engagement.replied", "engagement.converted",
                   "commerce.abandoned_checkout")
FLAG_FIELDS = ("conversation.open", "conversation.handed_off")
FIELDS = (*TEXT_FIELDS, "contact.tags", *DATE_FIELDS, *NUMBER_FIELDS, "commerce.bought_product",
          *ACTIVITY_FIELDS, *FLAG_FIELDS, "segment")
_OPS = {
    **{f: ("eq", "neq", "in", "not_in", "exists") for f in TEXT_FIELDS},
    "contact.tags": ("contains", "in", "not_in", "exists"),
    **{f: ("gt", "gte", "lt", "lte", "within_days", "exists") for f in DATE_FIELDS},
    **{f: ("eq", "neq", "gt", "gte", "lt", "lte") for f in NUMBER_FIELDS},
    "commerce.bought_product": ("eq", "in"),
    **{f: ("within_days", "exists") for f in ACTIVITY_FIELDS},
    **{f: ("eq",) for f in FLAG_FIELDS},
    "segment": ("in", "not_in"),
}
_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

BUILTIN = {
    "engaged": ("Engaged", "Clicked an SMS in the last 30 days",
                {"all": [{"field": "engagement.clicked", "op": "within_days", "value": 30}]}),
    "buyers": ("Buyers", "Ordered at least once",
               {"all": [{"field": "commerce.orders_count", "op": "gte", "value": 1}]}),
    "vip": ("VIP", "Top 10% of buyers by total spent",
            {"all": [{"field": "commerce.spend_percentile", "op": "gte", "value": 90}]}),
    "never-purchased": ("Never purchased", "No order yet",
                        {"all": [{"field": "commerce.orders_count", "op": "eq", "value": 0}]}),
    "lapsed": ("Lapsed", "Ordered before, but not in the last 90 days",
               {"all": [{"field": "commerce.orders_count", "op": "gte", "value": 1},
                        {"field": "commerce.last_order_at", "op": "lt", "value": "-90d"}]}),
    "abandoned-checkout": ("Abandoned a checkout", "Abandoned a checkout in the last 7 days",
                           {"all": [{"field": "commerce.abandoned_checkout", "op": "within_days", "value": 7}]}),
}
RELATIVE = re.compile(r"^-(\d{1,5})d$")  # "-90d": that many days before now, for date comparisons


class MarketingError(Exception):
    """A refusal: HTTP-like status and field-keyed messages."""

    def __init__(self, status: int, messages: dict[str, Any]) -> None:
        super().__init__(str(messages))
        self.status, self.messages = status, messages


class SegmentLeaf(LeafSchema):
    field = fields.String(required=True, validate=validate.OneOf(FIELDS))

    @validates_schema
    def _fits_field(self, data: dict[str, Any], **kwargs: Any) -> None:
        name, op, value = data["field"], data["op"], data.get("value")
        if op not in _OPS[name]:
            raise ValidationError(f"{name} takes {', '.join(_OPS[name])}", "op")
        if name in FLAG_FIELDS and not isinstance(value, bool):
            raise ValidationError("must be true or false", "value")
        if name == "segment" and not all(isinstance(v, int) and not isinstance(v, bool) for v in value or []):
            raise ValidationError("must be a list of segment ids", "value")
        if name in NUMBER_FIELDS and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValidationError("must be a number", "value")
        if name in DATE_FIELDS and op in ("gt", "gte", "lt", "lte") and not _is_date(value):
            raise ValidationError("must be an ISO date or -<N>d (N days ago)", "value")


def _is_date(value: Any) -> bool:
    if isinstance(value, str) and RELATIVE.match(value):
        return True
    try:
        datetime.fromisoformat(str(value))
    except ValueError:
        return False
    return True


class SegmentCondition(ConditionField):
    """The rule condition groups, with a segment's own leaves."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        if isinstance(value, dict) and ("all" in value or "any" in value):
            return super()._deserialize(value, attr, data, **kwargs)
        if not isinstance(value, dict):
            raise ValidationError("must be an object")
        return SegmentLeaf().load(value)


class SegmentInput(Schema):
    class Meta:
        unknown = RAISE

    key = fields.String(required=True, validate=validate.Regexp(_KEY, error="lowercase letters, digits, - and _"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    conditions = SegmentCondition(required=True)


def validate_definition(session: Session, shop: Shop, body: dict[str, Any], *, partial: bool = False,
                        segment_id: int | None = None) -> dict[str, Any]:
    """The segment's fields, checked; MarketingError(400) with field-keyed messages otherwise."""
    try:
        data = SegmentInput().load(body, partial=("key",) if partial else ())
    except ValidationError as exc:
        raise MarketingError(400, exc.messages) from exc
    refs = sorted(referenced(data["conditions"]))
    if segment_id is not None and segment_id in refs:
        raise MarketingError(400, {"conditions": ["a segment cannot include or exclude itself"]})
    if refs:
        known = set(session.scalars(sa.select(Segment.id).where(Segment.shop_id == shop.id, Segment.id.in_(refs))))
        missing = [r for r in refs if r not in known]
        if missing:
            raise MarketingError(400, {"conditions": [f"unknown segment ids: {missing}"]})
    return data


def referenced(condition: dict[str, Any]) -> set[int]:
    """The segment ids a condition tree names."""
    if "all" in condition or "any" in condition:
        return set().union(*(referenced(c) for c in condition.get("all", condition.get("any", []))))
    return set(condition.get("value") or []) if condition.get("field") == "segment" else set()


def create(session: Session, shop: Shop, body: dict[str, Any]) -> Segment:
    data = validate_definition(session, shop, body)
    ensure_builtin(session, shop)
    if session.scalar(sa.select(Segment.id).where(Segment.shop_id == shop.id, Segment.key == data["key"])):
        raise MarketingError(409, {"key": [f"a segment {data['key']!r} exists already"]})
    segment = Segment(shop_id=shop.id, key=data["key"], name=data["name"], description=data.get("description"),
                      definition=data["conditions"], version=1)
    session.add(segment)
    session.flush()
    session.add(SegmentVersion(segment_id=segment.id, version=1, definition=segment.definition))
    session.flush()
    return segment


def update(session: Session, shop: Shop, segment: Segment, body: dict[str, Any]) -> Segment:
    if segment.builtin:
        raise MarketingError(409, {"segment": ["a built-in segment cannot be changed: copy it into a new one"]})
    data = validate_definition(session, shop, {"key": segment.key, **body}, segment_id=segment.id)
    if data["key"] != segment.key:
        raise MarketingError(400, {"key": ["the key of a segment cannot change"]})
    segment.name = data["name"]
    segment.description = data.get("description")
    if data["conditions"] != segment.definition:
        segment.version += 1
        segment.definition = data["conditions"]
        session.add(SegmentVersion(segment_id=segment.id, version=segment.version, definition=segment.definition))
    session.flush()
    return segment


def ensure_builtin(session: Session, shop: Shop) -> None:
    """Every shop has the built-in segments (created the first time they are asked for)."""
    have = set(session.scalars(sa.select(Segment.key).where(Segment.shop_id == shop.id, Segment.builtin)))
    for key, (name, description, definition) in BUILTIN.items():
        if key in have:
            continue
        segment = Segment(shop_id=shop.id, key=key, name=name, description=description, definition=definition,
                          version=1, builtin=True)
        session.add(segment)
        session.flush()
        session.add(SegmentVersion(segment_id=segment.id, version=1, definition=definition))
    session.flush()


def to_json(segment: Segment) -> dict[str, Any]:
    return {
        "id": segment.id, "key": segment.key, "name": segment.name, "description": segment.description,
        "conditions": segment.definition, "version": segment.version, "builtin": segment.builtin,
        "created_at": segment.created_at.isoformat() if segment.created_at else None,
        "updated_at": segment.updated_at.isoformat() if segment.updated_at else None,
    }
