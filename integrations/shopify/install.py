"""Shopify OAuth (authorization code grant) without a database.

Shop domain validation, the launch/callback query HMAC, single-use `state` in Redis, the
authorize URL, and the code exchange / refresh for *expiring* offline tokens. ShopifyAPI's own
`Session.request_token` cannot ask for expiring tokens, so the token endpoint is called here with
`requests`. `base_url=None` means production (`https://{shop}`); a sandbox base means
`{base}/{shop}`.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import requests
import shopify

from integrations.errors import ApiError, Unauthorized
from integrations.retry import RetryPolicy, call_with_retries

# The access the app asks for at install, each for what needs it (checked against Shopify's
# published schema in tests): write_customers pushes SMS consent back (and grants
# read_customers: customers, their count and bulk export, the customers/* topics);
# read_orders: abandoned checkouts, a customer's last order, the orders/* and checkouts/* topics;
# read_products: the products of abandoned checkouts' line items; read_locales: the shop's
# locales; read_fulfillments: the fulfillments/* topics (shipments).
REQUIRED_SCOPES = "write_customers,read_orders,read_products,read_locales,read_fulfillments,write_discounts,read_inventory"

SHOP_DOMAIN_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$")
STATE_TTL_SECONDS = 600
_STATE_KEY = "parlons:shopify:oauth_state:{}"
_TOKEN_RETRY = RetryPolicy(attempts=3, base_delay=0.5, max_delay=5.0)


class InstallError(ValueError):
    """The install or callback request cannot be trusted (bad shop, HMAC, state or timestamp)."""


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    scope: str
    expires_at: datetime | None = None  # None: a non-expiring token
    refresh_token: str | None = None
    refresh_token_expires_at: datetime | None = None

    def __repr__(self) -> str:  # never print secrets
        return f"TokenSet(scope={self.scope!r}, expires_at={self.expires_at!r})"


def validate_shop_domain(shop: str) -> str:
    """Return `shop` (lower-cased) when it is a bare `<name>.myshopify.com`, else raise."""
    if not isinstance(shop, str) or not SHOP_DOMAIN_RE.match(shop):
        raise InstallError(f"not a myshopify.com shop domain: {shop!r}")
    return shop.lower()


def query_hmac(params: Mapping[str, str], secret: str) -> str:
    """Shopify's hex HMAC-SHA256 over the sorted `k=v` pairs, without `hmac` and `signature`."""
    signer = type("_AppSession", (shopify.Session,), {"secret": secret})
    signed = {k: v for k, v in params.items() if k not in ("hmac", "signature")}
    return signer.calculate_hmac(signed)


def verify_query_hmac(params: Mapping[str, str], secret: str) -> bool:
    given = params.get("hmac")
    if not given or not secret:
        return False
    return hmac.compare_digest(query_hmac(params, secret).encode(), str(given).encode())


def timestamp_fresh(ts: str | int | None, now: datetime | float, max_age: int = 300) -> bool:
    """True when the request's Unix `timestamp` is within `max_age` seconds of `now` (either way)."""
    try:
        sent = int(str(ts))
    except (TypeError, ValueError):
        return False
    current = now.timestamp() if isinstance(now, datetime) else float(now)
    return abs(current - sent) <= max_age


def issue_state(redis_conn, shop: str) -> str:
    """A fresh, unguessable `state` bound to `shop`, valid once for 10 minutes."""
    shop = validate_shop_domain(shop)
    state = secrets.token_urlsafe(32)
    redis_conn.set(_STATE_KEY.format(state), shop, ex=STATE_TTL_SECONDS)
    return state


def consume_state(redis_conn, state: str | None, shop: str) -> bool:
    """True once for a state issued for this shop; GETDEL makes a replay fail."""
    if not state:
        return False
    stored = redis_conn.getdel(_STATE_KEY.format(state))
    if stored is None:
        return False
    stored_shop = stored.decode() if isinstance(stored, bytes) else str(stored)
    return hmac.compare_digest(stored_shop, str(shop).lower())


def _shop_root(shop: str, base_url: str | None) -> str:
    shop = validate_shop_domain(shop)
    return f"https://{shop}" if base_url is None else f"{base_url.rstrip('/')}/{shop}"


def authorize_url(
    shop: str,
    api_key: str,
    scopes: Sequence[str] | str,
    redirect_uri: str,
    state: str,
    base_url: str | None = None,
) -> str:
    """Where to send the merchant to approve the app (offline access: no grant_options)."""
    scope = scopes if isinstance(scopes, str) else ",".join(scopes)
    query = urlencode({"client_id": api_key, "scope": scope, "redirect_uri": redirect_uri, "state": state})
    return f"{_shop_root(shop, base_url)}/admin/oauth/authorize?{query}"


def _token_request(shop: str, form: dict, base_url: str | None, timeout: float) -> TokenSet:
    url = f"{_shop_root(shop, base_url)}/admin/oauth/access_token"

    def post() -> TokenSet:
        try:
            response = requests.post(url, data=form, headers={"Accept": "application/json"}, timeout=timeout)
        except requests.RequestException as exc:
            raise ApiError(f"Shopify token endpoint unreachable: {type(exc).__name__}") from exc
        if response.status_code in (400, 401, 403):
            # An unknown, used or expired code / refresh token, or wrong client credentials.
            raise Unauthorized(
                "Shopify refused the grant", status=response.status_code, code=_error_code(response)
            )
        if response.status_code != 200:
            raise ApiError("Shopify token endpoint failed", status=response.status_code, body=response.text[:500])
        try:
            return _token_set(response.json(), datetime.now(UTC))
        except (ValueError, KeyError, TypeError) as exc:
            raise ApiError("Shopify token endpoint answered an unreadable body", status=200) from exc

    return call_with_retries(post, _TOKEN_RETRY)


def _error_code(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None


def _token_set(body: dict, now: datetime) -> TokenSet:
    def at(seconds: object) -> datetime | None:
        return now + timedelta(seconds=int(seconds)) if seconds not in (None, "") else None

    return TokenSet(
        access_token=body["access_token"],
        scope=body.get("scope", ""),
        expires_at=at(body.get("expires_in")),
        refresh_token=body.get("refresh_token"),
        refresh_token_expires_at=at(body.get("refresh_token_expires_in")),
    )


def exchange_code(
    shop: str, code: str, api_key: str, api_secret: str, base_url: str | None = None, timeout: float = 10
) -> TokenSet:
    """Trade the callback's one-time `code` for an expiring offline token and its refresh token."""
    form = {"client_id": api_key, "client_secret": api_secret, "code": code, "expiring": "1"}
    return _token_request(shop, form, base_url, timeout)


def refresh_token(
    shop: str, refresh_token: str, api_key: str, api_secret: str, base_url: str | None = None, timeout: float = 10
) -> TokenSet:
    """A new access token; Shopify rotates the refresh token, so store the returned one."""
    form = {
        "client_id": api_key,
        "client_secret": api_secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }
    return _token_request(shop, form, base_url, timeout)


def needs_refresh(token_set: TokenSet, now: datetime, margin: timedelta = timedelta(minutes=5)) -> bool:
    """True when the access token expires within `margin` (never for a non-expiring token)."""
    return token_set.expires_at is not None and token_set.expires_at - margin <= now
