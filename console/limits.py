"""Per-user rate limits for console actions: a sliding window in Redis on the injected clock.

`RateLimit.take` counts one use and says whether it is within the limit; a use refused is not
counted. Redis errors reach the caller, which decides how to fail (the test-call page fails closed).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import redis


class RateLimit:
    """At most `limit` uses per subject within `window_seconds`, shared by every worker."""

    def __init__(
        self, client: redis.Redis, name: str, limit: int, window_seconds: int, prefix: str = "sl:limit"
    ) -> None:
        self.redis = client
        self.limit = limit
        self.window = window_seconds
        self.prefix = f"{prefix}:{name}"

    def take(self, subject: str, now: datetime) -> bool:
        key = f"{self.prefix}:{hashlib.sha256(subject.encode()).hexdigest()[:24]}"  # no usernames in key names
        ts = now.timestamp()
        member = f"{ts:.6f}:{secrets.token_hex(4)}"
        pipe = self.redis.pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", ts - self.window)
        pipe.zadd(key, {member: ts})
        pipe.zcard(key)
        pipe.expire(key, self.window + 60)
        if pipe.execute()[2] <= self.limit:
            return True
        self.redis.zrem(key, member)  # over the limit: this use is refused, so it does not count
        return False
