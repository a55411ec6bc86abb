"""Whether Redis (and the database) are usable right now, for this process: small circuit breakers.

Redis holds the fast shared state (call state, lockout counters, presence, the line). When it
cannot be reached, the service keeps answering calls from the database instead ("degraded mode":
`ivr.state.CallStore` and `auth.callers.Lockout` have database stand-ins, routing falls back to
ringing the roster in order). After a Redis error the breaker opens for `COOLDOWN_SECONDS`, so
requests go straight to the stand-ins instead of each waiting for a connection error; after the
cooldown the next request tries Redis again, and a success closes the breaker. A request that
cannot do without Redis (a call's state is in neither store) may `probe` it before the cooldown
ends: when a Redis restart is over, processes whose breakers are still open would otherwise miss
what the others already wrote there.

The database breaker (`Breakers.db`) does the same for the database: while it is open, a webhook
answers the fallback TwiML at once instead of waiting for a connection timeout (PostgreSQL
connections time out after 2 s), so a database outage costs one slow request per cooldown, not
one per call step.

There are no process-global breakers: each app holds one `Breakers` (`webhooks.services.Services`,
built by `create_app`, also for the worker, the dispatcher, the CLI and the simulator) and hands it
to the code that needs it (`CallEnv.breakers`, `CallStore`, `Lockout`, `SigninThrottle`). All the
requests of one app share it, which the cooldown and the probe rely on; two apps in one process
(tests) do not share theirs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

log = logging.getLogger("supportline.redis")

COOLDOWN_SECONDS = 5.0
PROBE_SECONDS = 0.5
ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)


class Breaker:
    def __init__(
        self, name: str = "Redis", cooldown: float = COOLDOWN_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.cooldown = cooldown
        self.clock = clock
        self._open_until = 0.0
        self._next_probe = 0.0
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

    def probe(self, ping: Callable[[], object]) -> bool:
        """While open, try the service now anyway (at most once per PROBE_SECONDS in this process),
        for a request that would otherwise go wrong without it; True when it is usable (answered:
        the breaker closes early). Other processes may already be back on it and have written what
        this request needs there."""
        if self.usable():
            return True
        with self._lock:
            now = self.clock()
            if now < self._next_probe:
                return False
            self._next_probe = now + PROBE_SECONDS
        try:
            ping()
        except ERRORS as exc:
            self.failed(exc)
            return False
        self.succeeded()
        return True

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0
            self._next_probe = 0.0


@dataclass
class Breakers:
    """One app's breakers (so one process's, in production): Redis and the database."""

    redis: Breaker = field(default_factory=lambda: Breaker("Redis"))
    db: Breaker = field(default_factory=lambda: Breaker("the database"))

    def reset(self) -> None:
        """Both reachable again (tests: the cooldown has passed)."""
        self.redis.reset()
        self.db.reset()
