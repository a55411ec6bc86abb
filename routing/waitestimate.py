"""The expected wait a caller in the line is told: a pure estimate from the line's live facts.

What it owns. "How long until the caller at place k is answered", from data handed in (`WaitFacts`)
and `now`; it reads no clock, Redis or database (`ivr.flow.waits` gathers the facts).

The rule. The caller at place k is answered at the k-th time an advisor who could take them comes
free. Three sources for when that is, the first that has enough data wins:

1. The live departures rate: callers who left the line for an advisor in the last
   `DEPARTURE_WINDOW_SECONDS` (those competing with this caller: same skill, or general calls).
   The rate is their count over the time since the oldest, and the wait is k / rate; it is
   trusted once there are at least `MIN_DEPARTURES` and they span at least one handle time
   (at least `MIN_SPAN_SECONDS`, at most half the window): over a handle time every advisor comes free
   about once, so the count is the desk's capacity, whereas the first few departures of a surge
   come in a burst (the advisors all took their calls at once) and would read as a rate many
   times too high. This is what the desk actually does right now, ringing and whisper included,
   which neither the call-log average (talk and wrap-up only) nor a default can say. While the
   line is short, departures are limited by arrivals rather than by advisors, so the rate reads
   low and the estimate errs long, and only while the wait is short anyway.
2. The advisors' releases, elapsed-time aware: each available advisor frees now, each wrapping-up
   advisor at their wrap-up's end, each advisor on a call at `handle - elapsed` (at least
   `RESIDUAL_SHARE` x handle: one past the average is still expected to finish soon, not at once),
   and every advisor takes a next caller and frees again `handle` later; the k-th of those times.
   An advisor four minutes into a five-minute call frees in one, so the first callers of a surge
   are not told a whole handle time each. `handle` is the recent average handle time (talk +
   wrap-up of recent connected calls) when there is history, else the configured default
   (`EXPECTED_HANDLE_SECONDS`, `WaitFacts.default_handle_seconds`).
3. With nobody staffed there is no honest estimate: None.

Why not Erlang C. Erlang C gives the *distribution* of waits for a *new* arrival in a steady state
from the arrival rate and the mean handle time; at the start of a surge there is no steady state
and no handle-time history, and a caller already in line at place k wants their own k-th release,
which the two rules above give directly from what is observable.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from datetime import datetime

DEFAULT_HANDLE_SECONDS = 300.0
DEPARTURE_WINDOW_SECONDS = 600.0
MIN_DEPARTURES = 5
MIN_SPAN_SECONDS = 10.0
RESIDUAL_SHARE = 0.2


@dataclass(frozen=True)
class WaitFacts:
    """What the estimate needs, as seen at one instant. Times are epoch seconds."""

    position: int  # 1-based place among the callers competing for the same advisors
    staffed: int  # eligible advisors signed in (available, on a call, wrapping up)
    free: int = 0  # of those, available now
    call_started: tuple[float, ...] = ()  # per advisor on a call: when it began (reserved)
    wrap_until: tuple[float, ...] = ()  # per advisor wrapping up: when it ends
    departures: tuple[float, ...] = ()  # competing callers who left the line for an advisor
    handle_seconds: float | None = None  # recent average talk + wrap-up; None: no history
    default_handle_seconds: float = DEFAULT_HANDLE_SECONDS


def departure_rate(departures: tuple[float, ...], now_ts: float, handle: float) -> float | None:
    """Callers per second leaving the line for an advisor over the recent window; None when fewer
    than MIN_DEPARTURES or spanning less than one `handle` time (too little to say)."""
    recent = [t for t in departures if now_ts - DEPARTURE_WINDOW_SECONDS <= t <= now_ts]
    if len(recent) < MIN_DEPARTURES:
        return None
    span = now_ts - min(recent)
    if span < max(MIN_SPAN_SECONDS, min(handle, DEPARTURE_WINDOW_SECONDS / 2)):
        return None
    return len(recent) / span


def kth_release(facts: WaitFacts, now_ts: float, handle: float) -> float:
    """Seconds from now until the `facts.position`-th advisor release (see the module's rule 2)."""
    floor = RESIDUAL_SHARE * handle
    frees = [0.0] * max(0, facts.free)
    frees += [max(started + handle - now_ts, floor) for started in facts.call_started]
    frees += [max(until - now_ts, 0.0) for until in facts.wrap_until]
    frees += [handle] * max(0, facts.staffed - len(frees))  # signed in, state not known in detail
    frees = sorted(frees)[: max(facts.staffed, 1)]
    heapq.heapify(frees)
    at = 0.0
    for _ in range(facts.position):
        at = heapq.heappop(frees)
        heapq.heappush(frees, at + handle)
    return at


def expected_wait(facts: WaitFacts, now: datetime) -> float | None:
    """Whole seconds until the caller at `facts.position` is likely answered (0 for a caller not
    behind anyone); None when nobody who could take the call is signed in."""
    if facts.position <= 0:
        return 0.0
    if facts.staffed <= 0:
        return None
    now_ts = now.timestamp()
    handle = max(facts.handle_seconds if facts.handle_seconds else facts.default_handle_seconds, 1.0)
    rate = departure_rate(facts.departures, now_ts, handle)
    if rate is not None:
        return float(math.ceil(facts.position / rate))
    return float(math.ceil(kth_release(facts, now_ts, handle)))
