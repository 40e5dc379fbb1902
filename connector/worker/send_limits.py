"""Rate limits and provider health, shared by every dispatch worker through Redis.

- Per sender: each number, short code, alphanumeric sender or messaging service sends at most
  its messages per second (the shop's setting, else the provider's default for that kind of
  sender and country).
- Per provider account: at most `sms_account_rate_per_second` requests; a 429's Retry-After
  pauses the whole account for every worker.
- Health: failures (5xx, timeouts, unknown outcomes) counted per provider account in a sliding
  minute; past `failover_threshold` the provider is considered down for
  `failover_cooldown_seconds`, and shops with a failover send through it meanwhile.
"""

from __future__ import annotations

import math
import time

from connector.config import Config
from connector.providers import Route, account_key
from integrations.ratelimit import TokenBucket

_FAILURES = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
for i = 1, tonumber(ARGV[2]) do
  redis.call('ZADD', KEYS[1], now, redis.call('INCR', KEYS[1] .. ':seq'))
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('PEXPIRE', KEYS[1], window)
redis.call('PEXPIRE', KEYS[1] .. ':seq', window)
local count = redis.call('ZCARD', KEYS[1])
if count >= tonumber(ARGV[3]) then
  redis.call('SET', KEYS[2], '1', 'PX', tonumber(ARGV[4]))
end
return count
"""


class SendLimits:
    """The buckets and health of the routes one worker sends by (objects cached, state in Redis)."""

    def __init__(self, redis_conn, config: Config, prefix: str = "parlons:sms") -> None:  # noqa: ANN001
        self.redis = redis_conn
        self.config = config
        self.prefix = prefix
        self._buckets: dict[tuple, TokenBucket] = {}
        self._failures = redis_conn.register_script(_FAILURES)

    def _bucket(self, key: str, mps: float) -> TokenBucket:
        capacity = max(1, math.floor(mps)) if mps >= 1 else 1
        cache_key = (key, capacity, mps)
        if cache_key not in self._buckets:
            self._buckets[cache_key] = TokenBucket(self.redis, key, capacity, capacity / mps)
        return self._buckets[cache_key]

    def sender(self, route: Route) -> TokenBucket:
        return self._bucket(f"{self.prefix}:rate:sender:{route.provider}:{route.sender.kind}:{route.sender.value}",
                            route.mps)

    def account(self, provider: str) -> TokenBucket:
        return self._bucket(f"{self.prefix}:rate:account:{account_key(self.config, provider)}",
                            float(self.config.sms_account_rate_per_second))

    def take(self, route: Route, wanted: int) -> tuple[int, float]:
        """Up to `wanted` tokens from the sender and its account: (taken, seconds to wait when 0)."""
        sender, account = self.sender(route), self.account(route.provider)
        n = min(wanted, sender.capacity, account.capacity)
        while n >= 1:
            wait = sender.try_acquire(n)
            if wait == 0:
                break
            if n == 1:
                return 0, wait
            n = max(1, n // 2)
        wait = account.try_acquire(n)
        while wait and n > 1:  # the sender's tokens stay taken: a short pause of the sender at worst
            n = max(1, n // 2)
            wait = account.try_acquire(n)
        return (0, wait) if wait else (n, 0.0)

    def retry_after(self, provider: str, seconds: float) -> None:
        """The provider answered 429: nobody sends through this account for `seconds`."""
        self.account(provider).penalise(seconds)

    # -- health -----------------------------------------------------------------------------
    def _health_keys(self, provider: str) -> list[str]:
        base = f"{self.prefix}:health:{account_key(self.config, provider)}"
        return [f"{base}:failures", f"{base}:down"]

    def failed(self, provider: str, n: int = 1) -> int:
        """Count `n` failures of `provider`; returns the failures in the window."""
        return int(self._failures(keys=self._health_keys(provider), args=[
            self.config.failover_window_seconds * 1000, n, self.config.failover_threshold,
            self.config.failover_cooldown_seconds * 1000]))

    def down(self, provider: str) -> float:
        """Seconds `provider` is still considered down (0 when up)."""
        ms = self.redis.pttl(self._health_keys(provider)[1])
        return ms / 1000 if ms and ms > 0 else 0.0

    def wait(self, seconds: float) -> None:
        time.sleep(min(seconds, 1.0))
