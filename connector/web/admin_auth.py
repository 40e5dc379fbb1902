"""Who is looking at the admin, and for which shop.

- Inside Shopify admin (embedded app): the request carries a Shopify session token (a JWT signed
  HS256 with the app secret) as `Authorization: Bearer …` or the `id_token` query parameter.
  It is verified (signature, `aud` = our API key, `exp`, `nbf`, `dest` = an installed shop)
  before any shop data is shown.
- Standalone: a merchant signs in once with the API token; the signed session cookie then names
  the shop they chose.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import urlsplit

import jwt
import sqlalchemy as sa
from flask import abort, g, redirect, request, session, url_for

from automations.models import Shop

LEEWAY_SECONDS = 5


class SessionTokenError(ValueError):
    pass


def shop_from_session_token(token: str, api_key: str, api_secret: str) -> str:
    """The shop domain a valid Shopify session token names; SessionTokenError otherwise."""
    return session_token_claims(token, api_key, api_secret)[0]


def session_token_claims(token: str, api_key: str, api_secret: str) -> tuple[str, str]:
    """(shop domain, Shopify session id) of a valid session token; SessionTokenError otherwise."""
    if not api_key or not api_secret:
        raise SessionTokenError("the Shopify app is not configured")
    try:
        claims = jwt.decode(
            token, api_secret, algorithms=["HS256"], audience=api_key, leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "nbf", "dest", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise SessionTokenError(f"invalid session token: {exc}") from exc
    dest = urlsplit(claims["dest"]).hostname or ""
    iss = urlsplit(claims.get("iss", "")).hostname
    if iss and iss != dest:
        raise SessionTokenError("session token issuer and destination differ")
    return dest.lower(), str(claims.get("sid") or claims.get("sub") or "")


def _token_from_request() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:]
    return request.args.get("id_token")


def remember_session_token() -> str | None:
    """Verify the request's Shopify session token, if any (401 when invalid): the embedded shop's
    domain, also kept in `g.embedded_shop` (and the Shopify session in `g.session_token_sid`)."""
    from connector.web import rt

    token = _token_from_request()
    if not token:
        return None
    config = rt().config
    try:
        domain, sid = session_token_claims(token, config.shopify_api_key, config.shopify_api_secret)
    except SessionTokenError:
        abort(401, description="invalid Shopify session token")
    g.embedded_shop, g.session_token_sid = domain, f"{domain}:{sid}"
    return domain


def current_shop(db_session) -> Shop | None:  # noqa: ANN001
    domain = remember_session_token() or session.get("shop")
    if not domain:
        return None
    shop = db_session.scalar(sa.select(Shop).where(Shop.domain == domain))
    if shop is None:
        abort(403, description="this shop has not installed Parlons")
    return shop


def admin_required(view: Callable) -> Callable:
    """Resolve the shop (g.shop) and a database session (g.db) for an admin page, or ask to sign in."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        from connector.web import rt

        with rt().db.session() as db_session:
            shop = current_shop(db_session)
            if shop is None:
                return redirect(url_for("admin.login", next=request.full_path))
            g.shop, g.db = shop, db_session
            return view(*args, **kwargs)

    return wrapper
