"""Business-time arithmetic over a support `Calendar`: due dates and elapsed business hours.

Owns
  * `open_intervals`: the instants between two instants at which the desk is open, as merged
    half-open [opens, closes) intervals of aware UTC datetimes (the building block);
  * `business_time_between`, `add_business_time`, `add_business_days`;
  * the response targets per case priority (`RESPONSE_TARGET_HOURS`) and `response_due`;
  * `placing_time`: when an outbound call that is due at some instant (a follow-up) is placed,
    so that it rings while the desk is open, on its due day (issue #15 item 8).

What counts as business time. An instant is open exactly when `routing.calendar.is_open` says so:
its LOCAL wall clock in the calendar's zone falls inside one of the weekday's ranges, on a local
date that is neither a closure nor an observed holiday. Business time is the REAL elapsed time
(what a stopwatch measures, i.e. UTC difference) spent at open instants. So:
  * a range that a DST change falls into is as long as the clock says in real time: a range
    spanning a spring-forward gap is shorter by the gap (01:00-04:00 on 2026-03-08 in Chicago is
    2 business hours), one spanning a fall-back repeat is longer (the repeated hour counts twice),
    and one that opens or closes inside the repeated hour is open twice (01:30-03:00 on 2026-11-01:
    01:30-02:00 CDT and again 01:30-03:00 CST, 2 business hours, closed 01:00-01:30 CST between);
  * for the default calendar (Mon-Fri 06:00-18:00 America/Chicago) DST changes at 02:00 on a
    Sunday, outside hours, so every business day is exactly 12 real hours and a due time keeps its
    wall-clock time across a DST weekend (Fri 12:00 CST + 12 h -> Mon 12:00 CDT).

The clock: `add_business_time(start, h)` is the EARLIEST instant at which h business hours have
elapsed since `start`. The clock starts at `start` if the desk is open then, otherwise at the
next opening (after hours, weekend, holiday, closure, lunch break); with h == 0 that is the result.
A target that is reached exactly when a range closes is due AT the closing instant (4 h from
14:00 -> 18:00 the same day), never at the next opening.

All inputs must be tz-aware (naive -> ValueError); every datetime returned is aware UTC
(`datetime.timezone.utc`), whatever the input's zone: compare instants, or convert with
`.astimezone(cal.tz)` for display. This module never reads the clock.
"""

from __future__ import annotations

import heapq
import math
import numbers
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from casestore.types import Priority
from routing.calendar import Calendar, holiday_name

BUSINESS_DAY_HOURS = 12
"""One business day, in business hours (the default weekday: 06:00-18:00)."""

RESPONSE_TARGET_HOURS: Mapping[Priority, float] = MappingProxyType(
    {
        Priority.CRITICAL: 1,
        Priority.HIGH: 4,
        Priority.MEDIUM: 1 * BUSINESS_DAY_HOURS,
        Priority.LOW: 2 * BUSINESS_DAY_HOURS,
    }
)
"""Business hours from a case's creation to its response being due, per priority (read-only;
`Priority` is a str enum, so the plain values "critical", ... look up the same entries)."""

MAX_CLOSED_DAYS = 366
"""`add_business_time` gives up (LookupError) after this many local dates in a row without any
open time: the calendar has no hours, or a closure covers more than a year."""

LAST_CALL_LEAD = timedelta(minutes=15)
"""`placing_time` starts a call at least this long before the desk closes: the ring (30 s), the
PIN, the menu and a transfer to the case owner (option 2 of a follow-up) then all happen while
the desk is open."""

Interval = tuple[datetime, datetime]
"""(start, end), aware UTC, half-open: open from `start`, closed again at `end`."""

_DAY = timedelta(days=1)
# Python bounds every UTC offset strictly within +-24 h, so the instants whose local date is D
# lie within 24 h of D's wall-clock midnights read as if they were UTC.
_MAX_OFFSET = timedelta(hours=24)
# Offsets are probed at this spacing and every change is then pinned to the second. Two changes
# that cancel out within one probe step would go unseen; no time zone has ever had such a pair.
_PROBE = timedelta(hours=6)
_SECOND = timedelta(seconds=1)


# --------------------------------------------------------------------------------------------
# Open intervals
# --------------------------------------------------------------------------------------------


def _aware_utc(value: Any, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {name}={value!r}: pass a tz-aware instant")
    return value.astimezone(UTC)


def _require_calendar(cal: Any) -> Calendar:
    if not isinstance(cal, Calendar):
        raise TypeError(f"cal must be a routing.calendar.Calendar, got {cal!r}")
    return cal


def _wall(day: date, at: time) -> datetime:
    """Local wall-clock `day` `at`, spelled as a UTC datetime so that wall - offset = instant."""
    return datetime.combine(day, at, tzinfo=UTC)


def _offset(instant: datetime, tz: ZoneInfo) -> timedelta:
    offset = instant.astimezone(tz).utcoffset()
    assert offset is not None
    return offset


def _first_change(lo: datetime, hi: datetime, offset: timedelta, tz: ZoneInfo) -> datetime:
    """The whole second in (lo, hi] at which the offset stops being `offset` (lo has `offset`,
    hi does not, both whole seconds; tz data changes offsets on whole seconds)."""
    while hi - lo > _SECOND:
        mid = lo + timedelta(seconds=(hi - lo) // _SECOND // 2)
        if _offset(mid, tz) == offset:
            lo = mid
        else:
            hi = mid
    return hi


def _offset_pieces(lo: datetime, hi: datetime, tz: ZoneInfo) -> list[tuple[datetime, datetime, timedelta]]:
    """[lo, hi) cut where the zone's UTC offset changes: (piece_start, piece_end, offset)."""
    pieces: list[tuple[datetime, datetime, timedelta]] = []
    piece_start = probe = lo
    offset = _offset(lo, tz)
    while probe < hi:
        nxt = min(probe + _PROBE, hi)
        while _offset(nxt, tz) != offset:
            change = _first_change(probe, nxt, offset, tz)
            pieces.append((piece_start, change, offset))
            piece_start = probe = change
            offset = _offset(change, tz)
        probe = nxt
    pieces.append((piece_start, hi, offset))
    return pieces


@lru_cache(maxsize=4096)
def _day_intervals(day: date, cal: Calendar) -> tuple[Interval, ...]:
    """The open instants whose local date is `day`, as sorted, merged UTC intervals.

    Each range [opens, closes) is intersected with every constant-offset piece of time around
    the day: within a piece the wall clock is instant + offset, so the range is the instants
    [opens - offset, closes - offset). This is the same test `routing.calendar` applies to one
    instant, so the intervals agree with `is_open` across any DST change.
    """
    ranges = cal.hours[day.weekday()]
    if not ranges or holiday_name(day, cal) is not None:
        return ()
    window_start = _wall(day, time(0)) - _MAX_OFFSET
    pieces = _offset_pieces(window_start, _wall(day + _DAY, time(0)) + _MAX_OFFSET, cal.tz)
    found: list[Interval] = []
    for opens, closes in ranges:
        for piece_start, piece_end, offset in pieces:
            lo = max(_wall(day, opens) - offset, piece_start)
            hi = min(_wall(day, closes) - offset, piece_end)
            if lo < hi:
                found.append((lo, hi))
    return tuple(_merge(sorted(found)))


def _merge(intervals: list[Interval]) -> list[Interval]:
    """Sorted intervals with touching or overlapping neighbours joined."""
    merged: list[Interval] = []
    for lo, hi in intervals:
        if merged and lo <= merged[-1][1]:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def _iter_open(start: datetime, cal: Calendar, until: datetime | None = None) -> Iterator[Interval]:
    """Open intervals from `start` (aware UTC) on, clipped to start at `start`, in time order.

    Days are taken in local date order; since at a fall-back the wall clock can step back over
    midnight, an interval is only handed out once no later date can hold an earlier one (the
    instants of date D all come after D's midnight read as UTC, minus 24 h). Without `until` it
    runs until the caller stops, or raises LookupError after MAX_CLOSED_DAYS dates without open
    time; with `until` it stops once nothing further can start before `until`.
    """
    pending: list[Interval] = []
    day = start.astimezone(cal.tz).date() - 2 * _DAY
    closed_run = 0
    while True:
        bound = _wall(day, time(0)) - _MAX_OFFSET  # nothing of `day` or later starts before
        while pending and pending[0][0] <= bound:
            yield heapq.heappop(pending)
        if until is not None and bound >= until:
            return
        intervals = _day_intervals(day, cal)
        closed_run = 0 if intervals else closed_run + 1
        if until is None and closed_run > MAX_CLOSED_DAYS:
            raise LookupError(f"no business hours in the {MAX_CLOSED_DAYS} days up to {day.isoformat()}")
        for lo, hi in intervals:
            if hi > start:
                heapq.heappush(pending, (max(lo, start), hi))
        day += _DAY


def open_intervals(start: datetime, end: datetime, cal: Calendar) -> list[Interval]:
    """The desk's open time within [start, end): sorted, merged, half-open (opens, closes) pairs
    of aware UTC datetimes, the first and last clipped to `start` and `end`. [] when end <= start.

    Works a local date at a time (never minute by minute): a span of weeks is a few dozen days.
    """
    start, end = _aware_utc(start, "start"), _aware_utc(end, "end")
    cal = _require_calendar(cal)
    if end <= start:
        return []
    found: list[Interval] = []
    for lo, hi in _iter_open(start, cal, until=end):
        if lo >= end:
            break
        found.append((lo, min(hi, end)))
    return _merge(found)


# --------------------------------------------------------------------------------------------
# Arithmetic
# --------------------------------------------------------------------------------------------


def _hours(value: Any, name: str) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return timedelta(hours=float(value))


def business_time_between(a: datetime, b: datetime, cal: Calendar) -> timedelta:
    """Business time elapsed from instant `a` to instant `b`; timedelta(0) when b <= a."""
    return sum((hi - lo for lo, hi in open_intervals(a, b, cal)), timedelta(0))


def add_business_time(start: datetime, delta_hours: float, cal: Calendar) -> datetime:
    """The earliest instant (aware UTC) at which `delta_hours` (>= 0, fractions allowed, rounded
    to the microsecond) business hours have elapsed since `start`.

    The clock runs only while the desk is open and starts at the next opening when `start` is
    closed; a target reached exactly at a closing instant is due at that closing. Raises
    LookupError if the calendar has no open time for MAX_CLOSED_DAYS days in a row.
    """
    start = _aware_utc(start, "start")
    remaining = _hours(delta_hours, "delta_hours")
    cal = _require_calendar(cal)
    for lo, hi in _iter_open(start, cal):
        if remaining <= hi - lo:
            return lo + remaining
        remaining -= hi - lo
    raise AssertionError("unreachable: _iter_open without `until` never ends")  # pragma: no cover


def add_business_days(start: datetime, days: float, cal: Calendar) -> datetime:
    """`days` business days after `start` (aware UTC): BUSINESS_DAY_HOURS business hours each.

    A business day is a fixed amount of business time, not "the same time N open days later";
    the two agree for the default calendar, not for one whose days are shorter than 12 hours.
    """
    if isinstance(days, bool) or not isinstance(days, numbers.Real):
        raise TypeError(f"days must be a number, got {days!r}")
    return add_business_time(start, BUSINESS_DAY_HOURS * days, cal)


def response_due(created_at: datetime, priority: Priority | str, cal: Calendar) -> datetime:
    """When the response to a case created at `created_at` is due (aware UTC):
    RESPONSE_TARGET_HOURS[priority] business hours later. Unknown priority -> ValueError."""
    return add_business_time(created_at, RESPONSE_TARGET_HOURS[Priority(priority)], cal)


# --------------------------------------------------------------------------------------------
# Placing calls
# --------------------------------------------------------------------------------------------


def _latest_start(due: datetime, cal: Calendar, lead: timedelta) -> datetime | None:
    """The latest instant <= `due` at which a call may start: an open instant at least `lead`
    before its interval closes, or the opening of an interval shorter than `lead`. None when the
    desk has no open time in the MAX_CLOSED_DAYS before `due`."""
    span = timedelta(days=4)
    while True:
        window_start = due - span
        best: datetime | None = None
        clipped = False
        for lo, hi in _iter_open(window_start, cal, until=due + _SECOND):
            if lo > due:
                break
            best = min(due, max(lo, hi - lead))
            # The first interval may be cut at the window's start; its real opening is earlier,
            # which matters only when it is shorter than `lead`: look further back then.
            clipped = lo == window_start and hi - lead < lo
        if best is not None and not clipped:
            return best
        if span > (MAX_CLOSED_DAYS + 2) * _DAY:
            return best
        span *= 2


def placing_time(due: datetime, now: datetime, cal: Calendar, *, lead: timedelta = LAST_CALL_LEAD) -> datetime:
    """When to place an outbound call (a follow-up) that is due at `due`, deciding at `now`.

    On time (the usual case, `now` is when the follow-up is scheduled): the LATEST instant at or
    before `due` at which a call can start, i.e. an open instant at least `lead` before its open
    interval closes (or the opening of an interval shorter than `lead`):
      * due inside open hours, `lead` or more before closing: `due` itself;
      * due in the last `lead` before a closing, or exactly AT the closing: closing - `lead` the
        same day. Business-day arithmetic lands exactly on 18:00 whenever the clock started
        outside open hours or at 06:00 (`add_business_time` is due at the closing instant, and
        [06:00, 18:00) is closed at 18:00), and a call placed then would wait for the next
        opening, a business day late. Not "the last open moment" (17:59:59.999999) either: that
        call would ring, and its contact press 2 for an advisor, after closing. `lead` (15 min)
        of the due day's business time is the price of reaching the contact on the due day,
        while someone can still take the transfer;
      * due while closed (not a business-arithmetic result: a weekend, a holiday, a closure,
        after hours): the last such instant before it, e.g. the previous business day's 17:45.
    So the call is never placed after its due day, and always while the desk is open.

    Late (that instant is already before `now`, e.g. a timer that fired after closing, or the
    sweep running a lost one): `now` if the desk is open, else the next opening; a late call
    goes out as soon as someone can answer for the desk, not a full business day later.

    The result is aware UTC. `lead` must be a positive timedelta. Raises LookupError only if the
    calendar has no open time for MAX_CLOSED_DAYS days in a row after `now`.
    """
    due, now = _aware_utc(due, "due"), _aware_utc(now, "now")
    cal = _require_calendar(cal)
    if not isinstance(lead, timedelta) or lead <= timedelta(0):
        raise ValueError(f"lead must be a positive timedelta, got {lead!r}")
    latest = _latest_start(due, cal, lead)
    if latest is not None and latest >= now:
        return latest
    for lo, _hi in _iter_open(now, cal):
        return lo  # `now` itself when open (_iter_open clips to its start), else the next opening
    raise AssertionError("unreachable: _iter_open without `until` never ends")  # pragma: no cover
