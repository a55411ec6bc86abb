"""Page rate limits per engineer, in Redis: a storm of calls must not flood anyone's phone.

Voice pages: at most 1 a minute and 3 per 15 minutes; SMS pages: at most 1 a minute and 5 per
15 minutes; both: a daily cap (rolling 24 hours). A page is counted only when it is allowed, and
the check and the count are one Lua script, so concurrent jobs cannot both slip through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import redis

DAY = 86_400


@dataclass(frozen=True)
class Limit:
    window_seconds: int
    max_pages: int


LIMITS: dict[str, tuple[Limit, ...]] = {
    "voice": (Limit(60, 1), Limit(900, 3), Limit(DAY, 24)),
    "sms": (Limit(60, 1), Limit(900, 5), Limit(DAY, 40)),
}

# KEYS[1]: the engineer's sorted set for the channel. ARGV: now, member, then (window, max) pairs.
_ALLOW = """
local now = tonumber(ARGV[1])
local longest = 0
for i = 3, #ARGV, 2 do
  local window = tonumber(ARGV[i])
  if window > longest then longest = window end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - longest)
for i = 3, #ARGV, 2 do
  local window, max = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  if redis.call('ZCOUNT', KEYS[1], '(' .. (now - window), '+inf') >= max then
    return window
  end
end
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('EXPIRE', KEYS[1], longest)
return 0
"""


class PageLimits:
    def __init__(self, client: redis.Redis, prefix: str = "sl") -> None:
        self.redis = client
        self.prefix = prefix
        self._allow = client.register_script(_ALLOW)

    def allow(self, engineer_pk: int, channel: str, now: datetime, page_id: str) -> int:
        """0 when the page may go (and it is counted), else the window (seconds) that is full."""
        if now.tzinfo is None:
            raise ValueError("now must be tz-aware")
        limits = LIMITS[channel]
        args: list[str | int] = [repr(now.timestamp()), page_id]
        for limit in limits:
            args += [limit.window_seconds, limit.max_pages]
        key = f"{self.prefix}:pagelimit:{channel}:{int(engineer_pk)}"
        return int(self._allow(keys=[key], args=args))
