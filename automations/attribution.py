"""Which SMS earned an order: the last one the customer clicked within the click window (default
5 days), else the last one they received within the receipt window (default 1 day), else the
campaign whose SMS-only discount code the order used. One order is attributed at most once
(unique per order); a cancelled order takes its revenue back.

Windows are shop settings: `attribution_click_days`, `attribution_receipt_days`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations.models import (
    Attribution,
    Campaign,
    CampaignRecipient,
    Link,
    LinkClick,
    Message,
    Order,
    Shop,
    SignupRequest,
)

CLICK_DAYS, RECEIPT_DAYS = 5.0, 1.0
LOOK_BACK = timedelta(days=14)  # orders younger than this are looked at (older ones had their chance)
_SENT = ("sent", "delivered", "partially_delivered", "undelivered")


def windows(shop: Shop) -> tuple[timedelta, timedelta]:
    settings = shop.settings or {}
    return (timedelta(days=float(settings.get("attribution_click_days", CLICK_DAYS))),
            timedelta(days=float(settings.get("attribution_receipt_days", RECEIPT_DAYS))))


def _amount(order: Order) -> Decimal:
    try:
        return Decimal(str((order.data or {}).get("total_price") or "0")).quantize(Decimal("0.01"))
    except InvalidOperation:
        return Decimal("0")


def _codes(order: Order) -> set[str]:
    codes = (order.data or {}).get("discount_codes") or []
    return {str(c.get("code") if isinstance(c, dict) else c).upper() for c in codes}


def attribute_orders(session: Session, shop: Shop, now: datetime) -> dict[str, int]:
    """Attribute the shop's recent orders not attributed yet; reverse cancelled ones."""
    click_window, receipt_window = windows(shop)
    orders = list(session.scalars(
        sa.select(Order).outerjoin(Attribution, Attribution.order_id == Order.id)
        .where(Order.shop_id == shop.id, Attribution.id.is_(None), Order.status != "cancelled",
               Order.created_at >= now - LOOK_BACK)))
    made = 0
    for order in orders:
        found = _find(session, shop, order, click_window, receipt_window)
        if found is None:
            continue
        method, message_id, campaign_id = found
        session.add(_attribution(session, shop, order, method, message_id, campaign_id))
        made += 1
    session.flush()
    reversed_ = session.execute(
        sa.update(Attribution).where(
            Attribution.shop_id == shop.id, Attribution.reversed_amount < Attribution.amount,
            Attribution.order_id.in_(sa.select(Order.id).where(Order.shop_id == shop.id, Order.status == "cancelled")))
        .values(reversed_amount=Attribution.amount).execution_options(synchronize_session=False)).rowcount
    return {"attributed": made, "reversed": reversed_}


def _find(session: Session, shop: Shop, order: Order, click_window: timedelta, receipt_window: timedelta
          ) -> tuple[str, int | None, int | None] | None:
    at = order.created_at
    if order.contact_id is not None:
        clicked = session.scalar(
            sa.select(Link.message_id).join(LinkClick, LinkClick.link_id == Link.id)
            .where(Link.contact_id == order.contact_id, Link.message_id.is_not(None),
                   LinkClick.clicked_at <= at, LinkClick.clicked_at >= at - click_window)
            .order_by(LinkClick.clicked_at.desc()).limit(1))
        if clicked is not None:
            return "click", clicked, None
        received = session.scalar(
            sa.select(Message.id).where(
                Message.contact_id == order.contact_id, Message.direction == "outbound", Message.status.in_(_SENT),
                Message.sent_at <= at, Message.sent_at >= at - receipt_window)
            .order_by(Message.sent_at.desc()).limit(1))
        if received is not None:
            return "receipt", received, None
    codes = _codes(order)
    if codes:
        campaign_id = session.scalar(sa.select(Campaign.id).where(
            Campaign.shop_id == shop.id, sa.func.upper(Campaign.discount_code).in_(codes)).limit(1))
        if campaign_id is not None:
            return "discount_code", None, campaign_id
        welcome = session.scalar(  # a subscriber's single-use welcome code: the SMS that carried it
            sa.select(Message.id).join(SignupRequest, SignupRequest.contact_id == Message.contact_id)
            .where(SignupRequest.shop_id == shop.id, sa.func.upper(SignupRequest.discount_code).in_(codes),
                   Message.direction == "outbound", Message.body.contains(SignupRequest.discount_code))
            .order_by(Message.id).limit(1))
        if welcome is not None:
            return "discount_code", welcome, None
    return None


def _attribution(session: Session, shop: Shop, order: Order, method: str, message_id: int | None,
                 campaign_id: int | None) -> Attribution:
    variant_id = rule_id = step = None
    if message_id is not None:
        message = session.get(Message, message_id)
        rule_id = message.rule_id
        step = _step(message.idempotency_key)
        sent_for = session.execute(sa.select(CampaignRecipient.campaign_id, CampaignRecipient.variant_id)
                                   .where(CampaignRecipient.message_id == message_id)).first()
        if sent_for is not None:
            campaign_id, variant_id = sent_for
    return Attribution(
        shop_id=shop.id, order_id=order.id, contact_id=order.contact_id, message_id=message_id,
        campaign_id=campaign_id, variant_id=variant_id, rule_id=rule_id, step=step, method=method,
        amount=_amount(order), reversed_amount=Decimal("0"),
        currency=(order.data or {}).get("currency") or shop.currency, ordered_at=order.created_at)


def _step(key: str) -> int | None:
    """The flow step of a rule's message (its key is rule:<id>:<subject>:step:<n>)."""
    head, _, tail = key.rpartition(":step:")
    return int(tail) if head.startswith("rule:") and tail.isdigit() else None


def revenue(row: Any) -> Decimal:
    return Decimal(row.amount or 0) - Decimal(row.reversed_amount or 0)
