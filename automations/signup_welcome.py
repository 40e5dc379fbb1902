"""After a confirmed sign-up: the welcome flow (rules triggered by ConsentGranted), with the
subscriber's own single-use discount code when the shop gives one (created in Shopify by the
worker before it calls `start`)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import engine
from automations import events as ev
from automations.models import Shop, SignupRequest


def due(session: Session, limit: int = 100) -> list[SignupRequest]:
    """Confirmed requests whose welcome has not started yet, oldest first (on PostgreSQL, locked:
    two workers never welcome the same subscriber)."""
    query = (
        sa.select(SignupRequest)
        .where(SignupRequest.status == "confirmed", SignupRequest.welcomed_at.is_(None))
        .order_by(SignupRequest.id).limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def start(
    session: Session, shop: Shop, req: SignupRequest, discount_code: str | None, now: datetime
) -> engine.Outcome:
    """Raise ConsentGranted for this subscriber, once, carrying their code."""
    req.welcomed_at, req.discount_code = now, discount_code
    event = ev.DomainEvent(
        ev.CONSENT_GRANTED, occurred_at=now, subject_key=f"signup:{req.id}",
        data={"contact_id": req.contact_id, "source": req.channel, "signup_id": req.id,
              "keyword": req.keyword, "unique_discount_code": discount_code},
    )
    return engine.handle_event(session, shop, event, now=now)


def wants_code(shop: Shop) -> dict | None:
    """The shop's welcome code settings ({"percentage": 10, "prefix": "BIENVENUE", "days": 30}),
    or None when welcome codes are off."""
    codes = ((shop.settings or {}).get("signup") or {}).get("welcome_code")
    return codes if isinstance(codes, dict) and codes.get("percentage") else None

