"""A rate limiter shared by every worker process, kept in Redis.

`TokenBucket(redis_conn, key, capacity, per_seconds)` hands out at most `capacity` tokens in any
window of `per_seconds`: each token comes back `per_seconds` after it was taken (a sliding
window, so a burst at the end of one window and another at the start of the next can never add
up to more than the outside system allows). Taking tokens is one Lua script, so any number of
processes can share one bucket; the clock is the Redis server's, so their clocks do not matter.

`penalise(seconds)` honours a `Retry-After`: nobody takes a token until it has passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

_ACQUIRE = """
local key, seq_key, pause_key = KEYS[1], KEYS[2], KEYS[3]
local capacity = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused_until = tonumber(redis.call('GET', pause_key) or '0')
if paused_until > now then
  return paused_until - now
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local used = redis.call('ZCARD', key)
if used + n <= capacity then
  for i = 1, n do
    redis.call('ZADD', key, now, redis.call('INCR', seq_key))
  end
  local ttl = math.ceil(window / 1000) + 1000
  redis.call('PEXPIRE', key, ttl)
  redis.call('PEXPIRE', seq_key, ttl)
  return 0
end
local oldest = redis.call('ZRANGE', key, used + n - capacity - 1, used + n - capacity - 1, 'WITHSCORES')
return math.max(tonumber(oldest[2]) + window - now, 1)
"""

_PENALISE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local target = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if target > current then
  redis.call('SET', KEYS[1], string.format('%d', target), 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1)
end
return 0
"""


class WouldBlock(Exception):
    """No token now (`block=False`) or not before the timeout; `retry_after` is the wait needed."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limit: next token in {retry_after:.3f}s")
        self.retry_after = retry_after


class TokenBucket:
    """At most `capacity` acquisitions in any `per_seconds` window, across processes."""

    def __init__(
        self,
        redis_conn,
        key: str,
        capacity: int,
        per_seconds: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if capacity < 1 or per_seconds <= 0:
            raise ValueError("capacity must be >= 1 and per_seconds > 0")
        self.redis = redis_conn
        self.key = key
        self.capacity = capacity
        self.per_seconds = per_seconds
        self._sleep = sleep
        self._acquire = redis_conn.register_script(_ACQUIRE)
        self._penalise = redis_conn.register_script(_PENALISE)
        self._keys = [key, f"{key}:seq", f"{key}:paused"]

    def try_acquire(self, n: int = 1) -> float:
        """Take `n` tokens if they are there; return 0.0, or the seconds to wait before trying again."""
        if not 1 <= n <= self.capacity:
            raise ValueError(f"cannot take {n} tokens from a bucket of {self.capacity}")
        wait_us = self._acquire(
            keys=self._keys, args=[self.capacity, int(self.per_seconds * 1_000_000), n]
        )
        return int(wait_us) / 1_000_000

    def acquire(self, n: int = 1, block: bool = True, timeout: float | None = None) -> float:
        """Take `n` tokens, waiting for them if `block`; return the seconds waited.

        Raises WouldBlock when `block` is false and no token is there, or when the wait would
        run past `timeout` seconds.
        """
        started = time.monotonic()
        while True:
            wait = self.try_acquire(n)
            if wait == 0:
                return time.monotonic() - started
            if not block:
                raise WouldBlock(wait)
            if timeout is not None:
                left = timeout - (time.monotonic() - started)
                if wait > left:
                    raise WouldBlock(wait)
            self._sleep(wait)

    def penalise(self, seconds: float) -> None:
        """Hand out no token for `seconds` (a `Retry-After`); a longer pause already set wins."""
        if seconds > 0:
            self._penalise(keys=[self._keys[2]], args=[int(seconds * 1_000_000)])
