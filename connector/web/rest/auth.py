"""Who calls the REST API, and which shop a request may act on.

Two kinds of bearer token (`Authorization: Bearer …`):

- the installation's operator token (`PARLONS_API_TOKEN`): any shop, named by `?shop=DOMAIN` or
  `"shop"` in the JSON body, read and write;
- a shop's API key (`plk_…`, see `connector.services.api_keys`): that shop only, `read` or
  `read_write`. A key naming another shop gets 404, as for a shop that does not exist (a key
  cannot learn which other shops are installed); a read key gets 403 on a write.

Every endpoint gets its shop from `request_shop(session)`; a POST that only reads (a preview, a
simulation) says so with `@read_only`; an endpoint that needs a read-write key even to read (the
keys themselves) says so with `@write_scope`.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import current_app, g, request
from sqlalchemy.orm import Session

from automations.models import ApiKey, Shop, utcnow
from connector.services.api_keys import key_hash, key_prefix
from connector.web.rest.errors import ApiError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LAST_USED_EVERY = timedelta(minutes=1)  # how stale `last_used_at` may get (spares a write per call)
_View = TypeVar("_View", bound=Callable[..., Any])


@dataclass(frozen=True)
class Caller:
    """The authenticated caller: the operator, or one shop's key."""

    operator: bool
    scope: str
    shop_id: int | None = None
    shop_domain: str | None = None
    key_id: int | None = None

    @property
    def can_write(self) -> bool:
        return self.scope == "read_write"

    @property
    def name(self) -> str:
        return "operator" if self.operator else f"key:{self.key_id}"


def read_only(view: _View) -> _View:
    """A POST that changes nothing: read keys may call it."""
    view._parlons_read_only = True  # type: ignore[attr-defined]
    return view


def write_scope(view: _View) -> _View:
    """An endpoint that needs a read-write key whatever its method."""
    view._parlons_write_scope = True  # type: ignore[attr-defined]
    return view


def caller() -> Caller:
    return g.api_caller


def _runtime():  # noqa: ANN202 - the process's Runtime
    return current_app.extensions["parlons"]


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message=message, headers={"WWW-Authenticate": 'Bearer realm="parlons"'})


def authenticate() -> None:
    """Every API request (before_request): the caller, and whether they may do this."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if not token:
        raise _unauthorized("send Authorization: Bearer <API key>")
    runtime = _runtime()
    operator = runtime.config.api_token
    if operator and hmac.compare_digest(token.encode(), operator.encode()):
        g.api_caller = Caller(operator=True, scope="read_write")
    else:
        g.api_caller = _key_caller(runtime, token)
    view = current_app.view_functions.get(request.endpoint or "")
    writes = request.method not in SAFE_METHODS and not getattr(view, "_parlons_read_only", False)
    if (writes or getattr(view, "_parlons_write_scope", False)) and not g.api_caller.can_write:
        raise ApiError(403, message="this API key may only read: use a read-write key")


def _key_caller(runtime: Any, token: str) -> Caller:
    prefix = key_prefix(token)
    if prefix is None:
        raise _unauthorized("unknown API key or token")
    with runtime.db.session() as session:
        row = session.execute(
            sa.select(ApiKey, Shop.domain).join(Shop, Shop.id == ApiKey.shop_id).where(ApiKey.prefix == prefix)
        ).first()
        if row is None or not hmac.compare_digest(row.ApiKey.key_hash, key_hash(token)):
            raise _unauthorized("unknown API key or token")
        key = row.ApiKey
        if key.revoked_at is not None:
            raise _unauthorized(f"this API key was revoked on {key.revoked_at:%Y-%m-%d %H:%M} UTC")
        now = utcnow()
        if key.last_used_at is None or key.last_used_at < now - LAST_USED_EVERY:
            session.execute(sa.update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
            session.commit()
        return Caller(operator=False, scope=key.scope, shop_id=key.shop_id, shop_domain=row.domain,
                      key_id=key.id)


def named_shop() -> str | None:
    """The shop the request names: `?shop=` first, else `"shop"` in a JSON object body."""
    name = request.args.get("shop")
    if not name and request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get("shop"), str):
            name = body["shop"]
    return name.strip().lower() if name and name.strip() else None


def request_shop(session: Session) -> Shop:
    """The shop this request may act on, loaded in `session`; ApiError 400/404 otherwise.

    A shop key acts on its own shop (naming it is optional; naming another is 404); the operator
    names the shop (400 when it does not, 404 when no such shop is installed)."""
    who, name = caller(), named_shop()
    if not who.operator:
        if name is not None and name != who.shop_domain:
            raise ApiError(404, {"shop": [f"no shop {name!r} is installed"]})
        shop = session.get(Shop, who.shop_id)
        if shop is None:  # the shop was removed while the request ran
            raise ApiError(404, {"shop": ["this key's shop no longer exists"]})
        return shop
    if name is None:
        raise ApiError(400, {"shop": ["the shop's domain is required (?shop=… or \"shop\" in the body)"]})
    shop = session.scalar(sa.select(Shop).where(Shop.domain == name))
    if shop is None:
        raise ApiError(404, {"shop": [f"no shop {name!r} is installed"]})
    return shop


def optional_shop(session: Session) -> Shop | None:
    """For what works without a shop (a preview, the scenario catalogue): the operator may name
    none (None); a key always acts for its shop; a shop named is checked as by request_shop."""
    if caller().operator and named_shop() is None:
        return None
    return request_shop(session)
