"""The dashboard's figures for one shop over a period, the previous period of the same length,
and their daily series (UTC days).

Attribution follows the project's definition: an order goes to the last SMS clicked within the
click window before it (default 5 days), else the last SMS received within the receipt window
(default 1 day); cancelled and refunded orders count for nothing. The windows are the shop's
settings `attribution_click_days` and `attribution_receipt_days`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations.models import (
    ConsentEvent,
    Conversation,
    Link,
    LinkClick,
    Message,
    Order,
    Rule,
    Shop,
)

CLICK_DAYS, RECEIPT_DAYS = 5, 1
MAX_ORDERS = 5000  # orders examined for attribution in one period
NOT_COUNTED = ("cancelled", "refunded")


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
    top_flows: list[tuple[str, int, Decimal]] = field(default_factory=list)
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


def attribution_windows(shop: Shop) -> tuple[int, int]:
    settings = shop.settings or {}
    return (int(settings.get("attribution_click_days", CLICK_DAYS)),
            int(settings.get("attribution_receipt_days", RECEIPT_DAYS)))


def attributed_orders(session: Session, shop: Shop, start: datetime,
                      end: datetime) -> list[tuple[Order, Decimal, int | None]]:
    """The period's orders that an SMS earned: (order, amount, the message credited)."""
    click_days, receipt_days = attribution_windows(shop)
    orders = session.scalars(sa.select(Order).where(
        Order.shop_id == shop.id, Order.created_at >= start, Order.created_at < end,
        Order.contact_id.is_not(None), Order.status.not_in(NOT_COUNTED)).limit(MAX_ORDERS)).all()
    won = []
    for order in orders:
        clicked = session.execute(sa.select(LinkClick.id, Link.message_id).join(Link, Link.id == LinkClick.link_id)
                                  .where(Link.shop_id == shop.id, Link.contact_id == order.contact_id,
                                         LinkClick.clicked_at <= order.created_at,
                                         LinkClick.clicked_at > order.created_at - timedelta(days=click_days))
                                  .order_by(LinkClick.clicked_at.desc()).limit(1)).first()
        received = None if clicked else session.scalar(sa.select(Message.id).where(
            Message.shop_id == shop.id, Message.contact_id == order.contact_id, Message.direction == "outbound",
            Message.sent_at <= order.created_at,
            Message.sent_at > order.created_at - timedelta(days=receipt_days))
            .order_by(Message.sent_at.desc()).limit(1))
        if clicked or received:
            won.append((order, _decimal((order.data or {}).get("total_price")), clicked[1] if clicked else received))
    return won


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
    won = attributed_orders(session, shop, start, end)
    f.orders, f.revenue = len(won), sum((amount for _, amount, _ in won), Decimal(0))
    f.top_flows = top_flows(session, won)
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
    for order, amount, _ in won:
        d = order.created_at.date()
        orders_by_day[d] = orders_by_day.get(d, 0) + 1
        revenue_by_day[d] = revenue_by_day.get(d, 0) + float(amount)
    f.daily["orders"], f.daily["revenue"] = orders_by_day, revenue_by_day
    return f


def top_flows(session: Session, won: list[tuple[Order, Decimal, int | None]],
              limit: int = 5) -> list[tuple[str, int, Decimal]]:
    """(flow name, orders, revenue) of the flows whose messages earned the most."""
    message_ids = {m for _, _, m in won if m}
    if not message_ids:
        return []
    rule_of = dict(session.execute(sa.select(Message.id, Rule.name).join(Rule, Rule.id == Message.rule_id)
                                   .where(Message.id.in_(message_ids))).all())
    totals: dict[str, list] = {}
    for _, amount, message_id in won:
        name = rule_of.get(message_id)
        if name:
            entry = totals.setdefault(name, [0, Decimal(0)])
            entry[0] += 1
            entry[1] += amount
    ranked = sorted(totals.items(), key=lambda kv: kv[1][1], reverse=True)[:limit]
    return [(name, n, revenue) for name, (n, revenue) in ranked]


def change(now: float | None, before: float | None) -> float | None:
    """Percent change against the previous period; None when there is nothing to compare with."""
    if now is None or before is None or before == 0:
        return None
    return 100 * (now - before) / before


def days(start: datetime, end: datetime) -> list[date]:
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
