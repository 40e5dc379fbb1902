"""Rate limits on the public endpoints, shared by every web process through Redis.

| what | key | limit (setting) | counts |
|---|---|---|---|
| admin sign-in | client IP | `PARLONS_LIMIT_SIGN_IN` (10/minute;50/hour) | failed sign-ins |
| `/l/<code>` | client IP | `PARLONS_LIMIT_LINKS` (120/minute) | every visit |
| Shopify webhooks | shop domain | `PARLONS_LIMIT_SHOPIFY_WEBHOOKS` (30000/minute) | deliveries stored |
| webhooks with a bad signature | source and client IP | `PARLONS_LIMIT_BAD_SIGNATURES` (30/minute) | refusals (401) |

A limit answers 429 with `Retry-After`. A genuine delivery is never refused where its sender does
not retry: a well-signed Twilio or HubSpot delivery is never limited (only badly signed requests
are counted, after the check); Shopify retries a 429 (8 times over 4 hours), so its deliveries
have a per-shop cap. The client IP is the connection's, or with `PARLONS_TRUSTED_PROXIES=N` the
one N proxies saw. If Redis does not answer, requests go on unlimited rather than refused.

The limits are counted with the `limits` library (fixed windows in Redis), except the per-shop
webhook cap: webhooks are the hot path, so each web process counts its deliveries in memory and
adds them to the shared count at most every `ShopCap.FLUSH_SECONDS` (one Redis round trip then,
none per request); a shop may overshoot its cap by what arrives within that time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

import redis
from flask import Response, current_app, jsonify, request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

log = logging.getLogger("parlons.limits")


class Limits:
    """One per process (on the runtime): the limits of the public endpoints."""

    def __init__(self, redis_url: str, prefix: str, settings: Any, enabled: bool = True) -> None:
        self.enabled = enabled
        self._settings = settings
        self._prefix = f"{prefix}:limits"
        self._limiter = FixedWindowRateLimiter(storage_from_string(redis_url))

    def _items(self, setting: str) -> list[RateLimitItem]:
        return parse_many(getattr(self._settings, setting))

    def _key(self, name: str, who: str) -> str:
        return f"{self._prefix}:{name}:{who}"

    def wait(self, setting: str, who: str, *, count: bool = True) -> int | None:
        """Seconds to wait when `who` is over the `setting` limit (counting this request when
        `count`); None when it may go on."""
        if not self.enabled:
            return None
        key = self._key(setting, who)
        try:
            over = [item for item in self._items(setting)
                    if not (self._limiter.hit(item, key) if count else self._limiter.test(item, key))]
            if not over:
                return None
            reset, _ = self._limiter.get_window_stats(over[0], key)
        except (redis.RedisError, OSError):
            log.warning("rate limits unavailable (Redis): request let through")
            return None
        return max(1, int(reset - time.time()) + 1)

    def count(self, setting: str, who: str) -> None:
        self.wait(setting, who)


def client_ip() -> str:
    return request.remote_addr or "unknown"


def too_many(wait: int, message: str = "too many requests: retry later") -> Response:
    """429 with Retry-After, in the JSON shape of the app's other errors."""
    response = jsonify(error="too_many_requests", message=message, retry_after=wait)
    response.status_code = 429
    response.headers["Retry-After"] = str(wait)
    return response


def _limits() -> Limits:
    return current_app.extensions["parlons_limits"]


def sign_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """A client IP with too many failed sign-ins waits, whatever it sends next (brute force)."""
    @wraps(view)
    def limited(*args: Any, **kwargs: Any) -> Any:
        if request.method != "POST":
            return view(*args, **kwargs)
        wait = _limits().wait("limit_sign_in", client_ip(), count=False)
        if wait:
            return too_many(wait, "too many sign-in attempts: wait before trying again")
        response = current_app.make_response(view(*args, **kwargs))
        if response.status_code in (401, 403):
            _limits().count("limit_sign_in", client_ip())
        return response
    return limited


def links(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def limited(*args: Any, **kwargs: Any) -> Any:
        wait = _limits().wait("limit_links", client_ip())
        return too_many(wait) if wait else view(*args, **kwargs)
    return limited


def refuse_bad_signature(source: str) -> int | None:
    """Count a badly signed request from this client; seconds to wait when it is over its limit.
    Called after the signature check, so a well-signed delivery is never refused by it."""
    return _limits().wait("limit_bad_signatures", f"{source}:{client_ip()}")


class ShopCap:
    """Deliveries stored per shop and window (a minute by default), counted in memory and added to Redis in batches."""

    FLUSH_SECONDS = 0.05

    def __init__(self, conn: redis.Redis, prefix: str, item: RateLimitItem, enabled: bool = True) -> None:
        self._conn, self._prefix, self.enabled = conn, f"{prefix}:limits:shop", enabled
        self.limit, self.WINDOW = item.amount, item.get_expiry()
        self._local: dict[str, int] = {}  # counted here since the last flush, this window
        self._shared: dict[str, int] = {}  # every process's count at the last flush, this window
        self._window = 0
        self._flushed_at = 0.0
        self._lock = threading.Lock()

    def wait(self, shop: str) -> int | None:
        """Seconds to wait when `shop` is at its cap this minute, else None."""
        if not self.enabled:
            return None
        now = time.time()
        window = int(now // self.WINDOW)
        if window != self._window or now - self._flushed_at >= self.FLUSH_SECONDS:
            self._flush(window, now)
        if self._shared.get(shop, 0) + self._local.get(shop, 0) >= self.limit:
            return max(1, int((window + 1) * self.WINDOW - now) + 1)
        return None

    def stored(self, shop: str) -> None:
        if self.enabled:
            self._local[shop] = self._local.get(shop, 0) + 1

    def _flush(self, window: int, now: float) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another request of this process is flushing
        try:
            local, self._local = self._local, {}
            if window != self._window:
                local, self._shared, self._window = {}, {}, window  # last window's counts are over
            self._flushed_at = now
            pipe = self._conn.pipeline(transaction=False)
            keys = sorted(set(local) | set(self._shared))
            for shop in keys:
                key = f"{self._prefix}:{shop}:{window}"
                pipe.incrby(key, local.get(shop, 0))
                pipe.expire(key, 2 * self.WINDOW)
            try:
                totals = pipe.execute()[::2]
            except (redis.RedisError, OSError):
                log.warning("shop delivery caps unavailable (Redis): deliveries let through")
                return
            self._shared = dict(zip(keys, totals, strict=True))
        finally:
            self._lock.release()


def install(app: Any, runtime: Any) -> None:
    config = runtime.config
    app.extensions["parlons_limits"] = Limits(config.redis_url, config.queue_prefix, config, config.rate_limits)
    app.extensions["parlons_shop_cap"] = ShopCap(
        runtime.redis, config.queue_prefix,
        parse_many(config.limit_shopify_webhooks)[0], config.rate_limits)


def shop_cap() -> ShopCap:
    return current_app.extensions["parlons_shop_cap"]
