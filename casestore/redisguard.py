"""Whether Redis (and the database) are usable right now, for this process: small circuit breakers.

Redis holds the fast shared state (call state, lockout counters, presence, the line). When it
cannot be reached, the service keeps answering calls from the database instead ("degraded mode":
`ivr.state.CallStore` and `auth.callers.Lockout` have database stand-ins, routing falls back to
ringing the roster in order). After a Redis error the breaker opens for `COOLDOWN_SECONDS`, so
requests go straight to the stand-ins instead of each waiting for a connection error; after the
cooldown the next request tries Redis again, and a success closes the breaker.

`DB_BREAKER` does the same for the database: while it is open, a webhook answers the fallback TwiML
at once instead of waiting for a connection timeout (PostgreSQL connections time out after 2 s), so
a database outage costs one slow request per cooldown, not one per call step.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import redis

log = logging.getLogger("supportline.redis")

COOLDOWN_SECONDS = 5.0
ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)


class Breaker:
    def __init__(self, name: str = "Redis", cooldown: float = COOLDOWN_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.cooldown = cooldown
        self.clock = clock
        self._open_until = 0.0
        self._lock = threading.Lock()

    def usable(self) -> bool:
        return self.clock() >= self._open_until

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            if self.usable():
                log.error("%s unreachable (%s): degraded mode for %.0f s", self.name, type(exc).__name__, self.cooldown)
            self._open_until = self.clock() + self.cooldown

    def succeeded(self) -> None:
        if self._open_until:
            with self._lock:
                if self._open_until:
                    log.warning("%s reachable again: leaving degraded mode", self.name)
                self._open_until = 0.0

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0


BREAKER = Breaker("Redis")
DB_BREAKER = Breaker("the database")
