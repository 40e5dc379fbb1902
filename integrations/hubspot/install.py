"""Installing the HubSpot app: the OAuth authorize URL, code exchange, token refresh, state.

Access tokens last 30 minutes. `refresh_once` refreshes ahead of expiry exactly once however
many workers notice at the same time: one takes a Redis lock and refreshes, the others wait for
it and then load the fresh token.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import hubspot.oauth as oauth_sdk
import urllib3
from hubspot import HubSpot
from redis.exceptions import LockError
from urllib3.util.retry import Retry

from integrations.errors import ApiError
from integrations.hubspot.client import translate_sdk_error
from integrations.retry import DEFAULT_POLICY, RetryPolicy, call_with_retries

AUTHORIZE_URL = "https://app.hubspot.com/oauth/authorize"
KEY_PREFIX = "parlons:oauth:hubspot:"
SCOPES = ("oauth", "crm.objects.contacts.read", "crm.objects.contacts.write", "crm.schemas.contacts.write")


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_at: float  # epoch seconds
    hub_id: int | None = None

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        return self.expires_at - (time.time() if now is None else now) <= seconds


def authorize_url(client_id: str, redirect_uri: str, scopes, state: str, base_url: str | None = None) -> str:
    """Where to send the merchant to install the app (HubSpot's consent screen)."""
    query = urlencode({"client_id": client_id, "redirect_uri": redirect_uri, "scope": " ".join(scopes),
                       "state": state}, quote_via=quote)
    return f"{base_url.rstrip('/')}/oauth/authorize?{query}" if base_url else f"{AUTHORIZE_URL}?{query}"


def _oauth(base_url: str | None):
    where = {"host": base_url.rstrip("/"), "base_url": base_url.rstrip("/")} if base_url else {}
    return HubSpot(retry=Retry(total=0, raise_on_status=False), **where).oauth


def _call(fn: Callable, policy: RetryPolicy):
    def once():
        try:
            return fn()
        except oauth_sdk.ApiException as exc:
            raise translate_sdk_error(exc) from None
        except urllib3.exceptions.HTTPError as exc:
            raise ApiError(f"HubSpot did not answer: {type(exc).__name__}") from None
    return call_with_retries(once, policy)


def _token_set(oauth, grant: dict, timeout: float, policy: RetryPolicy, hub_id: int | None) -> TokenSet:
    started = time.time()
    answer = _call(lambda: oauth.tokens_api.create(**grant, _request_timeout=timeout), policy)
    if hub_id is None:
        info = _call(lambda: oauth.access_tokens_api.get(answer.access_token, _request_timeout=timeout), policy)
        hub_id = info.hub_id
    return TokenSet(answer.access_token, answer.refresh_token or grant.get("refresh_token", ""),
                    started + answer.expires_in, hub_id)


def exchange_code(code: str, client_id: str, client_secret: str, redirect_uri: str, base_url: str | None = None,
                  *, timeout: float = 10.0, policy: RetryPolicy = DEFAULT_POLICY) -> TokenSet:
    """Trade the code HubSpot sent to the redirect URL for tokens, and learn which portal (hub) it is."""
    grant = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
             "client_id": client_id, "client_secret": client_secret}
    return _token_set(_oauth(base_url), grant, timeout, policy, None)


def refresh(refresh_token: str, client_id: str, client_secret: str, base_url: str | None = None,
            *, hub_id: int | None = None, timeout: float = 10.0, policy: RetryPolicy = DEFAULT_POLICY) -> TokenSet:
    """A new access token from the refresh token (the hub is looked up unless given)."""
    grant = {"grant_type": "refresh_token", "refresh_token": refresh_token,
             "client_id": client_id, "client_secret": client_secret}
    return _token_set(_oauth(base_url), grant, timeout, policy, hub_id)


def refresh_once(redis_conn, portal_key: str, current: TokenSet, do_refresh: Callable[[], TokenSet],
                 load: Callable[[], TokenSet], margin: float = 300, wait: float = 30.0) -> TokenSet:
    """`current` if it is good for more than `margin` seconds; else a fresh token, refreshed by one
    worker only. `do_refresh` refreshes and stores the result; `load` reads the stored token."""
    if not current.expires_within(margin):
        return current
    lock = redis_conn.lock(f"{KEY_PREFIX}refresh:{portal_key}", timeout=wait, blocking_timeout=wait)
    if not lock.acquire():
        raise ApiError("HubSpot token refresh still running elsewhere")
    try:
        stored = load()
        if not stored.expires_within(margin):
            return stored
        return do_refresh()
    finally:
        try:
            lock.release()
        except LockError:  # the refresh outlived the lock; nothing left to release
            pass


def issue_state(redis_conn, payload: dict | None = None, ttl: int = 600) -> str:
    """A single-use OAuth `state` carrying `payload` (e.g. which shop is connecting)."""
    state = secrets.token_urlsafe(24)
    redis_conn.set(f"{KEY_PREFIX}state:{state}", json.dumps(payload or {}), ex=ttl, nx=True)
    return state


def consume_state(redis_conn, state: str) -> dict | None:
    """The payload of `state` if it was issued and not used yet; it cannot be used again."""
    if not state:
        return None
    raw = redis_conn.getdel(f"{KEY_PREFIX}state:{state}")
    return json.loads(raw) if raw is not None else None
