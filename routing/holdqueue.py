"""The hold queue: callers waiting for an advisor, in Redis so every worker sees one line.

Order: priority first (critical before high before medium before low), then longest waiting.
Expected wait = the caller's rounds ahead (position / advisors who could take the call) times the
average handle time. Both are plain functions; `HoldQueue` is the Redis-backed line itself.
"""

from __future__ import annotations

import math
from datetime import datetime

import redis

DEFAULT_HANDLE_SECONDS = 300.0
_PRIORITY_WEIGHT = 1e11  # far above any epoch-seconds value, so priority dominates


def queue_score(priority_rank: int, enqueued_at: datetime) -> float:
    return priority_rank * _PRIORITY_WEIGHT + enqueued_at.timestamp()


def expected_wait_seconds(position: int, staffed: int, handle_seconds: float = DEFAULT_HANDLE_SECONDS) -> float:
    """Seconds until the caller at `position` (1-based) is likely answered."""
    if position <= 0:
        return 0.0
    rounds = math.ceil(position / max(staffed, 1))
    return rounds * handle_seconds


class HoldQueue:
    def __init__(self, client: redis.Redis, name: str = "default", prefix: str = "sl") -> None:
        self.redis = client
        self.key = f"{prefix}:queue:{name}"

    def join(self, sid: str, priority_rank: int, now: datetime) -> int:
        """Add the call (keeping its place if already in line); returns its 1-based position."""
        self.redis.zadd(self.key, {sid: queue_score(priority_rank, now)}, nx=True)
        return self.position(sid) or 1

    def position(self, sid: str) -> int | None:
        rank = self.redis.zrank(self.key, sid)
        return None if rank is None else rank + 1

    def leave(self, sid: str) -> None:
        self.redis.zrem(self.key, sid)

    def waiting(self) -> int:
        return int(self.redis.zcard(self.key))
