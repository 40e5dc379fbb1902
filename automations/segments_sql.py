"""A segment's condition as one SQL expression over `contacts`, so counting a million contacts is
one query on the database, never a loop in Python.

"Reachable" = may receive marketing now: subscribed, not opted out, a valid phone, not redacted or
deleted. `count` says how many match, how many are reachable and why the others are not.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from automations.models import (
    Attribution,
    Checkout,
    Contact,
    Conversation,
    Link,
    LinkClick,
    Message,
    Order,
    Segment,
)
from automations.segments import RELATIVE, MarketingError

SENT = ("sent", "delivered", "partially_delivered", "undelivered")
MAX_DEPTH = 5
_SPENT = sa.cast(sa.func.coalesce(sa.func.nullif(Contact.total_spent, ""), "0"), sa.Numeric(14, 2))
_ORDERS = sa.func.coalesce(Contact.orders_count, 0)
_SOURCE = sa.case((Contact.shopify_customer_id.is_not(None), "shopify"),
                  (Contact.hubspot_contact_id.is_not(None), "hubspot"), else_="other")
REASONS = ("redacted", "opted_out", "invalid_phone", "no_consent")
REASON = sa.case(
    (sa.or_(Contact.redacted_at.is_not(None), Contact.deleted_at.is_not(None)), "redacted"),
    (Contact.opted_out_at.is_not(None), "opted_out"),
    (Contact.phone_e164.is_(None), "invalid_phone"),
    (Contact.consent_status != "subscribed", "no_consent"),
    else_="reachable",
)
REACHABLE = sa.and_(Contact.redacted_at.is_(None), Contact.deleted_at.is_(None), Contact.opted_out_at.is_(None),
                    Contact.phone_e164.is_not(None), Contact.consent_status == "subscribed")


class Compiler:
    """Turns condition trees of one shop into SQL (segments it names are compiled in)."""

    def __init__(self, session: Session, shop_id: int, now: datetime) -> None:
        self.session, self.shop_id, self.now = session, shop_id, now
        self.dialect = session.get_bind().dialect.name
        self._percentiles: dict[float, Decimal] = {}
        if self.dialect == "postgresql":  # JIT compiling costs more than these scans take
            session.execute(sa.text("SET LOCAL jit = off"))

    def where(self, condition: dict[str, Any] | None, depth: int = 0) -> sa.ColumnElement[bool]:
        if not condition:
            return sa.true()
        if "all" in condition:
            return sa.and_(sa.true(), *(self.where(c, depth) for c in condition["all"]))
        if "any" in condition:
            parts = [self.where(c, depth) for c in condition["any"]]
            return sa.or_(*parts) if parts else sa.true()
        return self._leaf(condition, depth)

    def audience(self, include: list[int], exclude: list[int]) -> sa.ColumnElement[bool]:
        """Contacts in any included segment and in no excluded one."""
        return sa.and_(self.where({"field": "segment", "op": "in", "value": include}),
                       self.where({"field": "segment", "op": "not_in", "value": exclude}) if exclude else sa.true())

    def _leaf(self, leaf: dict[str, Any], depth: int) -> sa.ColumnElement[bool]:
        name, op, value = leaf["field"], leaf["op"], leaf.get("value")
        if name == "segment":
            return self._segments(value or [], op == "in", depth)
        if name in ("engagement.received", "engagement.clicked", "engagement.replied", "engagement.converted",
                    "commerce.abandoned_checkout"):
            return self._activity(name, op, value)
        if name in ("conversation.open", "conversation.handed_off"):
            query = sa.select(Conversation.id).where(Conversation.contact_id == Contact.id,
                                                     Conversation.status != "closed")
            if name == "conversation.handed_off":
                query = query.where(Conversation.handoff_at.is_not(None))
            return sa.exists(query) if value else ~sa.exists(query)
        if name == "contact.tags":
            return self._tags(op, value)
        if name == "commerce.bought_product":
            return self._bought(value if isinstance(value, list) else [value])
        if name == "contact.country":
            return self._country(op, value)
        if name == "commerce.spend_percentile":
            return _compare(op, _SPENT, self._percentile(float(value))) if op != "eq" else \
                _SPENT == self._percentile(float(value))
        column = {
            "contact.locale": sa.func.lower(sa.func.substr(Contact.locale, 1, 2)), "contact.source": _SOURCE,
            "contact.created_at": Contact.created_at, "consent.status": Contact.consent_status,
            "consent.since": Contact.consent_updated_at, "consent.source": Contact.consent_source,
            "commerce.orders_count": _ORDERS, "commerce.total_spent": _SPENT,
            "commerce.last_order_at": Contact.last_order_at,
            "commerce.average_order_value": _SPENT / sa.func.nullif(_ORDERS, 0),
        }[name]
        if op == "exists":
            return column.is_not(None) if value in (None, True) else column.is_(None)
        if op == "within_days":
            return column >= self.now - timedelta(days=float(value))
        if name in ("contact.created_at", "consent.since", "commerce.last_order_at"):
            return sa.and_(column.is_not(None), _compare(op, column, self._date(value)))
        if name == "contact.locale":
            value = [str(v)[:2].lower() for v in value] if isinstance(value, list) else str(value)[:2].lower()
        return _compare(op, column, value)

    def _date(self, value: Any) -> datetime:
        match = RELATIVE.match(str(value))
        if match:
            return self.now - timedelta(days=int(match.group(1)))
        moment = datetime.fromisoformat(str(value))
        return moment if moment.tzinfo else moment.replace(tzinfo=self.now.tzinfo)

    def _segments(self, ids: list[int], inside: bool, depth: int) -> sa.ColumnElement[bool]:
        if depth >= MAX_DEPTH:
            raise MarketingError(400, {"conditions": [f"segments nest more than {MAX_DEPTH} deep (or in a loop)"]})
        rows = self.session.execute(
            sa.select(Segment.id, Segment.definition).where(Segment.shop_id == self.shop_id, Segment.id.in_(ids))
        ).all()
        if len(rows) != len(set(ids)):
            raise MarketingError(400, {"conditions": ["a segment it names no longer exists"]})
        parts = [self.where(definition, depth + 1) for _, definition in rows]
        found = sa.or_(*parts) if parts else sa.false()
        return found if inside else sa.not_(found)

    def _activity(self, name: str, op: str, value: Any) -> sa.ColumnElement[bool]:
        since = self.now - timedelta(days=float(value)) if op == "within_days" else None
        if name == "engagement.clicked":
            query = sa.select(LinkClick.id).join(Link, Link.id == LinkClick.link_id).where(
                Link.contact_id == Contact.id, *([LinkClick.clicked_at >= since] if since else []))
        elif name == "engagement.converted":
            query = sa.select(Attribution.id).where(
                Attribution.contact_id == Contact.id, *([Attribution.ordered_at >= since] if since else []))
        elif name == "commerce.abandoned_checkout":
            query = sa.select(Checkout.id).where(
                Checkout.contact_id == Contact.id, Checkout.abandoned_at.is_not(None), Checkout.order_gid.is_(None),
                *([Checkout.abandoned_at >= since] if since else []))
        else:
            inbound = name == "engagement.replied"
            query = sa.select(Message.id).where(
                Message.contact_id == Contact.id, Message.direction == ("inbound" if inbound else "outbound"),
                *([] if inbound else [Message.status.in_(SENT)]),
                *([Message.created_at >= since] if since else []))
        found = sa.exists(query)
        return found if op == "within_days" or value in (None, True) else ~found

    def _tags(self, op: str, value: Any) -> sa.ColumnElement[bool]:
        if op == "exists":
            has = sa.and_(Contact.tags.is_not(None), sa.cast(Contact.tags, sa.Text) != "[]")
            return has if value in (None, True) else ~has
        wanted = [str(v).casefold() for v in (value if isinstance(value, list) else [value])]
        if self.dialect == "postgresql":  # the folded list as jsonb: one operator, no subquery per row
            folded = sa.cast(sa.func.lower(sa.cast(Contact.tags, sa.Text)), JSONB)
            found = folded.op("?|")(sa.cast(postgresql.array(wanted), postgresql.ARRAY(sa.Text)))
            return sa.and_(Contact.tags.is_not(None), ~found) if op == "not_in" else found
        elements = sa.func.json_each(Contact.tags).table_valued("value")
        found = sa.exists(sa.select(sa.literal(1)).select_from(elements)
                          .where(sa.func.lower(elements.c.value).in_(wanted)))
        return ~found if op == "not_in" else found

    def _bought(self, products: list[Any]) -> sa.ColumnElement[bool]:
        wanted = [str(v) for v in products]
        folded = [w.casefold() for w in wanted]
        if self.dialect == "postgresql":
            items = sa.func.json_array_elements(Order.data["line_items"]).table_valued("value")
            pid, title = items.c.value.op("->>")("product_id"), items.c.value.op("->>")("title")
        else:
            items = sa.func.json_each(Order.data, "$.line_items").table_valued("value")
            pid = sa.func.json_extract(items.c.value, "$.product_id")
            title = sa.func.json_extract(items.c.value, "$.title")
        match = sa.select(sa.literal(1)).select_from(items).where(
            sa.or_(pid.in_(wanted), sa.func.lower(title).in_(folded)))
        return sa.exists(sa.select(Order.id).where(Order.contact_id == Contact.id, Order.status != "cancelled",
                                                   sa.exists(match)))

    def _country(self, op: str, value: Any) -> sa.ColumnElement[bool]:
        if op == "exists":
            return Contact.phone_e164.is_not(None) if value in (None, True) else Contact.phone_e164.is_(None)
        regions = value if isinstance(value, list) else [value]
        prefixes = {f"+{phonenumbers.country_code_for_region(str(r).upper())}" for r in regions}
        prefixes.discard("+0")
        found = sa.or_(*(Contact.phone_e164.like(f"{p}%") for p in sorted(prefixes))) if prefixes else sa.false()
        return ~found if op in ("neq", "not_in") else found

    def _percentile(self, share: float) -> Decimal:
        """The total spent at or above which a buyer is in the top (100 - share)% of the shop's buyers."""
        if share not in self._percentiles:
            buyers = sa.and_(Contact.shop_id == self.shop_id, _SPENT > 0)
            count = self.session.scalar(sa.select(sa.func.count()).where(buyers)) or 0
            offset = int(count * (100 - share) / 100)
            at = self.session.scalar(sa.select(_SPENT).where(buyers).order_by(_SPENT.desc())
                                     .offset(max(offset - 1, 0)).limit(1))
            self._percentiles[share] = Decimal(at) if at is not None else Decimal("Infinity")
        return self._percentiles[share]


def _compare(op: str, column: Any, value: Any) -> sa.ColumnElement[bool]:
    if op in ("in", "not_in"):
        values = [str(v).casefold() if isinstance(v, str) else v for v in value]
        target = sa.func.lower(column) if all(isinstance(v, str) for v in value) else column
        found = target.in_(values)
        return sa.or_(column.is_(None), ~found) if op == "not_in" else found
    if isinstance(value, str) and op in ("eq", "neq"):
        column, value = sa.func.lower(column), value.casefold()
    if op == "neq":
        return sa.or_(column.is_(None), column != value)
    return {"eq": column == value, "gt": column > value, "gte": column >= value, "lt": column < value,
            "lte": column <= value}[op]


def matching(compiler: Compiler, condition: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """The shop's contacts the condition selects (deleted ones are gone for every purpose)."""
    return sa.and_(Contact.shop_id == compiler.shop_id, Contact.deleted_at.is_(None), condition)


def count(session: Session, compiler: Compiler, condition: sa.ColumnElement[bool]) -> dict[str, Any]:
    """How many match, how many are reachable, and why the others are not."""
    rows = session.execute(
        sa.select(REASON.label("reason"), sa.func.count()).where(matching(compiler, condition)).group_by(REASON)
    ).all()
    by_reason = {reason: n for reason, n in rows}
    return {
        "matching": sum(by_reason.values()),
        "reachable": by_reason.get("reachable", 0),
        "unreachable": {reason: by_reason.get(reason, 0) for reason in REASONS},
    }


def sample(session: Session, compiler: Compiler, condition: sa.ColumnElement[bool], limit: int) -> list[dict[str, Any]]:
    """A few matching contacts (newest first), phones masked, each with why it is not reachable."""
    rows = session.execute(
        sa.select(Contact.id, Contact.first_name, Contact.last_name, Contact.phone_e164, Contact.locale,
                  REASON.label("reason"))
        .where(matching(compiler, condition)).order_by(Contact.id.desc()).limit(limit)
    ).all()
    return [{
        "id": r.id, "first_name": r.first_name, "last_name": r.last_name, "phone": mask_phone(r.phone_e164),
        "locale": r.locale, "reachable": r.reason == "reachable",
        "unreachable_reason": None if r.reason == "reachable" else r.reason,
    } for r in rows]


def mask_phone(phone: str | None) -> str | None:
    """+336•••••78: enough to recognise a number, not enough to dial it."""
    if not phone:
        return None
    return phone[:4] + "•" * max(len(phone) - 6, 0) + phone[-2:]
