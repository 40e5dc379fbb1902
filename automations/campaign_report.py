"""What SMS earned, per campaign, variant, flow and flow step, and by day.

Every figure is computed in SQL over a set of outbound messages:
sent (handed to the provider), delivered, delivery_rate (delivered / sent), clicks, unique_clicks
(recipients who clicked), ctr (unique clicks / delivered), replies and opt_outs (after a message, until 3 days
after the last one), orders and revenue attributed (cancellations taken back), cost, revenue per message
sent, roi ((revenue - cost) / cost).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations.models import (
    Attribution,
    Campaign,
    CampaignRecipient,
    CampaignVariant,
    Contact,
    Link,
    LinkClick,
    Message,
    Rule,
)

SENT = ("sent", "delivered", "partially_delivered", "undelivered")
FOLLOW_UP = timedelta(days=3)


def _ratio(part: Any, whole: Any) -> float | None:
    return round(float(part) / float(whole), 4) if whole else None


def figures(session: Session, messages: sa.Select) -> dict[str, Any]:
    """The figures of the messages whose ids `messages` selects."""
    ids = messages.subquery()
    m = sa.select(Message).where(Message.id.in_(sa.select(ids.c[0]))).subquery()
    base = session.execute(sa.select(
        sa.func.count().filter(m.c.status.in_(SENT)),
        sa.func.count().filter(m.c.status.in_(("delivered", "partially_delivered"))),
        sa.func.coalesce(sa.func.sum(sa.cast(m.c.cost, sa.Numeric(14, 4))).filter(m.c.status.in_(SENT)), 0),
    )).one()
    clicks = session.execute(sa.select(sa.func.count(LinkClick.id), sa.func.count(sa.distinct(Link.contact_id)))
                             .join(Link, Link.id == LinkClick.link_id).where(Link.message_id.in_(sa.select(m.c.id)))).one()
    last = session.scalar(sa.select(sa.func.max(m.c.sent_at)))
    until = (last or datetime.now(UTC)) + FOLLOW_UP
    reply = sa.alias(Message.__table__)
    replies = session.scalar(sa.select(sa.func.count(sa.distinct(reply.c.id))).select_from(m).join(
        reply, sa.and_(reply.c.contact_id == m.c.contact_id, reply.c.direction == "inbound",
                       reply.c.created_at >= m.c.sent_at, reply.c.created_at <= until)))
    opt_outs = session.scalar(sa.select(sa.func.count(sa.distinct(Contact.id))).select_from(m).join(
        Contact, sa.and_(Contact.id == m.c.contact_id, Contact.opted_out_at >= m.c.sent_at,
                         Contact.opted_out_at <= until)))
    orders = session.execute(sa.select(
        sa.func.count(Attribution.id).filter(Attribution.reversed_amount < Attribution.amount),
        sa.func.coalesce(sa.func.sum(Attribution.amount - Attribution.reversed_amount), 0),
    ).where(Attribution.message_id.in_(sa.select(m.c.id)))).one()
    sent, delivered, cost = base
    revenue, cost = Decimal(orders[1]).quantize(Decimal("0.01")), Decimal(cost).quantize(Decimal("0.0001"))
    return {
        "sent": sent, "delivered": delivered, "delivery_rate": _ratio(delivered, sent),
        "clicks": clicks[0], "unique_clicks": clicks[1], "ctr": _ratio(clicks[1], delivered or sent),
        "replies": replies or 0, "opt_outs": opt_outs or 0, "opt_out_rate": _ratio(opt_outs or 0, sent),
        "orders": orders[0], "revenue": str(revenue), "cost": str(cost),
        "revenue_per_message": str((revenue / sent).quantize(Decimal("0.0001"))) if sent else None,
        "roi": _ratio(revenue - cost, cost),
    }


def by_day(session: Session, messages: sa.Select) -> list[dict[str, Any]]:
    """Sent, delivered, clicks, orders and revenue per day (UTC) of sending, for charts."""
    ids = messages.subquery()
    day = sa.func.date(Message.sent_at)
    rows = session.execute(sa.select(day, sa.func.count(), sa.func.count().filter(
        Message.status.in_(("delivered", "partially_delivered")))).where(
        Message.id.in_(sa.select(ids.c[0])), Message.status.in_(SENT)).group_by(day).order_by(day)).all()
    clicks = dict(session.execute(sa.select(sa.func.date(LinkClick.clicked_at), sa.func.count())
                                  .join(Link, Link.id == LinkClick.link_id)
                                  .where(Link.message_id.in_(sa.select(ids.c[0])))
                                  .group_by(sa.func.date(LinkClick.clicked_at))).all())
    money = {str(d): (n, v) for d, n, v in session.execute(
        sa.select(sa.func.date(Attribution.ordered_at), sa.func.count(),
                  sa.func.sum(Attribution.amount - Attribution.reversed_amount))
        .where(Attribution.message_id.in_(sa.select(ids.c[0])))
        .group_by(sa.func.date(Attribution.ordered_at))).all()}
    days = sorted({str(r[0]) for r in rows} | {str(d) for d in clicks} | set(money))
    sent = {str(r[0]): (r[1], r[2]) for r in rows}
    clicks = {str(d): n for d, n in clicks.items()}
    return [{"date": d, "sent": sent.get(d, (0, 0))[0], "delivered": sent.get(d, (0, 0))[1],
             "clicks": clicks.get(d, 0), "orders": money.get(d, (0, 0))[0],
             "revenue": str(Decimal(money.get(d, (0, 0))[1] or 0).quantize(Decimal("0.01")))} for d in days]


def campaign_messages(campaign_id: int, variant_id: int | None = None) -> sa.Select:
    query = sa.select(CampaignRecipient.message_id).where(CampaignRecipient.campaign_id == campaign_id,
                                                          CampaignRecipient.message_id.is_not(None))
    return query.where(CampaignRecipient.variant_id == variant_id) if variant_id is not None else query


def campaign_report(session: Session, campaign: Campaign) -> dict[str, Any]:
    variants = list(session.scalars(sa.select(CampaignVariant).where(CampaignVariant.campaign_id == campaign.id)
                                    .order_by(CampaignVariant.label)))
    total = figures(session, campaign_messages(campaign.id))
    code_orders = session.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(
        Attribution.amount - Attribution.reversed_amount), 0)).where(
        Attribution.campaign_id == campaign.id, Attribution.method == "discount_code")).one()
    if code_orders[0]:
        total["orders"] += code_orders[0]
        total["revenue"] = str((Decimal(total["revenue"]) + Decimal(code_orders[1])).quantize(Decimal("0.01")))
    return {
        "campaign_id": campaign.id, "name": campaign.name, "status": campaign.status, **total,
        "variants": [{"variant_id": v.id, "label": v.label, **figures(session, campaign_messages(campaign.id, v.id))}
                     for v in variants],
        "ab_result": (campaign.result or {}).get("ab"),
        "by_day": by_day(session, campaign_messages(campaign.id)),
    }


def flow_report(session: Session, rule: Rule) -> dict[str, Any]:
    mine = sa.select(Message.id).where(Message.rule_id == rule.id, Message.direction == "outbound")
    steps = sorted({int(k.rpartition(":step:")[2]) for k in session.scalars(
        sa.select(Message.idempotency_key).where(Message.rule_id == rule.id).distinct().limit(5000))
        if k.rpartition(":step:")[2].isdigit()})
    return {
        "rule_id": rule.id, "key": rule.key, "name": rule.name, **figures(session, mine),
        "steps": [{"step": s, **figures(session, mine.where(Message.idempotency_key.like(f"rule:%:step:{s}")))}
                  for s in steps],
        "by_day": by_day(session, mine),
    }


def shop_report(session: Session, shop_id: int, since: datetime, until: datetime) -> dict[str, Any]:
    """Shop-wide figures over a period (messages created in it), campaigns and flows apart."""
    period = sa.select(Message.id).where(Message.shop_id == shop_id, Message.direction == "outbound",
                                         Message.created_at >= since, Message.created_at < until)
    in_campaigns = period.where(Message.id.in_(sa.select(CampaignRecipient.message_id)))
    in_flows = period.where(Message.rule_id.is_not(None))
    flows = [{"rule_id": r.id, "key": r.key, "name": r.name, **figures(session, in_flows.where(Message.rule_id == r.id))}
             for r in session.scalars(sa.select(Rule).where(Rule.shop_id == shop_id).order_by(Rule.id))]
    return {
        "since": since.isoformat(), "until": until.isoformat(), **figures(session, period),
        "campaigns": figures(session, in_campaigns), "flows": figures(session, in_flows),
        "per_flow": flows, "by_day": by_day(session, period),
    }
