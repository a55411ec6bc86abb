"""routing.businesstime: open intervals, adding and measuring business time, response due times."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from casestore.types import Priority
from routing.businesstime import (
    BUSINESS_DAY_HOURS,
    LAST_CALL_LEAD,
    MAX_CLOSED_DAYS,
    RESPONSE_TARGET_HOURS,
    add_business_days,
    add_business_time,
    business_time_between,
    open_intervals,
    placing_time,
    response_due,
)
from routing.calendar import ALL_RULES, Calendar, WeeklyHours, default_calendar, is_open, status_at

CHI = ZoneInfo("America/Chicago")
UTC = UTC
D = date
H = timedelta(hours=1)
MIN = timedelta(minutes=1)
US = timedelta(microseconds=1)


def chi(*args) -> datetime:
    return datetime(*args, tzinfo=CHI)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# Calendars. DEFAULT: Mon-Fri 06:00-18:00 America/Chicago, the nine holidays.
# ---------------------------------------------------------------------------------------------
DEFAULT = default_calendar()
# The default week plus two one-off closures: a Wednesday offsite and New Year's Eve 2026.
CLOSURES = Calendar(
    CHI, DEFAULT.hours, ALL_RULES, {D(2026, 11, 18): "Company offsite", D(2026, 12, 31): "Year-end inventory"}
)
# Two ranges a weekday (a lunch break) and a Saturday morning; closed the Saturday after
# Thanksgiving. 9.5 business hours Mon-Fri (5 + 4.5), 3 on Saturdays.
SPLIT = Calendar(
    CHI,
    WeeklyHours.from_mapping(
        {d: [(time(7), time(12)), (time(13), time(17, 30))] for d in range(5)} | {5: [(time(9), time(12))]}
    ),
    ALL_RULES,
    {D(2026, 11, 28): "Saturday maintenance"},
)
# Sunday night shifts straddling Chicago's DST changes (02:00 local): 135 min on a plain Sunday.
NIGHT = Calendar(
    CHI, WeeklyHours.from_mapping({6: [(time(0, 30), time(1, 15)), (time(1, 30), time(3))]}), frozenset(), {}
)
# Lord Howe Island moves its clocks by 30 minutes, at 02:00 local.
LORD_HOWE = Calendar(
    ZoneInfo("Australia/Lord_Howe"), WeeklyHours.from_mapping({6: [(time(1), time(3))]}), frozenset(), {}
)
# Chile changes clocks at local midnight (Sat 24:00 -> Sat 23:00 / Sun 01:00).
SANTIAGO = Calendar(
    ZoneInfo("America/Santiago"),
    WeeklyHours.from_mapping(
        {d: [(time(8), time(17))] for d in range(5)} | {5: [(time(22), time(23, 59))], 6: [(time(0), time(2))]}
    ),
    frozenset(),
    {},
)
# No hours at all.
NEVER = Calendar(CHI, WeeklyHours.from_mapping({}), frozenset(), {})


# ---------------------------------------------------------------------------------------------
# add_business_time
# ---------------------------------------------------------------------------------------------
ADD_CASES = [
    # Friday 20:00 (after hours): the clock starts Monday 06:00, one hour later is 07:00.
    (DEFAULT, chi(2026, 11, 20, 20), 1, chi(2026, 11, 23, 7)),
    # Zero hours from Friday evening: the instant the clock starts, Monday's opening.
    (DEFAULT, chi(2026, 11, 20, 20), 0, chi(2026, 11, 23, 6)),
    # Saturday noon (weekend): Monday 06:00 + 2 h.
    (DEFAULT, chi(2026, 11, 21, 12), 2, chi(2026, 11, 23, 8)),
    # Monday 05:00 (before hours): the same day's opening + 1 h.
    (DEFAULT, chi(2026, 11, 23, 5), 1, chi(2026, 11, 23, 7)),
    # Monday 14:00 + 4 h ends exactly at closing: due 18:00 that day, not Tuesday 06:00.
    (DEFAULT, chi(2026, 11, 16, 14), 4, chi(2026, 11, 16, 18)),
    # Monday 14:00 + 4 h and one second: the last second runs Tuesday from 06:00.
    (DEFAULT, chi(2026, 11, 16, 14), 4 + 1 / 3600, chi(2026, 11, 17, 6, 0, 1)),
    # Start exactly at opening + a whole day: due at that day's closing.
    (DEFAULT, chi(2026, 11, 16, 6), 12, chi(2026, 11, 16, 18)),
    # Start exactly at opening + 0: open at once, due at the start itself.
    (DEFAULT, chi(2026, 11, 16, 6), 0, chi(2026, 11, 16, 6)),
    # Start exactly at closing (closed: ranges are half-open): the clock starts Tuesday 06:00.
    (DEFAULT, chi(2026, 11, 16, 18), 1, chi(2026, 11, 17, 7)),
    # Start exactly at closing + 0: Tuesday's opening.
    (DEFAULT, chi(2026, 11, 16, 18), 0, chi(2026, 11, 17, 6)),
    # The last open second + one second: due at closing.
    (DEFAULT, chi(2026, 11, 16, 17, 59, 59), 1 / 3600, chi(2026, 11, 16, 18)),
    # Fractional hours: 10:00 + 2.5 h.
    (DEFAULT, chi(2026, 11, 16, 10), 2.5, chi(2026, 11, 16, 12, 30)),
    # Friday 16:00 + 4 h: 2 h Friday, 2 h Monday.
    (DEFAULT, chi(2026, 11, 20, 16), 4, chi(2026, 11, 23, 8)),
    # Wednesday before Thanksgiving 16:00 + 4 h: 2 h Wed; Thanksgiving, the day after and the
    # weekend are closed; 2 h Monday Nov 30.
    (DEFAULT, chi(2026, 11, 25, 16), 4, chi(2026, 11, 30, 8)),
    # Starting on Thanksgiving: the clock starts Monday Nov 30 06:00.
    (DEFAULT, chi(2026, 11, 26, 10), 1, chi(2026, 11, 30, 7)),
    # Starting on the day after Thanksgiving + a whole day: Monday's closing.
    (DEFAULT, chi(2026, 11, 27, 9), 12, chi(2026, 11, 30, 18)),
    # New Year's Day 2022 (Sat) observed Fri Dec 31 2021: Thu 12:00 + 12 h -> Mon Jan 3 12:00.
    (DEFAULT, chi(2021, 12, 30, 12), 12, chi(2022, 1, 3, 12)),
    # 10 business days from Fri Dec 18 2026 10:00 over Christmas: 8 h Fri 18; Mon 21-Wed 23;
    # Dec 24-25 holidays; Mon 28-Thu 31; Jan 1 holiday; Mon 4, Tue 5; 4 h Wed Jan 6.
    (DEFAULT, chi(2026, 12, 18, 10), 120, chi(2027, 1, 6, 10)),
    # Spring-forward weekend (Sun Mar 8 2026): Fri 12:00 CST + 12 h -> Mon 12:00 CDT (17:00 UTC).
    (DEFAULT, chi(2026, 3, 6, 12), 12, utc(2026, 3, 9, 17)),
    # Five business days across spring forward keep the wall-clock time: Wed 09:00 CST -> Wed
    # 09:00 CDT (14:00 UTC, an hour earlier in UTC than the start's 15:00).
    (DEFAULT, chi(2026, 3, 4, 9), 60, utc(2026, 3, 11, 14)),
    # The spring-forward instant itself (Sun 08:00 UTC): Monday 06:00 CDT + 1 h.
    (DEFAULT, utc(2026, 3, 8, 8), 1, utc(2026, 3, 9, 12)),
    # Fall-back weekend (Sun Nov 1 2026): Fri 12:00 CDT + 12 h -> Mon 12:00 CST (18:00 UTC).
    (DEFAULT, chi(2026, 10, 30, 12), 12, utc(2026, 11, 2, 18)),
    # The second 01:30 of Nov 1 (CST, 07:30 UTC): Monday 06:00 CST + 1 h = 13:00 UTC.
    (DEFAULT, utc(2026, 11, 1, 7, 30), 1, utc(2026, 11, 2, 13)),
    # Start given in UTC: Sat 02:00 UTC is Fri 20:00 CST.
    (DEFAULT, utc(2026, 11, 21, 2), 1, chi(2026, 11, 23, 7)),
    # Start given in Tokyo time: Sat 11:00 JST is Fri 20:00 CST.
    (DEFAULT, datetime(2026, 11, 21, 11, tzinfo=ZoneInfo("Asia/Tokyo")), 1, chi(2026, 11, 23, 7)),
    # Closure on Wednesday: Tue 16:00 + 4 h -> 2 h Tue, 2 h Thursday.
    (CLOSURES, chi(2026, 11, 17, 16), 4, chi(2026, 11, 19, 8)),
    # Starting on the closure day: the clock starts Thursday 06:00.
    (CLOSURES, chi(2026, 11, 18, 9), 0, chi(2026, 11, 19, 6)),
    # 10 business days over Christmas with Dec 31 closed too: one day later than DEFAULT's.
    (CLOSURES, chi(2026, 12, 18, 10), 120, chi(2027, 1, 7, 10)),
    # Two ranges a day: 11:00 + 1 h is due at the morning closing, 12:00, not after lunch.
    (SPLIT, chi(2026, 11, 16, 11), 1, chi(2026, 11, 16, 12)),
    # 11:00 + 2 h: 1 h before lunch, 1 h after: 14:00.
    (SPLIT, chi(2026, 11, 16, 11), 2, chi(2026, 11, 16, 14)),
    # Starting during lunch: the clock starts 13:00.
    (SPLIT, chi(2026, 11, 16, 12, 30), 0.5, chi(2026, 11, 16, 13, 30)),
    # Starting exactly at the lunch closing + 0: the afternoon opening.
    (SPLIT, chi(2026, 11, 16, 12), 0, chi(2026, 11, 16, 13)),
    # 17:00 + 1 h: 30 min Monday, 30 min Tuesday from 07:00.
    (SPLIT, chi(2026, 11, 16, 17), 1, chi(2026, 11, 17, 7, 30)),
    # One business day (12 h) from opening: 9.5 h Monday, 2.5 h Tuesday.
    (SPLIT, chi(2026, 11, 16, 7), 12, chi(2026, 11, 17, 9, 30)),
    # Friday 17:00 + 1 h: 30 min Friday, 30 min Saturday morning.
    (SPLIT, chi(2026, 11, 20, 17), 1, chi(2026, 11, 21, 9, 30)),
    # Friday 17:00 + 4 h: 30 min Friday, 3 h Saturday, 30 min Monday.
    (SPLIT, chi(2026, 11, 20, 17), 4, chi(2026, 11, 23, 7, 30)),
    # Wed before Thanksgiving 17:00 + 1 h: Thu/Fri holidays, Saturday closure -> Mon 07:30.
    (SPLIT, chi(2026, 11, 25, 17), 1, chi(2026, 11, 30, 7, 30)),
    # Saturday at its 12:00 closing + 0: Monday 07:00.
    (SPLIT, chi(2026, 11, 21, 12), 0, chi(2026, 11, 23, 7)),
    # Spring-forward Sunday: 45 min (00:30-01:15 CST) + 15 min from 01:30 CST -> 01:45 CST.
    (NIGHT, chi(2026, 3, 7, 23), 1, utc(2026, 3, 8, 7, 45)),
    # ...75 min is all of it: 01:30-02:00 CST, then the jump to 03:00 CDT closes the range.
    (NIGHT, chi(2026, 3, 7, 23), 1.25, utc(2026, 3, 8, 8)),
    # ...90 min: the rest runs the next Sunday from 00:30 CDT (05:30 UTC).
    (NIGHT, chi(2026, 3, 7, 23), 1.5, utc(2026, 3, 15, 5, 45)),
    # Fall-back Sunday: 00:30-01:15 CDT (45 min), 01:30-02:00 CDT joined to the repeated
    # 01:00-01:15 CST (45 min): 90 min are due at the second 01:15 (07:15 UTC).
    (NIGHT, chi(2026, 10, 31, 23), 1.5, utc(2026, 11, 1, 7, 15)),
    # ...closed 01:15-01:30 CST, open again 01:30 CST (07:30 UTC): 2 h -> 02:00 CST.
    (NIGHT, chi(2026, 10, 31, 23), 2, utc(2026, 11, 1, 8)),
    # ...3 h is the whole fall-back night, due at 03:00 CST (09:00 UTC).
    (NIGHT, chi(2026, 10, 31, 23), 3, utc(2026, 11, 1, 9)),
]


@pytest.mark.parametrize(("cal", "start", "hours", "due"), ADD_CASES)
def test_add_business_time(cal, start, hours, due):
    got = add_business_time(start, hours, cal)
    assert got.tzinfo is UTC
    assert got == due, (got.astimezone(cal.tz), due.astimezone(cal.tz))
    assert business_time_between(start, got, cal) == timedelta(hours=hours)


def test_add_business_days():
    # One business day is BUSINESS_DAY_HOURS business hours: the same as add_business_time.
    assert BUSINESS_DAY_HOURS == 12
    start = chi(2026, 12, 18, 10)
    assert add_business_days(start, 10, DEFAULT) == chi(2027, 1, 6, 10)
    assert add_business_days(start, 0.5, DEFAULT) == chi(2026, 12, 18, 16)
    assert add_business_days(start, 0, DEFAULT) == start
    # On the split calendar (9.5 h days) a business day runs into the next day.
    assert add_business_days(chi(2026, 11, 16, 7), 1, SPLIT) == chi(2026, 11, 17, 9, 30)
    with pytest.raises(ValueError):
        add_business_days(start, -1, DEFAULT)
    with pytest.raises(TypeError):
        add_business_days(start, "1", DEFAULT)  # type: ignore[arg-type]


def test_add_refuses_bad_input():
    with pytest.raises(ValueError, match="naive"):
        add_business_time(datetime(2026, 11, 16, 10), 1, DEFAULT)  # noqa: DTZ001
    with pytest.raises(ValueError, match=">= 0"):
        add_business_time(chi(2026, 11, 16, 10), -1, DEFAULT)
    with pytest.raises(ValueError, match="finite"):
        add_business_time(chi(2026, 11, 16, 10), float("nan"), DEFAULT)
    with pytest.raises(ValueError, match="finite"):
        add_business_time(chi(2026, 11, 16, 10), float("inf"), DEFAULT)
    with pytest.raises(TypeError):
        add_business_time(chi(2026, 11, 16, 10), True, DEFAULT)
    with pytest.raises(TypeError):
        add_business_time(chi(2026, 11, 16, 10), 1, "America/Chicago")  # type: ignore[arg-type]


def test_add_without_any_hours_gives_up():
    with pytest.raises(LookupError, match=f"{MAX_CLOSED_DAYS} days"):
        add_business_time(chi(2026, 11, 16, 10), 1, NEVER)
    # ...but measuring on it is fine: nothing is open.
    assert business_time_between(chi(2026, 1, 1), chi(2030, 1, 1), NEVER) == timedelta(0)
    assert open_intervals(chi(2026, 1, 1), chi(2030, 1, 1), NEVER) == []


# ---------------------------------------------------------------------------------------------
# business_time_between
# ---------------------------------------------------------------------------------------------
BETWEEN_CASES = [
    # Friday 17:00 to Monday 07:00: 1 h Friday, 1 h Monday.
    (DEFAULT, chi(2026, 11, 20, 17), chi(2026, 11, 23, 7), 2 * H),
    # Opening to closing: a whole day.
    (DEFAULT, chi(2026, 11, 16, 6), chi(2026, 11, 16, 18), 12 * H),
    # b == a: nothing.
    (DEFAULT, chi(2026, 11, 16, 10), chi(2026, 11, 16, 10), timedelta(0)),
    # b before a: nothing (never negative).
    (DEFAULT, chi(2026, 11, 16, 12), chi(2026, 11, 16, 10), timedelta(0)),
    # Saturday to Sunday: nothing.
    (DEFAULT, chi(2026, 11, 21, 0), chi(2026, 11, 23, 0), timedelta(0)),
    # Wednesday noon to Monday noon over Thanksgiving and the day after: 6 h + 6 h.
    (DEFAULT, chi(2026, 11, 25, 12), chi(2026, 11, 30, 12), 12 * H),
    # Across spring forward, Fri 12:00 CST to Mon 12:00 CDT: 12 h (the lost hour is Sunday 02:00).
    (DEFAULT, chi(2026, 3, 6, 12), chi(2026, 3, 9, 12), 12 * H),
    # Across fall back, Fri 12:00 CDT to Mon 12:00 CST: 12 h.
    (DEFAULT, chi(2026, 10, 30, 12), chi(2026, 11, 2, 12), 12 * H),
    # Over Christmas and New Year: the 10 business days of ADD_CASES.
    (DEFAULT, chi(2026, 12, 18, 10), chi(2027, 1, 6, 10), 120 * H),
    # All of 2026: 261 weekdays less the 9 observed holidays (all on weekdays), 12 h each.
    (DEFAULT, chi(2026, 1, 1), chi(2027, 1, 1), 252 * 12 * H),
    # The offsite closure week: Mon, Tue, Thu, Fri.
    (CLOSURES, chi(2026, 11, 16), chi(2026, 11, 23), 48 * H),
    # A split-hours Monday: 5 h + 4.5 h, plus nothing at lunch.
    (SPLIT, chi(2026, 11, 16), chi(2026, 11, 17), timedelta(hours=9.5)),
    # A plain Sunday night: 45 + 90 min.
    (NIGHT, chi(2026, 3, 1), chi(2026, 3, 2), timedelta(minutes=135)),
    # Spring-forward night: 45 min + 01:30-02:00 CST (the clock skips 02:00-03:00).
    (NIGHT, chi(2026, 3, 8), chi(2026, 3, 9), timedelta(minutes=75)),
    # Fall-back night: 45 + 30 min CDT, then the repeated 01:00-01:15 and 01:30-03:00 CST.
    (NIGHT, chi(2026, 11, 1), chi(2026, 11, 2), timedelta(minutes=180)),
    # Lord Howe spring forward (Oct 4 2026, 02:00 -> 02:30): 01:00-03:00 is 1.5 real hours.
    (LORD_HOWE, utc(2026, 10, 3, 12), utc(2026, 10, 4, 12), timedelta(hours=1.5)),
    # Lord Howe fall back (Apr 5 2026, 02:00 -> 01:30): 2.5 real hours.
    (LORD_HOWE, utc(2026, 4, 4, 12), utc(2026, 4, 5, 12), timedelta(hours=2.5)),
    # Santiago fall back at midnight (Sat Apr 4 2026, 24:00 -> 23:00): Sat 22:00-23:59 runs
    # 1 h 59 min, then 23:00-23:59 again (59 min); Sunday 00:00-02:00 is 2 h.
    (SANTIAGO, utc(2026, 4, 4, 12), utc(2026, 4, 5, 12), timedelta(hours=4, minutes=58)),
    # Santiago spring forward at midnight (Sat Sep 5 2026, 24:00 -> Sun 01:00): Sunday 00:00-01:00
    # never happens, so Sunday's range is 1 h.
    (SANTIAGO, utc(2026, 9, 5, 12), utc(2026, 9, 6, 12), timedelta(hours=2, minutes=59)),
]


@pytest.mark.parametrize(("cal", "a", "b", "elapsed"), BETWEEN_CASES)
def test_business_time_between(cal, a, b, elapsed):
    assert business_time_between(a, b, cal) == elapsed


def test_between_refuses_naive():
    with pytest.raises(ValueError, match="naive"):
        business_time_between(chi(2026, 11, 16, 10), datetime(2026, 11, 17), DEFAULT)  # noqa: DTZ001


# ---------------------------------------------------------------------------------------------
# open_intervals
# ---------------------------------------------------------------------------------------------
def test_open_intervals_for_a_week_with_a_closure():
    got = open_intervals(chi(2026, 11, 16), chi(2026, 11, 23), CLOSURES)
    # 06:00-18:00 CST is 12:00-24:00 UTC; Wednesday Nov 18 is closed.
    assert got == [
        (utc(2026, 11, 16, 12), utc(2026, 11, 17, 0)),
        (utc(2026, 11, 17, 12), utc(2026, 11, 18, 0)),
        (utc(2026, 11, 19, 12), utc(2026, 11, 20, 0)),
        (utc(2026, 11, 20, 12), utc(2026, 11, 21, 0)),
    ]
    assert all(lo.tzinfo is UTC and hi.tzinfo is UTC for lo, hi in got)


def test_open_intervals_are_clipped_and_merged():
    # Clipped to the span asked for.
    assert open_intervals(chi(2026, 11, 16, 10), chi(2026, 11, 17, 7), DEFAULT) == [
        (chi(2026, 11, 16, 10), chi(2026, 11, 16, 18)),
        (chi(2026, 11, 17, 6), chi(2026, 11, 17, 7)),
    ]
    # A lunch break keeps two intervals.
    assert open_intervals(chi(2026, 11, 16), chi(2026, 11, 17), SPLIT) == [
        (chi(2026, 11, 16, 7), chi(2026, 11, 16, 12)),
        (chi(2026, 11, 16, 13), chi(2026, 11, 16, 17, 30)),
    ]
    # Ranges that touch (06:00-12:00, 12:00-18:00) are one interval.
    touching = Calendar(
        CHI, WeeklyHours.from_mapping({0: [(time(6), time(12)), (time(12), time(18))]}), frozenset(), {}
    )
    assert open_intervals(chi(2026, 11, 16), chi(2026, 11, 17), touching) == [
        (chi(2026, 11, 16, 6), chi(2026, 11, 16, 18))
    ]
    # Nothing when end <= start, or inside a closed stretch.
    assert open_intervals(chi(2026, 11, 17), chi(2026, 11, 16), DEFAULT) == []
    assert open_intervals(chi(2026, 11, 21), chi(2026, 11, 22), DEFAULT) == []
    with pytest.raises(ValueError, match="naive"):
        open_intervals(datetime(2026, 11, 16), chi(2026, 11, 17), DEFAULT)  # noqa: DTZ001


def test_open_intervals_on_the_fall_back_night():
    # Range 01:30-03:00 opens inside the repeated hour: open 01:30-02:00 CDT, closed while the
    # clock reads 01:00-01:30 CST, open again 01:30 CST; range 00:30-01:15 is open again for the
    # repeated 01:00-01:15 CST, right when the other range's first part closes (joined).
    got = open_intervals(chi(2026, 10, 31, 12), chi(2026, 11, 2), NIGHT)
    assert got == [
        (utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 15)),
        (utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 7, 15)),
        (utc(2026, 11, 1, 7, 30), utc(2026, 11, 1, 9)),
    ]
    for lo, hi in got:
        assert is_open(lo, NIGHT) and is_open(hi - US, NIGHT) and not is_open(hi, NIGHT)


def test_open_intervals_over_months_is_one_interval_per_open_day():
    got = open_intervals(chi(2026, 1, 1), chi(2027, 1, 1), DEFAULT)
    assert len(got) == 252
    assert all(hi - lo == 12 * H for lo, hi in got)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(got))


# ---------------------------------------------------------------------------------------------
# response_due
# ---------------------------------------------------------------------------------------------
RESPONSE_CASES = [
    # Monday 10:00, critical: 1 business hour.
    (chi(2026, 11, 16, 10), Priority.CRITICAL, chi(2026, 11, 16, 11)),
    # Monday 10:00, high: 4 business hours.
    (chi(2026, 11, 16, 10), Priority.HIGH, chi(2026, 11, 16, 14)),
    # Monday 10:00, medium: 1 business day = the same time Tuesday.
    (chi(2026, 11, 16, 10), Priority.MEDIUM, chi(2026, 11, 17, 10)),
    # Monday 10:00, low: 2 business days = the same time Wednesday.
    (chi(2026, 11, 16, 10), Priority.LOW, chi(2026, 11, 18, 10)),
    # Friday 17:30, critical: 30 min Friday, 30 min Monday.
    (chi(2026, 11, 20, 17, 30), Priority.CRITICAL, chi(2026, 11, 23, 6, 30)),
    # Friday 17:30, high: Monday 09:30.
    (chi(2026, 11, 20, 17, 30), Priority.HIGH, chi(2026, 11, 23, 9, 30)),
    # Friday 17:30, medium: Monday 17:30.
    (chi(2026, 11, 20, 17, 30), Priority.MEDIUM, chi(2026, 11, 23, 17, 30)),
    # Friday 17:30, low: Tuesday 17:30.
    (chi(2026, 11, 20, 17, 30), Priority.LOW, chi(2026, 11, 24, 17, 30)),
    # Wednesday before Thanksgiving 15:00, critical: 16:00 the same day.
    (chi(2026, 11, 25, 15), Priority.CRITICAL, chi(2026, 11, 25, 16)),
    # ...high: 3 h Wednesday, 1 h Monday after the long weekend.
    (chi(2026, 11, 25, 15), Priority.HIGH, chi(2026, 11, 30, 7)),
    # ...medium: 3 h Wednesday, 9 h Monday.
    (chi(2026, 11, 25, 15), Priority.MEDIUM, chi(2026, 11, 30, 15)),
    # ...low, given as the plain string value: Tuesday Dec 1 15:00.
    (chi(2026, 11, 25, 15), "low", chi(2026, 12, 1, 15)),
    # Saturday, critical (string value): Monday 07:00.
    (chi(2026, 11, 21, 9), "critical", chi(2026, 11, 23, 7)),
    # Created in UTC, Mon 16:00 UTC = 10:00 CST, high: 14:00 CST.
    (utc(2026, 11, 16, 16), Priority.HIGH, chi(2026, 11, 16, 14)),
]


@pytest.mark.parametrize(("created", "priority", "due"), RESPONSE_CASES)
def test_response_due(created, priority, due):
    got = response_due(created, priority, DEFAULT)
    assert got == due and got.tzinfo is UTC


def test_response_targets():
    assert set(RESPONSE_TARGET_HOURS) == set(Priority)
    assert dict(RESPONSE_TARGET_HOURS) == {
        Priority.CRITICAL: 1,
        Priority.HIGH: 4,
        Priority.MEDIUM: 12,
        Priority.LOW: 24,
    }
    assert RESPONSE_TARGET_HOURS["medium"] == BUSINESS_DAY_HOURS
    with pytest.raises(TypeError):
        RESPONSE_TARGET_HOURS[Priority.LOW] = 1  # type: ignore[index]
    with pytest.raises(ValueError):
        response_due(chi(2026, 11, 16, 10), "urgent", DEFAULT)
    with pytest.raises(ValueError, match="naive"):
        response_due(datetime(2026, 11, 16, 10), Priority.LOW, DEFAULT)  # noqa: DTZ001


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------
CALENDARS = [DEFAULT, CLOSURES, SPLIT, NIGHT, LORD_HOWE, SANTIAGO]
ZONES = [UTC, CHI, ZoneInfo("Asia/Tokyo"), timezone(timedelta(hours=-9, minutes=-30))]
# DST changes of the calendars' zones, where the arithmetic is most likely to slip.
DST_CHANGES = [
    utc(2026, 3, 8, 8),  # Chicago spring forward
    utc(2026, 11, 1, 7),  # Chicago fall back
    utc(2026, 4, 4, 15),  # Lord Howe fall back
    utc(2026, 10, 3, 15, 30),  # Lord Howe spring forward
    utc(2026, 4, 5, 3),  # Santiago fall back
    utc(2026, 9, 6, 4),  # Santiago spring forward
]

random_instants = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001
    max_value=datetime(2035, 12, 31, 23, 59, 59),  # noqa: DTZ001
    timezones=st.sampled_from(ZONES),
)
near_dst = st.builds(
    lambda change, minutes: change + minutes * MIN,
    st.sampled_from(DST_CHANGES),
    st.integers(min_value=-4 * 1440, max_value=4 * 1440),
)
instants = st.one_of(random_instants, near_dst)
# Up to about a month of the default calendar; microsecond-free so timedelta(hours=h) is exact.
hours = st.integers(min_value=0, max_value=400 * 3600).map(lambda s: s / 3600)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CALENDARS), instants, hours)
@example(DEFAULT, chi(2026, 11, 16, 14), 4.0)
@example(DEFAULT, chi(2026, 11, 20, 20), 0.0)
@example(NIGHT, chi(2026, 10, 31, 23), 1.5)
def test_add_then_measure_round_trips(cal, a, h):
    due = add_business_time(a, h, cal)
    # between(a, add(a, h)) == h, exactly (to the microsecond, so certainly to the second).
    assert business_time_between(a, due, cal) == timedelta(hours=h)
    assert due >= a and due.tzinfo is UTC
    # The result is open, or (h > 0) at the closing edge of an open interval.
    assert is_open(due, cal) or (h > 0 and is_open(due - US, cal))
    if h > 0:
        # ...and it is the earliest such instant: a moment earlier, h has not yet elapsed.
        assert business_time_between(a, due - US, cal) < timedelta(hours=h)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(CALENDARS), instants, hours, hours)
def test_add_is_monotonic_in_hours(cal, a, h1, h2):
    lo, hi = sorted((h1, h2))
    assert add_business_time(a, lo, cal) <= add_business_time(a, hi, cal)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(CALENDARS),
    instants,
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
)
def test_between_is_additive(cal, a, ab, bc):
    b, c = a + ab, a + ab + bc
    assert business_time_between(a, c, cal) == business_time_between(a, b, cal) + business_time_between(b, c, cal)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(CALENDARS),
    st.one_of(random_instants, near_dst).map(lambda t: t.astimezone(UTC).replace(second=0, microsecond=0)),
    st.integers(min_value=0, max_value=3 * 1440),
)
@example(NIGHT, utc(2026, 11, 1, 4), 360)
@example(SANTIAGO, utc(2026, 4, 4, 23), 480)
@example(LORD_HOWE, utc(2026, 10, 3, 13), 240)
def test_between_matches_minute_by_minute_count(cal, a, minutes):
    # Every boundary here is on a whole minute, so counting open minutes with
    # routing.calendar.is_open is an independent, exact measure.
    expected = sum(is_open(a + m * MIN, cal) for m in range(minutes)) * MIN
    assert business_time_between(a, a + minutes * MIN, cal) == expected
    intervals = open_intervals(a, a + minutes * MIN, cal)
    for lo, hi in intervals:
        assert a <= lo < hi <= a + minutes * MIN
        assert is_open(lo, cal) and is_open(hi - US, cal)
    assert all(x[1] < y[0] for x, y in itertools.pairwise(intervals))  # sorted, merged


# ---------------------------------------------------------------------------------------------
# placing_time (issue #15 item 8): when a call due at an instant is placed
# ---------------------------------------------------------------------------------------------
# (calendar, resolved at, business days, placed at). The due time is add_business_days(resolved,
# days); a resolve outside open hours (or at 06:00) makes it exactly 18:00, the closing instant.
FOLLOWUP_CASES = [
    pytest.param(
        DEFAULT,
        chi(2026, 11, 17, 19, 30),
        1,
        chi(2026, 11, 18, 17, 45),
        id="the issue: Tue 19:30 + 1 day is due Wed 18:00, placed Wed 17:45 (was Thu 06:00)",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 11, 17, 6),
        1,
        chi(2026, 11, 17, 17, 45),
        id="resolved at 06:00: due 18:00 the same day, placed 17:45",
    ),
    pytest.param(
        DEFAULT, chi(2026, 11, 17, 9), 1, chi(2026, 11, 18, 9), id="resolved in hours: placed at the due time itself"
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 11, 17, 17, 50),
        1,
        chi(2026, 11, 18, 17, 45),
        id="due in the last quarter hour: moved to 17:45",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 11, 17, 17, 45),
        1,
        chi(2026, 11, 18, 17, 45),
        id="due exactly LAST_CALL_LEAD before closing: unchanged",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 11, 21, 10),
        1,
        chi(2026, 11, 23, 17, 45),
        id="resolved on a Saturday: due Mon 18:00, placed Mon 17:45",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 11, 24, 19),
        1,
        chi(2026, 11, 25, 17, 45),
        id="due Wed before Thanksgiving 18:00: placed that Wed, not Mon 30 06:00",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 11, 25, 19),
        1,
        chi(2026, 11, 30, 17, 45),
        id="Thanksgiving and the day after before the due day: placed Mon 30 17:45",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 11, 17, 19, 30),
        7,
        chi(2026, 11, 30, 17, 45),
        id="third follow-up over Thanksgiving: Mon 30 17:45",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 12, 30, 19),
        1,
        chi(2026, 12, 31, 17, 45),
        id="due the day before New Year's Day: placed Dec 31, not Jan 4",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 3, 6, 19, 30),
        1,
        utc(2026, 3, 9, 22, 45),
        id="March: due Mon 18:00 CDT after spring forward, placed 17:45 CDT",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 3, 6, 17, 50),
        1,
        utc(2026, 3, 9, 22, 45),
        id="March: resolved Fri 17:50 CST, due Mon 17:50 CDT, placed 17:45 CDT",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 3, 3, 19, 30),
        4,
        utc(2026, 3, 9, 22, 45),
        id="March: four days across the DST weekend, placed Mon 17:45 CDT",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 10, 30, 19, 30),
        1,
        utc(2026, 11, 2, 23, 45),
        id="November: due Mon 18:00 CST after fall back, placed 17:45 CST",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 10, 27, 19, 30),
        4,
        utc(2026, 11, 2, 23, 45),
        id="November: four days across the DST weekend, placed Mon 17:45 CST",
    ),
    pytest.param(
        CLOSURES,
        chi(2026, 11, 16, 19),
        1,
        chi(2026, 11, 17, 17, 45),
        id="closure on Wed after the due day: placed Tue 17:45",
    ),
    pytest.param(
        CLOSURES,
        chi(2026, 11, 17, 19),
        1,
        chi(2026, 11, 19, 17, 45),
        id="closure on Wed, the day before the due day: placed Thu 17:45",
    ),
    pytest.param(
        SPLIT,
        chi(2026, 11, 16, 11),
        1 / 12,
        chi(2026, 11, 16, 11, 45),
        id="split day: due at the 12:00 lunch closing, placed 11:45",
    ),
]


@pytest.mark.parametrize(("cal", "resolved", "days", "placed"), FOLLOWUP_CASES)
def test_placing_time_for_follow_ups(cal, resolved, days, placed):
    due = add_business_days(resolved, days, cal)
    got = placing_time(due, resolved, cal)
    assert got.tzinfo is UTC
    assert got == placed, (due.astimezone(cal.tz), got.astimezone(cal.tz), placed.astimezone(cal.tz))
    assert is_open(got, cal) and got <= due


# (calendar, due, now, placed): due instants that business arithmetic does not produce, and late
# timers (now after the placing time).
PLACING_CASES = [
    pytest.param(
        DEFAULT, chi(2026, 11, 18, 12), chi(2026, 11, 17, 9), chi(2026, 11, 18, 12), id="in hours: the due time"
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 11, 18, 18),
        chi(2026, 11, 17, 9),
        chi(2026, 11, 18, 17, 45),
        id="at closing: LAST_CALL_LEAD before it",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 11, 18, 18),
        chi(2026, 11, 18, 17, 50),
        chi(2026, 11, 18, 17, 50),
        id="at closing, deciding at 17:50 (still open): now",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 11, 18, 17, 45),
        chi(2026, 11, 18, 18),
        chi(2026, 11, 19, 6),
        id="timer late past closing: the next opening",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 11, 18, 17, 45),
        chi(2026, 11, 18, 17, 45, 0, 300),
        chi(2026, 11, 18, 17, 45, 0, 300),
        id="timer a moment late while open: now",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 11, 25, 17, 45),
        chi(2026, 11, 25, 18, 30),
        chi(2026, 11, 30, 6),
        id="timer late on the Wed before Thanksgiving: Mon 30 06:00",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 11, 18, 20),
        chi(2026, 11, 17, 9),
        chi(2026, 11, 18, 17, 45),
        id="after hours: that day's 17:45",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 11, 18, 5),
        chi(2026, 11, 16, 9),
        chi(2026, 11, 17, 17, 45),
        id="before hours: the previous day's 17:45",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 11, 23, 6),
        chi(2026, 11, 20, 9),
        chi(2026, 11, 23, 6),
        id="exactly at an opening: the opening",
    ),
    pytest.param(
        DEFAULT, chi(2026, 11, 22, 12), chi(2026, 11, 17, 9), chi(2026, 11, 20, 17, 45), id="on a Sunday: Friday 17:45"
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 11, 26, 10),
        chi(2026, 11, 17, 9),
        chi(2026, 11, 25, 17, 45),
        id="on Thanksgiving: the Wednesday before, 17:45",
    ),
    pytest.param(
        DEFAULT,
        chi(2026, 11, 30, 7),
        chi(2026, 11, 17, 9),
        chi(2026, 11, 30, 7),
        id="the Monday after Thanksgiving, in hours: the due time",
    ),
    pytest.param(
        SPLIT,
        chi(2026, 11, 17, 17, 30),
        chi(2026, 11, 16, 18),
        chi(2026, 11, 17, 17, 15),
        id="split day: due at the 17:30 closing, placed 17:15",
    ),
    pytest.param(
        SPLIT,
        chi(2026, 11, 17, 12, 30),
        chi(2026, 11, 16, 18),
        chi(2026, 11, 17, 11, 45),
        id="split day: due in the lunch break, placed before lunch",
    ),
    pytest.param(
        NIGHT,
        utc(2026, 3, 8, 8),
        utc(2026, 3, 1, 12),
        utc(2026, 3, 8, 7, 45),
        id="spring-forward night: the 01:30 range closes at the jump (08:00 UTC), placed 01:45 CST",
    ),
    pytest.param(
        NIGHT,
        utc(2026, 11, 1, 9),
        utc(2026, 10, 25, 12),
        utc(2026, 11, 1, 8, 45),
        id="fall-back night: due at the 03:00 CST closing, placed 02:45 CST",
    ),
    pytest.param(
        NIGHT,
        utc(2026, 11, 8, 7, 10),
        utc(2026, 11, 1, 12),
        utc(2026, 11, 8, 7, 0),
        id="due in the last quarter hour of the 00:30-01:15 range: placed 01:00 CST",
    ),
    pytest.param(
        LORD_HOWE,
        datetime(2026, 11, 1, 3, tzinfo=ZoneInfo("Australia/Lord_Howe")),
        utc(2026, 10, 25, 12),
        datetime(2026, 11, 1, 2, 45, tzinfo=ZoneInfo("Australia/Lord_Howe")),
        id="a 30-minute DST zone: 15 minutes before the 03:00 closing",
    ),
]


@pytest.mark.parametrize(("cal", "due", "now", "placed"), PLACING_CASES)
def test_placing_time(cal, due, now, placed):
    got = placing_time(due, now, cal)
    assert got.tzinfo is UTC
    assert got == placed, (got.astimezone(cal.tz), placed.astimezone(cal.tz))
    assert is_open(got, cal)


def test_placing_time_refuses_bad_input():
    with pytest.raises(ValueError, match="naive"):
        placing_time(datetime(2026, 11, 18, 18), chi(2026, 11, 17, 9), DEFAULT)  # noqa: DTZ001
    with pytest.raises(ValueError, match="naive"):
        placing_time(chi(2026, 11, 18, 18), datetime(2026, 11, 17, 9), DEFAULT)  # noqa: DTZ001
    with pytest.raises(ValueError, match="lead"):
        placing_time(chi(2026, 11, 18, 18), chi(2026, 11, 17, 9), DEFAULT, lead=timedelta(0))
    with pytest.raises(TypeError):
        placing_time(chi(2026, 11, 18, 18), chi(2026, 11, 17, 9), "default")  # type: ignore[arg-type]
    with pytest.raises(LookupError):
        placing_time(chi(2026, 11, 18, 18), chi(2026, 11, 17, 9), NEVER)
    assert timedelta(minutes=15) == LAST_CALL_LEAD


def test_placing_time_with_a_longer_lead():
    due = chi(2026, 11, 18, 18)
    assert placing_time(due, chi(2026, 11, 17, 9), DEFAULT, lead=2 * H) == chi(2026, 11, 18, 16)
    # A lead longer than the open day: the day's opening.
    assert placing_time(due, chi(2026, 11, 17, 9), DEFAULT, lead=20 * H) == chi(2026, 11, 18, 6)


# Resolve instants: anywhere 2020-2035 in any zone, near the calendars' DST changes, and exactly
# at the default calendar's edges in the March and November DST weeks (06:00, 17:45-18:00, 19:30).
def _local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=CHI)


dst_week_edges = st.builds(
    _local,
    st.sampled_from(
        [D(2026, 3, d) for d in range(2, 14)]
        + [D(2026, 10, d) for d in range(26, 32)]
        + [D(2026, 11, d) for d in range(1, 6)]
        + [D(2026, 11, d) for d in range(23, 30)]
    ),
    st.sampled_from([time(6), time(17, 45), time(17, 50), time(17, 59, 59), time(18), time(19, 30)]),
)
resolve_instants = st.one_of(random_instants, near_dst, dst_week_edges)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CALENDARS), resolve_instants, st.integers(min_value=1, max_value=10))
@example(DEFAULT, chi(2026, 11, 17, 19, 30), 1)
@example(DEFAULT, chi(2026, 3, 6, 19, 30), 1)
@example(DEFAULT, chi(2026, 10, 30, 19, 30), 1)
@example(DEFAULT, chi(2026, 11, 24, 18), 1)
def test_a_follow_up_is_placed_in_open_hours_on_its_due_day_or_earlier(cal, resolved, days):
    due = add_business_days(resolved, days, cal)
    placed = placing_time(due, resolved, cal)
    # Within open hours, never after the due time (so never after the due day), never before
    # the resolve, and no more than LAST_CALL_LEAD early unless the open range is shorter.
    assert is_open(placed, cal)
    assert resolved <= placed <= due
    if business_time_between(placed, due, cal) > LAST_CALL_LEAD:
        # Only a range shorter than the lead puts it further back: then it is that range's opening.
        assert not is_open(placed - US, cal)
    if cal == DEFAULT:
        # The default day is 12 h and the due time open or at a closing: placed the same local
        # day, at the due time or within the last LAST_CALL_LEAD before 18:00.
        assert placed.astimezone(CHI).date() == (due - US).astimezone(CHI).date()
        assert placed == due or placed.astimezone(CHI).time() == time(17, 45)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CALENDARS), instants, instants)
# A wall time the zone skips (spring forward, 02:00 does not exist), in a calendar open across it:
# placing_time and status_at must read it as the same instant (found by hypothesis).
@example(NIGHT, datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 3, 8, 2, 0, tzinfo=CHI))
# A wall time the zone repeats (fall back, 01:00 comes twice): Python never finds such a datetime
# equal to one in another zone (PEP 495), so the property compares instants.
@example(NIGHT, datetime(2020, 1, 1, tzinfo=UTC), datetime(2032, 11, 7, 1, 0, tzinfo=CHI))
def test_placing_time_is_open_and_on_time_or_as_soon_as_open(cal, due, now):
    now = now.astimezone(UTC)
    placed = placing_time(due, now, cal)
    assert is_open(placed, cal) and placed >= now and placed.tzinfo is UTC
    if placed > due:
        # Late: the call goes out now, or at the first opening after now.
        assert placed == now or not status_at(now, cal).open
        assert business_time_between(now, placed, cal) == timedelta(0)
    else:
        # On time: the latest start at or before `due`; a call starting later would still be
        # ringing, or not yet answered, at a closing (or would start after `due`).
        later = placed + US
        assert later > due or business_time_between(later, later + LAST_CALL_LEAD, cal) < LAST_CALL_LEAD
