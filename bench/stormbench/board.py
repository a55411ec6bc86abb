"""What the callers share: the call plans, one record per call, the Board (advisors held, phases,
double bookings, carrier redirects routed to their call), the Storm, and the keep-alive connection
pool that sends requests round-robin to the service processes."""

from __future__ import annotations

import itertools
import math
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .shared import FakeTwilio, Posted, base

if TYPE_CHECKING:
    from .callers import Caller


CALLBACK_PATIENCE = (60.0, 240.0)  # seconds in line before pressing 1, 2 (uniform)
HANGUP_PATIENCE = (20.0, 180.0)  # seconds in line before hanging up (uniform)


class ConnectionPool:
    """Keep-alive connections (calls.py's KeepAlive) shared by every caller thread: a request
    borrows an idle one or opens one, so there are as many connections as requests in flight,
    not one per waiting caller. Quacks like KeepAlive for calls.py's Transport. With several
    ports (--processes), each request goes to the next port in turn, as a round-robin load
    balancer in front of the processes would send it."""

    def __init__(self, ports: int | list[int]) -> None:
        self.ports = [ports] if isinstance(ports, int) else list(ports)
        self._idle: dict[int, list[base.KeepAlive]] = {port: [] for port in self.ports}
        self._all: list[base.KeepAlive] = []
        self._turn = itertools.count()
        self.sent: Counter[int] = Counter()  # requests per port
        self._lock = threading.Lock()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        with self._lock:
            port = self.ports[next(self._turn) % len(self.ports)]
            self.sent[port] += 1
            idle = self._idle[port]
            conn = idle.pop() if idle else None
            if conn is None:
                conn = base.KeepAlive(port)
                self._all.append(conn)
        try:
            return conn.post(path, body, headers)
        except BaseException:
            conn.close()  # a timed-out http.client connection cannot be reused
            raise
        finally:
            with self._lock:
                self._idle[port].append(conn)

    @property
    def opened(self) -> int:
        return len(self._all)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()


@dataclass(frozen=True)
class CallPlan:
    index: int
    arrive_at: float  # seconds after the storm starts
    talk: float  # seconds talking once put through
    leaves: str  # "" waits as long as it takes; "callback" presses 1 then 2; "hangup"
    patience: float  # seconds in line before leaving (inf when leaves == "")


def make_plans(
    calls: int, arrival_seconds: float, talk: float, callback_share: float, hangup_share: float, seed: int
) -> list[CallPlan]:
    """Arrivals uniform over the window (a Poisson storm of that many calls), talk +/-50 %."""
    rng = random.Random(seed)
    arrivals = sorted(rng.uniform(0.0, arrival_seconds) for _ in range(calls))
    plans = []
    for i, at in enumerate(arrivals):
        talk_s = talk * rng.uniform(0.5, 1.5)
        roll = rng.random()
        if roll < callback_share:
            leaves, patience = "callback", rng.uniform(*CALLBACK_PATIENCE)
        elif roll < callback_share + hangup_share:
            leaves, patience = "hangup", rng.uniform(*HANGUP_PATIENCE)
        else:
            leaves, patience = "", math.inf
        plans.append(CallPlan(i, at, talk_s, leaves, patience))
    return plans


@dataclass
class CallRecord:
    """What happened to one call. Times are seconds on the storm's clock."""

    sid: str
    plan: CallPlan
    # connected | callback | hung up | message | error | unexpected | greeting loop |
    # still waiting at the cap | interrupted
    outcome: str = ""
    arrived: float | None = None
    joined: float | None = None  # the first hold answer: in the line
    put_through: float | None = None  # the Dial answer of the call that was then bridged
    left: float | None = None  # left the line (callback request or hang-up)
    ended: float | None = None
    hold_rounds: int = 0  # hold Redirects posted after a full round
    redirects: int = 0  # dispatcher redirects followed
    missed_dials: int = 0
    requests: int = 0
    errors: int = 0
    note: str = ""
    cut_off: str = ""  # why an "error" call ended: fallback, http, transport, twiml, bench
    restarts: int = 0  # times the service sent the call back to the greeting (its state was lost)
    restarted_at: list[float] = field(default_factory=list)
    busy_dials: int = 0  # Dials to an advisor the bench had talking: answered busy
    announced_position: int | None = None  # what the first hold prompt said
    announced_wait: float | None = None  # seconds ("less than a minute": 30); None: no estimate
    dials: list[str] = field(default_factory=list)  # "t=..s adv=N via <step>" per Dial answer
    strays: list[str] = field(default_factory=list)  # redirects not followed, with the evidence

    @property
    def waited(self) -> float | None:
        """Seconds from joining the line to being put through; 0 when never in line; None when
        not put through."""
        if self.put_through is None:
            return None
        return 0.0 if self.joined is None else max(0.0, self.put_through - self.joined)


class Board:
    """What the bench knows across calls: who holds which advisor (double bookings), how many
    callers are in each phase (progress, queue peak), and carrier redirects routed to their call."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.wall0 = time.time()  # the storm clock's zero on the wall clock
        self.callers: dict[str, Caller] = {}
        self.holding: dict[int, str] = {}  # advisor pk -> the call the bench has them talking to
        self.double_bookings: list[str] = []
        self.double_booking_at: list[float] = []
        self.phases: Counter[str] = Counter()
        self.stray: Counter[str] = Counter()  # redirects not followed, by the caller's phase
        self.peak_waiting, self.peak_at = 0, 0.0
        self.stop = threading.Event()  # Ctrl-C or the deadline: every caller hangs up
        self.finished = threading.Event()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def register(self, caller: Caller) -> None:
        with self.lock:
            self.callers[caller.sid] = caller

    def move(self, old: str, new: str) -> None:
        with self.lock:
            if old:
                self.phases[old] -= 1
            self.phases[new] += 1
            waiting = self.waiting_count()
            if waiting > self.peak_waiting:
                self.peak_waiting, self.peak_at = waiting, self.now()

    def waiting_count(self) -> int:
        return self.phases["waiting"] + self.phases["choosing"]

    def take_advisor(self, pk: int, sid: str) -> bool:
        """The advisor takes this call; False (a double booking) when the bench has them on
        another call, which they keep."""
        with self.lock:
            other = self.holding.get(pk)
            if other is not None and other != sid:
                at = self.now()
                self.double_bookings.append(f"t={at:.1f}s advisor {pk} put through to {sid} while talking to {other}")
                self.double_booking_at.append(at)
                return False
            self.holding[pk] = sid
            return True

    def free_advisor(self, pk: int, sid: str) -> None:
        with self.lock:
            if self.holding.get(pk) == sid:
                del self.holding[pk]

    def note_stray(self, label: str, n: int = 1) -> None:
        if n:
            with self.lock:
                self.stray[label] += n

    def hear_update(self, update: Posted) -> None:
        """FakeTwilio's hook: a REST update of a call (on the fake's request thread)."""
        with self.lock:
            caller = self.callers.get(update.sid)
        url = update.get("Url")
        if caller is None or not url:
            self.note_stray("not a storm call, or not a redirect")
            return
        caller.redirected(url)


@dataclass
class Storm:
    """What every caller shares."""

    board: Board
    pool: ConnectionPool
    public: str
    token: str
    fallback: str
    fake: FakeTwilio
    roster: dict[int, str]  # signed-in advisor pk -> reach
    phone: str
    pin: str
    max_wait: float
    redis: object  # a client on the service's Redis db: evidence for stray redirects
    samples: list = field(default_factory=list)  # calls.Sample, appended by every thread
    errors: list[str] = field(default_factory=list)
    # What each error was: transport, http, twiml, fallback (calls.Transport), unexpected, roster,
    # bench; one entry per entry of `errors`.
    error_kinds: list[str] = field(default_factory=list)
    # step, ms, line length, sent at (storm clock), what went wrong (None: nothing)
    timeline: list[tuple[str, float, int, float, str | None]] = field(default_factory=list)
