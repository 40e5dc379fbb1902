"""Frequency caps: how many marketing SMS one contact may receive, across every flow and campaign.

Each shop+contact has a Redis sorted set of reserved send times (member = the message's token,
score = send time in ms). One Lua script checks every cap and records the reservation
atomically, so two workers can never both slip under the same cap. A reservation whose message
is not sent after all is released. Transactional messages are not capped: do not reserve them.

A cap of N per window W holds for every sliding window of length W, including send times
reserved in the future (a deferred message counts at the time it will be sent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from automations.policy import ShopPolicy

DAY_MS = 24 * 3600 * 1000
KEY_PREFIX = "parlons:caps"

# KEYS[1] = set; ARGV: at_ms, token, longest_ms, then (window_ms, limit) pairs.
# Returns 0 when reserved (or already reserved under this token), else the 1-based index of
# the first cap that would be exceeded.
_RESERVE = """
local key, at, token, longest = KEYS[1], tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
if redis.call('ZSCORE', key, token) then return 0 end
redis.call('ZREMRANGEBYSCORE', key, '-inf', at - 2 * longest)
for i = 4, #ARGV, 2 do
  local window, limit = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local found = redis.call('ZRANGEBYSCORE', key, '(' .. (at - window), '(' .. (at + window),
                           'WITHSCORES')
  local times = {at}
  for j = 2, #found, 2 do times[#times + 1] = tonumber(found[j]) end
  table.sort(times)
  local hi = 1
  for lo = 1, #times do
    if hi < lo then hi = lo end
    while hi < #times and times[hi + 1] < times[lo] + window do hi = hi + 1 end
    if times[lo] <= at and at < times[lo] + window and hi - lo + 1 > limit then
      return (i - 2) / 2
    end
  end
end
redis.call('ZADD', key, at, token)
local last = tonumber(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2])
redis.call('PEXPIRE', key, math.max(last - at, 0) + 2 * longest)
return 0
"""


@dataclass(frozen=True)
class CapDecision:
    allowed: bool
    reason: str | None  # e.g. "frequency cap: 1 marketing SMS per 24 h"


def caps_of(policy: ShopPolicy) -> list[tuple[int, int, str]]:
    """The shop's caps as (window in ms, limit, reason) — a None cap is no cap."""
    caps = []
    if policy.marketing_cap_24h is not None:
        caps.append((DAY_MS, policy.marketing_cap_24h, "24 h"))
    if policy.marketing_cap_7d is not None:
        caps.append((7 * DAY_MS, policy.marketing_cap_7d, "7 days"))
    return [(w, n, f"frequency cap: {n} marketing SMS per {label}") for w, n, label in caps]


def cap_key(shop_id: object, contact_id: object) -> str:
    return f"{KEY_PREFIX}:{shop_id}:{contact_id}"


def reserve(
    redis_conn, shop_id: object, contact_id: object, at: datetime, policy: ShopPolicy, token: str
) -> CapDecision:
    """Reserve a marketing send at `at` for this contact unless a cap forbids it.

    `token` identifies the message (its idempotency key): reserving it again is allowed
    and changes nothing.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("`at` must be a timezone-aware datetime")
    caps = caps_of(policy)
    if not caps:
        return CapDecision(True, None)
    args: list[object] = [int(at.timestamp() * 1000), token, max(w for w, _, _ in caps)]
    for window, limit, _ in caps:
        args += [window, limit]
    script = redis_conn.register_script(_RESERVE)
    broken = int(script(keys=[cap_key(shop_id, contact_id)], args=args))
    if broken:
        return CapDecision(False, caps[broken - 1][2])
    return CapDecision(True, None)


def release(redis_conn, shop_id: object, contact_id: object, token: str) -> bool:
    """Give back a reservation whose message was not sent; True if there was one."""
    return bool(redis_conn.zrem(cap_key(shop_id, contact_id), token))
