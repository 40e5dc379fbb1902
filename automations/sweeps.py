"""Time-based triggers: abandoned checkouts (CartAbandoned), and the daily sweeps raising
NoOrderSince and DateReached (birthdays)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import (
    commerce,
)
from automations import events as ev
from automations.engine import Outcome, Shorten, handle_event
from automations.models import Contact, Order, Shop


def raise_abandoned(
    session: Session, now: datetime, redis_conn: Any = None, shorten: Shorten | None = None
) -> list[Outcome]:
    """Raise one CartAbandoned per checkout abandoned by now (see commerce.find_abandoned)."""
    outcomes = []
    for shop, checkout in commerce.find_abandoned(session, now):
        event = commerce.abandoned_event(checkout, now)
        outcomes.append(handle_event(session, shop, event, now=now, shorten=shorten))
    return outcomes


def daily_sweeps(session: Session, now: datetime, no_order_days: int = 90) -> int:
    """Raise NoOrderSince (once per contact and last order) and DateReached (birthdays)."""
    raised = 0
    cutoff = now - timedelta(days=no_order_days)
    idle = session.execute(
        sa.select(Shop, Contact).join(Shop, Shop.id == Contact.shop_id).where(
            Shop.status == "active", Contact.deleted_at.is_(None),
            Contact.last_order_at <= cutoff,
            sa.or_(Contact.no_order_event_at.is_(None), Contact.no_order_event_at < Contact.last_order_at),
        )
    ).all()
    for shop, contact in idle:
        contact.no_order_event_at = now
        last = session.scalar(
            sa.select(Order.name).where(Order.contact_id == contact.id).order_by(Order.id.desc()).limit(1)
        )
        handle_event(session, shop, ev.DomainEvent(
            type=ev.NO_ORDER_SINCE, occurred_at=now,
            subject_key=f"no_order_since:{contact.id}:{contact.last_order_at:%Y-%m-%d}",
            data={"contact_id": contact.id, "days_since_last_order": (now - contact.last_order_at).days,
                  "last_order_at": contact.last_order_at.isoformat(), "last_order_name": last},
        ), now=now)
        raised += 1
    for shop in session.scalars(sa.select(Shop).where(Shop.status == "active")):
        today = now.astimezone(ZoneInfo(shop.timezone)).date()
        days = [f"%-{today:%m-%d}"]
        if today.month == 2 and today.day == 28 and (today.year % 4 or not today.year % 100 and today.year % 400):
            days.append("%-02-29")  # leap-day birthdays are celebrated on 28 February
        born = session.scalars(sa.select(Contact).where(
            Contact.shop_id == shop.id, Contact.deleted_at.is_(None),
            sa.or_(*[Contact.birthday.like(d) for d in days]),
        ))
        for contact in born:
            handle_event(session, shop, ev.DomainEvent(
                type=ev.DATE_REACHED, occurred_at=now,
                subject_key=f"birthday:{contact.id}:{today.year}",
                data={"contact_id": contact.id, "date_name": "birthday", "date": f"{today:%d/%m}"},
            ), now=now)
            raised += 1
    return raised


# --- Internals ------------------------------------------------------------------------------
