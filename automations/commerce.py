"""Checkouts and orders as the store last told us, and when a checkout counts as abandoned.

Shopify has no "abandoned" webhook: a checkout with no order (no `Order` with its checkout
token) and no `completed_at` once the abandoned-checkout rule's delay has passed is abandoned,
and raises one `CartAbandoned`, once. Updates carry the source's `updated_at`; an older one
never overwrites a newer one, whatever order they arrive in. An order ends the cart flows of
its checkout at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import chunk, dispatch, rule_cache
from automations.events import (
    CART_ABANDONED,
    ORDER_CANCELLED,
    ORDER_FULFILLED,
    ORDER_PAID,
    ORDER_PLACED,
    DomainEvent,
)
from automations.models import Checkout, Contact, FlowRun, Order, Shop

ORDER_PLACED_REASON = "order placed"
_Keyed = TypeVar("_Keyed", Checkout, Order)
_ORDER_STATUS = {ORDER_PLACED: "placed", ORDER_PAID: "paid", ORDER_CANCELLED: "cancelled",
                 ORDER_FULFILLED: "fulfilled"}
ORDER_EVENTS = tuple(_ORDER_STATUS)


def _stale(row_updated: datetime | None, incoming: datetime | None) -> bool:
    return row_updated is not None and incoming is not None and incoming < row_updated


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


_REMEMBERED = "parlons.commerce.remembered"


def remember_rows(session: Session) -> None:
    """For the rest of this session, a checkout (by token) or order (by gid) once read or created
    is found again in memory instead of queried (a batch of store events)."""
    session.info[_REMEMBERED] = {}


def _find(session: Session, model: type[_Keyed], shop_id: int, column: Any, value: str) -> _Keyed | None:
    """The shop's row with this unique key (remembered when the session asked for it)."""
    loaded = chunk.active(session)
    if loaded is not None:
        known, found = loaded.row(model, shop_id, value)
        if known:
            return found
    remembered = session.info.get(_REMEMBERED)
    key = (model, shop_id, value)
    row = remembered.get(key) if remembered is not None else None
    if row is not None and sa.inspect(row).persistent and row.shop_id == shop_id and getattr(row, column.key) == value:
        return row
    row = session.scalars(sa.select(model).where(model.shop_id == shop_id, column == value)).first()
    if row is not None:
        _remember(session, row, value)
    return row


def _remember(session: Session, row: Checkout | Order, value: str) -> None:
    loaded = chunk.active(session)
    if loaded is not None:
        loaded.add_row(row, value)
    remembered = session.info.get(_REMEMBERED)
    if remembered is not None:
        remembered[(type(row), row.shop_id, value)] = row


def upsert_checkout(
    session: Session, shop: Shop, event: DomainEvent, contact: Contact | None, now: datetime
) -> Checkout | None:
    """Keep the newest state of a checkout (by token) and when to check it for abandonment."""
    token = event.subject_key or event.data.get("token")
    if not token:
        return None
    checkout = _find(session, Checkout, shop.id, Checkout.token, token)
    updated_at = event.source_updated_at or _when(event.data.get("updated_at"))
    if checkout is None:
        checkout = Checkout(shop_id=shop.id, token=token, data={})
        session.add(checkout)
    elif _stale(checkout.source_updated_at, updated_at):
        return checkout
    checkout.data = to_json(event.data)
    checkout.abandoned_checkout_url = event.data.get("abandoned_checkout_url") or checkout.abandoned_checkout_url
    checkout.completed_at = _when(event.data.get("completed_at")) or checkout.completed_at
    checkout.source_updated_at = updated_at or checkout.source_updated_at
    if contact is not None:
        checkout.contact_id = contact.id
    if checkout.abandoned_at is None and checkout.completed_at is None:
        checkout.abandon_check_at = (updated_at or now) + rule_cache.abandon_after(session, shop.id)
    _flush(session)
    _remember(session, checkout, token)
    return checkout


def find_abandoned(session: Session, now: datetime) -> list[tuple[Shop, Checkout]]:
    """Checkouts abandoned by now (no order, not completed, delay passed), each returned once."""
    has_order = sa.exists().where(Order.shop_id == Checkout.shop_id, Order.checkout_token == Checkout.token)
    rows = session.execute(
        sa.select(Shop, Checkout)
        .join(Shop, Shop.id == Checkout.shop_id)
        .where(
            Shop.status == "active",
            Checkout.abandon_check_at <= now,
            Checkout.abandoned_at.is_(None),
            Checkout.completed_at.is_(None),
            Checkout.order_gid.is_(None),
            ~has_order,
        )
        .order_by(Checkout.abandon_check_at, Checkout.id)
    ).all()
    found = []
    for shop, checkout in rows:
        checkout.abandoned_at = now
        found.append((shop, checkout))
    session.flush()
    return found


def abandoned_event(checkout: Checkout, now: datetime) -> DomainEvent:
    """The `CartAbandoned` event for a checkout `find_abandoned` returned."""
    return DomainEvent(
        type=CART_ABANDONED,
        occurred_at=now,
        subject_key=checkout.token,
        data={**checkout.data, "token": checkout.token, "contact_id": checkout.contact_id,
              "abandoned_checkout_url": checkout.abandoned_checkout_url},
        source_updated_at=checkout.source_updated_at,
    )


def upsert_order(
    session: Session, shop: Shop, event: DomainEvent, contact: Contact | None, now: datetime
) -> tuple[Order | None, list[int]]:
    """Keep the newest state of an order; a new order ends its checkout's cart flows at once.

    Returns the order and the ids of the flow runs it ended.
    """
    gid = event.subject_key or event.data.get("order_gid")
    if not gid:
        return None, []
    order = _find(session, Order, shop.id, Order.gid, gid)
    updated_at = event.source_updated_at or _when(event.data.get("updated_at"))
    if order is None:
        order = Order(shop_id=shop.id, gid=gid, data={})
        session.add(order)
    elif _stale(order.source_updated_at, updated_at):
        return order, []
    order.name = event.data.get("order_name") or event.data.get("name") or order.name
    order.checkout_token = event.data.get("checkout_token") or order.checkout_token
    order.data = {**(order.data or {}), **to_json(event.data)}
    order.source_updated_at = updated_at or order.source_updated_at
    if event.type in _ORDER_STATUS and not (order.status == "cancelled" and event.type != ORDER_CANCELLED):
        order.status = _ORDER_STATUS[event.type]
    if contact is not None:
        order.contact_id = contact.id
        placed = event.occurred_at or now
        if event.type == ORDER_PLACED and (contact.last_order_at is None or contact.last_order_at < placed):
            contact.last_order_at = placed
    _flush(session)
    _remember(session, order, gid)
    if not order.checkout_token:
        return order, []
    checkout = _find(session, Checkout, shop.id, Checkout.token, order.checkout_token)
    if checkout is not None:
        checkout.order_gid = gid
    loaded = chunk.active(session)
    runs = loaded.active_runs(shop.id, [order.checkout_token], None) if loaded else None
    if runs is None:
        runs = session.scalars(
            sa.select(FlowRun).where(
                FlowRun.shop_id == shop.id, FlowRun.subject_key == order.checkout_token,
                FlowRun.status == "active",
            )
        ).all()
    ended = dispatch.end_flow_runs(session, runs, reason=ORDER_PLACED_REASON, now=now)
    _flush(session)
    return order, ended


def _flush(session: Session) -> None:
    """Write now, unless a chunk of events is being handled: its rows are written together."""
    if chunk.active(session) is None:
        session.flush()


def to_json(data: dict[str, Any]) -> dict[str, Any]:
    """Event data as stored in a JSON column (dates as ISO text, anything else as text)."""
    return orjson.loads(orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS))
