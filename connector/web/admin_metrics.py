"""The dashboard's figures for one shop over a period, the previous period of the same length,
and their daily series (UTC days).

Orders and revenue are those `automations.attribution` credited to an SMS (the same as the
campaign and flow reports), cancelled orders taken back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations.attribution import revenue
from automations.models import (
    Attribution,
    Campaign,
    ConsentEvent,
    Conversation,
    Link,
    LinkClick,
    Message,
    Rule,
    Shop,
)


@dataclass
class Figures:
    sent: int = 0
    delivered: int = 0
    clicks: int = 0
    clicked_messages: int = 0
    orders: int = 0
    revenue: Decimal = Decimal(0)
    opt_outs: int = 0
    cost: Decimal = Decimal(0)
    conversations: int = 0
    handoffs: int = 0
    top: list[tuple[str, int, Decimal]] = field(default_factory=list)
    daily: dict[str, dict[date, float]] = field(default_factory=dict)

    @property
    def ctr(self) -> float | None:
        return 100 * self.clicked_messages / self.delivered if self.delivered else None

    @property
    def opt_out_rate(self) -> float | None:
        return 100 * self.opt_outs / self.delivered if self.delivered else None

    @property
    def roi(self) -> float | None:
        return float(self.revenue / self.cost) if self.cost else None


def _decimal(text: Any) -> Decimal:
    try:
        return Decimal(str(text)) if text not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _daily(session: Session, column: Any, query: sa.Select) -> dict[date, float]:
    day = sa.func.date(column)
    rows = session.execute(query.with_only_columns(day, sa.func.count()).group_by(day)).all()
    return {d if isinstance(d, date) else date.fromisoformat(str(d)): n for d, n in rows}


def attributed(session: Session, shop: Shop, start: datetime, end: datetime) -> list[Any]:
    """The period's attributions (automations.attribution: last click, else last receipt, else a
    campaign's discount code), cancelled orders taken back."""
    return list(session.execute(sa.select(
        Attribution.ordered_at, Attribution.amount, Attribution.reversed_amount, Attribution.rule_id,
        Attribution.campaign_id).where(Attribution.shop_id == shop.id, Attribution.ordered_at >= start,
                                       Attribution.ordered_at < end)))


def figures(session: Session, shop: Shop, start: datetime, end: datetime) -> Figures:
    f = Figures()
    out = sa.select(Message).where(Message.shop_id == shop.id, Message.direction == "outbound")
    sent_q = out.where(Message.sent_at >= start, Message.sent_at < end)
    delivered_q = out.where(Message.delivered_at >= start, Message.delivered_at < end)
    clicks_q = sa.select(LinkClick).join(Link, Link.id == LinkClick.link_id).where(
        Link.shop_id == shop.id, LinkClick.clicked_at >= start, LinkClick.clicked_at < end)
    opt_q = sa.select(ConsentEvent).where(
        ConsentEvent.shop_id == shop.id, ConsentEvent.status == "unsubscribed",
        ConsentEvent.occurred_at >= start, ConsentEvent.occurred_at < end)
    conv_q = sa.select(Conversation).where(
        Conversation.shop_id == shop.id, Conversation.created_at >= start, Conversation.created_at < end)
    hand_q = sa.select(Conversation).where(
        Conversation.shop_id == shop.id, Conversation.handoff_at >= start, Conversation.handoff_at < end)

    def count(query: sa.Select) -> int:
        return session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0

    f.sent, f.delivered, f.clicks = count(sent_q), count(delivered_q), count(clicks_q)
    f.opt_outs, f.conversations, f.handoffs = count(opt_q), count(conv_q), count(hand_q)
    f.clicked_messages = session.scalar(
        sa.select(sa.func.count(sa.distinct(Link.message_id))).join(LinkClick, LinkClick.link_id == Link.id).where(
            Link.shop_id == shop.id, LinkClick.clicked_at >= start, LinkClick.clicked_at < end)) or 0
    f.cost = sum((_decimal(c) for c in session.scalars(sent_q.with_only_columns(Message.cost))), Decimal(0))
    won = [row for row in attributed(session, shop, start, end) if revenue(row) > 0]
    f.orders, f.revenue = len(won), sum((revenue(row) for row in won), Decimal(0))
    f.top = top_earners(session, won)
    f.daily = {
        "sent": _daily(session, Message.sent_at, sent_q),
        "delivered": _daily(session, Message.delivered_at, delivered_q),
        "clicks": _daily(session, LinkClick.clicked_at, clicks_q),
        "opt_outs": _daily(session, ConsentEvent.occurred_at, opt_q),
        "conversations": _daily(session, Conversation.created_at, conv_q),
        "handoffs": _daily(session, Conversation.handoff_at, hand_q),
    }
    orders_by_day: dict[date, float] = {}
    revenue_by_day: dict[date, float] = {}
    for row in won:
        d = row.ordered_at.date()
        orders_by_day[d] = orders_by_day.get(d, 0) + 1
        revenue_by_day[d] = revenue_by_day.get(d, 0) + float(revenue(row))
    f.daily["orders"], f.daily["revenue"] = orders_by_day, revenue_by_day
    return f


def top_earners(session: Session, won: list[Any], limit: int = 5) -> list[tuple[str, int, Decimal]]:
    """(flow or campaign name, orders, revenue) of what earned the most."""
    names = {("rule", i): n for i, n in session.execute(sa.select(Rule.id, Rule.name).where(
        Rule.id.in_({r.rule_id for r in won if r.rule_id})))}
    names |= {("campaign", i): n for i, n in session.execute(sa.select(Campaign.id, Campaign.name).where(
        Campaign.id.in_({r.campaign_id for r in won if r.campaign_id})))}
    totals: dict[str, list] = {}
    for row in won:
        key = ("campaign", row.campaign_id) if row.campaign_id else ("rule", row.rule_id)
        if key in names:
            entry = totals.setdefault(names[key], [0, Decimal(0)])
            entry[0] += 1
            entry[1] += revenue(row)
    ranked = sorted(totals.items(), key=lambda kv: kv[1][1], reverse=True)[:limit]
    return [(name, n, amount) for name, (n, amount) in ranked]


def change(now: float | None, before: float | None) -> float | None:
    """Percent change against the previous period; None when there is nothing to compare with."""
    if now is None or before is None or before == 0:
        return None
    return 100 * (now - before) / before


def days(start: datetime, end: datetime) -> list[date]:
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
