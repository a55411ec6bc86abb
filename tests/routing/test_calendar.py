"""routing.calendar: observed holidays, hours gating by local wall clock, DST, next opening."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from casestore.models import BusinessHours, Closure, HolidayRule
from casestore.types import HOLIDAY_RULES, Weekday
from routing.calendar import (
    ALL_RULES,
    Calendar,
    WeeklyHours,
    calendar_from_rows,
    closed_days,
    default_calendar,
    holiday_name,
    is_open,
    load_calendar,
    observed_holidays,
    status_at,
)

CHI = ZoneInfo("America/Chicago")
UTC = UTC
D = date
KEYS = (
    "new_years_day",
    "memorial_day",
    "juneteenth",
    "independence_day",
    "labor_day",
    "thanksgiving",
    "day_after_thanksgiving",
    "christmas_eve",
    "christmas_day",
)

# ---------------------------------------------------------------------------------------------
# Observed holidays, worked out by hand from each year's weekdays (Memorial Day = last Monday of
# May, Labor Day = first Monday of September, Thanksgiving = fourth Thursday of November).
# One row per holiday year, in KEYS order; an observed date may fall in the neighbouring year.
# ---------------------------------------------------------------------------------------------
OBSERVED = {
    2020: (
        D(2020, 1, 1),
        D(2020, 5, 25),
        D(2020, 6, 19),  # Juneteenth 2020: not yet federal (holidays.US lacks it), desk observes it
        D(2020, 7, 3),  # Independence Day Sat Jul 4 -> Fri Jul 3
        D(2020, 9, 7),
        D(2020, 11, 26),
        D(2020, 11, 27),
        D(2020, 12, 24),
        D(2020, 12, 25),
    ),
    2021: (
        D(2021, 1, 1),
        D(2021, 5, 31),
        D(2021, 6, 18),  # Juneteenth Sat Jun 19 -> Fri Jun 18
        D(2021, 7, 5),  # Independence Day Sun Jul 4 -> Mon Jul 5
        D(2021, 9, 6),
        D(2021, 11, 25),
        D(2021, 11, 26),
        D(2021, 12, 23),  # Eve Fri Dec 24 -> Christmas Sat observed Fri -> Eve to Thu Dec 23
        D(2021, 12, 24),  # Christmas Day Sat Dec 25 -> Fri Dec 24
    ),
    2022: (
        D(2021, 12, 31),  # New Year's Day Sat Jan 1 2022 -> Fri Dec 31 2021 (previous year)
        D(2022, 5, 30),
        D(2022, 6, 20),  # Juneteenth Sun Jun 19 -> Mon Jun 20
        D(2022, 7, 4),
        D(2022, 9, 5),
        D(2022, 11, 24),
        D(2022, 11, 25),
        D(2022, 12, 23),  # Christmas Eve Sat Dec 24 -> Fri Dec 23
        D(2022, 12, 26),  # Christmas Day Sun Dec 25 -> Mon Dec 26
    ),
    2023: (
        D(2023, 1, 2),  # New Year's Day Sun Jan 1 -> Mon Jan 2
        D(2023, 5, 29),
        D(2023, 6, 19),
        D(2023, 7, 4),
        D(2023, 9, 4),
        D(2023, 11, 23),
        D(2023, 11, 24),
        D(2023, 12, 26),  # Christmas Eve Sun Dec 24 -> Mon is Christmas Day -> Tue Dec 26
        D(2023, 12, 25),
    ),
    2024: (
        D(2024, 1, 1),
        D(2024, 5, 27),
        D(2024, 6, 19),
        D(2024, 7, 4),
        D(2024, 9, 2),
        D(2024, 11, 28),
        D(2024, 11, 29),
        D(2024, 12, 24),
        D(2024, 12, 25),
    ),
    2025: (
        D(2025, 1, 1),
        D(2025, 5, 26),
        D(2025, 6, 19),
        D(2025, 7, 4),
        D(2025, 9, 1),
        D(2025, 11, 27),
        D(2025, 11, 28),
        D(2025, 12, 24),
        D(2025, 12, 25),
    ),
    2026: (
        D(2026, 1, 1),
        D(2026, 5, 25),
        D(2026, 6, 19),
        D(2026, 7, 3),  # Independence Day Sat Jul 4 -> Fri Jul 3
        D(2026, 9, 7),
        D(2026, 11, 26),
        D(2026, 11, 27),
        D(2026, 12, 24),
        D(2026, 12, 25),
    ),
    2027: (
        D(2027, 1, 1),
        D(2027, 5, 31),
        D(2027, 6, 18),  # Juneteenth Sat Jun 19 -> Fri Jun 18
        D(2027, 7, 5),  # Independence Day Sun Jul 4 -> Mon Jul 5
        D(2027, 9, 6),
        D(2027, 11, 25),
        D(2027, 11, 26),
        D(2027, 12, 23),  # Eve Fri Dec 24 -> Christmas Sat observed Fri -> Eve to Thu Dec 23
        D(2027, 12, 24),  # Christmas Day Sat Dec 25 -> Fri Dec 24
    ),
    2028: (
        D(2027, 12, 31),  # New Year's Day Sat Jan 1 2028 -> Fri Dec 31 2027 (previous year)
        D(2028, 5, 29),
        D(2028, 6, 19),
        D(2028, 7, 4),
        D(2028, 9, 4),
        D(2028, 11, 23),
        D(2028, 11, 24),
        D(2028, 12, 26),  # Christmas Eve Sun Dec 24 -> Mon is Christmas Day -> Tue Dec 26
        D(2028, 12, 25),
    ),
    2029: (
        D(2029, 1, 1),
        D(2029, 5, 28),
        D(2029, 6, 19),
        D(2029, 7, 4),
        D(2029, 9, 3),
        D(2029, 11, 22),
        D(2029, 11, 23),
        D(2029, 12, 24),
        D(2029, 12, 25),
    ),
    2030: (
        D(2030, 1, 1),
        D(2030, 5, 27),
        D(2030, 6, 19),
        D(2030, 7, 4),
        D(2030, 9, 2),
        D(2030, 11, 28),
        D(2030, 11, 29),
        D(2030, 12, 24),
        D(2030, 12, 25),
    ),
    2031: (
        D(2031, 1, 1),
        D(2031, 5, 26),
        D(2031, 6, 19),
        D(2031, 7, 4),
        D(2031, 9, 1),
        D(2031, 11, 27),
        D(2031, 11, 28),
        D(2031, 12, 24),
        D(2031, 12, 25),
    ),
    2032: (
        D(2032, 1, 1),
        D(2032, 5, 31),
        D(2032, 6, 18),  # Juneteenth Sat Jun 19 -> Fri Jun 18
        D(2032, 7, 5),  # Independence Day Sun Jul 4 -> Mon Jul 5
        D(2032, 9, 6),
        D(2032, 11, 25),
        D(2032, 11, 26),
        D(2032, 12, 23),  # Eve Fri Dec 24 -> Christmas Sat observed Fri -> Eve to Thu Dec 23
        D(2032, 12, 24),  # Christmas Day Sat Dec 25 -> Fri Dec 24
    ),
    2033: (
        D(2032, 12, 31),  # New Year's Day Sat Jan 1 2033 -> Fri Dec 31 2032 (previous year)
        D(2033, 5, 30),
        D(2033, 6, 20),  # Juneteenth Sun Jun 19 -> Mon Jun 20
        D(2033, 7, 4),
        D(2033, 9, 5),
        D(2033, 11, 24),
        D(2033, 11, 25),
        D(2033, 12, 23),  # Christmas Eve Sat Dec 24 -> Fri Dec 23
        D(2033, 12, 26),  # Christmas Day Sun Dec 25 -> Mon Dec 26
    ),
    2034: (
        D(2034, 1, 2),  # New Year's Day Sun Jan 1 -> Mon Jan 2
        D(2034, 5, 29),
        D(2034, 6, 19),
        D(2034, 7, 4),
        D(2034, 9, 4),
        D(2034, 11, 23),
        D(2034, 11, 24),
        D(2034, 12, 26),  # Christmas Eve Sun Dec 24 -> Mon is Christmas Day -> Tue Dec 26
        D(2034, 12, 25),
    ),
    2035: (
        D(2035, 1, 1),
        D(2035, 5, 28),
        D(2035, 6, 19),
        D(2035, 7, 4),
        D(2035, 9, 3),
        D(2035, 11, 22),
        D(2035, 11, 23),
        D(2035, 12, 24),
        D(2035, 12, 25),
    ),
}


@pytest.mark.parametrize("holiday_year", sorted(OBSERVED))
def test_observed_holiday_dates(holiday_year):
    for key, day in zip(KEYS, OBSERVED[holiday_year], strict=True):
        assert day.weekday() < 5, (key, day)
        assert observed_holidays(day.year).get(day) == HOLIDAY_RULES[key], (key, day)


@pytest.mark.parametrize("year", range(2021, 2035))
def test_observed_holidays_is_exactly_the_dates_in_that_year(year):
    # Neighbouring rows supply New Year's Day observed on Dec 31 of the previous year.
    expected = {
        day: HOLIDAY_RULES[key]
        for row in (OBSERVED[year - 1], OBSERVED[year], OBSERVED[year + 1])
        for key, day in zip(KEYS, row, strict=True)
        if day.year == year
    }
    assert observed_holidays(year) == expected


def test_observed_holidays_respects_inactive_rules_and_is_a_fresh_dict():
    # Without Christmas Day nothing pushes Christmas Eve 2027 off its own Friday.
    no_christmas = ALL_RULES - {"christmas_day"}
    assert observed_holidays(2027, no_christmas)[D(2027, 12, 24)] == "Christmas Eve"
    assert D(2027, 12, 23) not in observed_holidays(2027, no_christmas)
    # 2023 likewise: Christmas Eve (Sun) moves only to Monday.
    assert observed_holidays(2023, no_christmas)[D(2023, 12, 25)] == "Christmas Eve"
    assert observed_holidays(2026, set()) == {}
    got = observed_holidays(2026)
    got.clear()
    assert len(observed_holidays(2026)) == 9
    with pytest.raises(ValueError, match="unknown holiday rule"):
        observed_holidays(2026, {"boxing_day"})


def test_holiday_name_and_closures():
    cal = Calendar(CHI, default_calendar().hours, ALL_RULES, {D(2026, 11, 18): "Company offsite"})
    assert holiday_name(D(2021, 12, 31), cal) == "New Year's Day"
    assert holiday_name(D(2026, 11, 27), cal) == "the day after Thanksgiving"
    assert holiday_name(D(2026, 11, 18), cal) == "Company offsite"
    assert holiday_name(D(2026, 11, 19), cal) is None
    assert holiday_name(D(2026, 11, 21), cal) is None  # a plain Saturday is no holiday


def test_closed_days_preview():
    cal = Calendar(
        CHI,
        default_calendar().hours,
        ALL_RULES,
        {D(2026, 12, 5): "Saturday maintenance", D(2026, 11, 18): "Company offsite"},
    )
    # Nov 1 .. Dec 31 2026 (61 days): weekends are not listed, a closure on a Saturday is.
    assert closed_days(D(2026, 11, 1), 61, cal) == [
        (D(2026, 11, 18), "Company offsite"),
        (D(2026, 11, 26), "Thanksgiving"),
        (D(2026, 11, 27), "the day after Thanksgiving"),
        (D(2026, 12, 5), "Saturday maintenance"),
        (D(2026, 12, 24), "Christmas Eve"),
        (D(2026, 12, 25), "Christmas Day"),
    ]
    # The admin's twelve-month preview, Dec 1 2026 .. Nov 30 2027.
    assert closed_days(D(2026, 12, 1), 365, default_calendar()) == [
        (D(2026, 12, 24), "Christmas Eve"),
        (D(2026, 12, 25), "Christmas Day"),
        (D(2027, 1, 1), "New Year's Day"),
        (D(2027, 5, 31), "Memorial Day"),
        (D(2027, 6, 18), "Juneteenth"),
        (D(2027, 7, 5), "Independence Day"),
        (D(2027, 9, 6), "Labor Day"),
        (D(2027, 11, 25), "Thanksgiving"),
        (D(2027, 11, 26), "the day after Thanksgiving"),
    ]
    assert closed_days(D(2026, 12, 24), 0, cal) == []
    with pytest.raises(ValueError):
        closed_days(D(2026, 12, 24), -1, cal)


# ---------------------------------------------------------------------------------------------
# Hours gating (default calendar: Mon-Fri 06:00-18:00 America/Chicago)
# ---------------------------------------------------------------------------------------------
def chi(*args) -> datetime:
    return datetime(*args, tzinfo=CHI)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


OFFSITE = D(2026, 11, 18)

HOURS_CASES = [
    # Monday 05:59 local: one minute before opening; opens at 06:00 the same day.
    (chi(2026, 11, 16, 5, 59), False, "before_hours", None, chi(2026, 11, 16, 6)),
    # Monday 06:00 local: ranges are half-open, so the opening minute is open.
    (chi(2026, 11, 16, 6, 0), True, "open", None, None),
    # Friday 17:59:59 local: the last second of the day is still open.
    (chi(2026, 11, 20, 17, 59, 59), True, "open", None, None),
    # Friday 17:59 local: open.
    (chi(2026, 11, 20, 17, 59), True, "open", None, None),
    # Friday 18:00 local: closed; the weekend follows, so Monday 06:00.
    (chi(2026, 11, 20, 18, 0), False, "after_hours", None, chi(2026, 11, 23, 6)),
    # Saturday noon: no hours on Saturdays.
    (chi(2026, 11, 21, 12), False, "weekend", None, chi(2026, 11, 23, 6)),
    # Sunday: no hours.
    (chi(2026, 11, 22, 9), False, "weekend", None, chi(2026, 11, 23, 6)),
    # Friday Jul 3 2026 noon: Independence Day (Sat Jul 4) observed; reopens Monday Jul 6.
    (chi(2026, 7, 3, 12), False, "holiday", "Independence Day", chi(2026, 7, 6, 6)),
    # Wednesday Nov 18 2026 noon: the one-off "Company offsite" closure.
    (chi(2026, 11, 18, 12), False, "closure", "Company offsite", chi(2026, 11, 19, 6)),
    # Sunday Mar 8 2026, spring-forward day, noon CDT: weekend; opens Monday 06:00 CDT = 11:00 UTC.
    (utc(2026, 3, 8, 17), False, "weekend", None, utc(2026, 3, 9, 11)),
    # Monday Mar 9 2026 06:00 CDT = 11:00 UTC: open (UTC-6 arithmetic would say 05:00, closed).
    (utc(2026, 3, 9, 11, 0), True, "open", None, None),
    # Monday Mar 9 2026 05:59 CDT = 10:59 UTC: closed, opens at 11:00 UTC.
    (utc(2026, 3, 9, 10, 59), False, "before_hours", None, utc(2026, 3, 9, 11)),
    # Monday Mar 9 2026 17:59 CDT = 22:59 UTC: still open (CST arithmetic would say 16:59).
    (utc(2026, 3, 9, 22, 59), True, "open", None, None),
    # Monday Mar 9 2026 18:00 CDT = 23:00 UTC: closed (CST arithmetic would say 17:00, open).
    (utc(2026, 3, 9, 23, 0), False, "after_hours", None, utc(2026, 3, 10, 11)),
    # Sunday Nov 1 2026, fall-back day, 07:30 UTC = the second 01:30 (CST): weekend;
    # opens Monday 06:00 CST = 12:00 UTC.
    (utc(2026, 11, 1, 7, 30), False, "weekend", None, utc(2026, 11, 2, 12)),
    # Monday Nov 2 2026 06:00 CST = 12:00 UTC: open.
    (utc(2026, 11, 2, 12, 0), True, "open", None, None),
    # Monday Nov 2 2026 11:30 UTC = 05:30 CST: closed (CDT arithmetic would say 06:30, open).
    (utc(2026, 11, 2, 11, 30), False, "before_hours", None, utc(2026, 11, 2, 12)),
    # Tuesday Nov 17 2026 00:30 UTC is Monday Nov 16 18:30 CST: after hours, opens Tue 06:00 CST.
    (utc(2026, 11, 17, 0, 30), False, "after_hours", None, chi(2026, 11, 17, 6)),
    # Tuesday Jun 16 2026 01:00 UTC is Monday Jun 15 20:00 CDT: after hours (not Tuesday 01:00).
    (utc(2026, 6, 16, 1, 0), False, "after_hours", None, chi(2026, 6, 16, 6)),
    # Monday Nov 16 2026 23:59 UTC is 17:59 CST: open although UTC is past 18:00.
    (utc(2026, 11, 16, 23, 59), True, "open", None, None),
    # Friday Dec 31 2021 noon: New Year's Day 2022 (a Saturday) observed; reopens Mon Jan 3 2022.
    (chi(2021, 12, 31, 12), False, "holiday", "New Year's Day", chi(2022, 1, 3, 6)),
    # Thursday Dec 23 2027: Christmas Eve observed (Christmas Sat -> Fri); reopens Mon Dec 27.
    (chi(2027, 12, 23, 12), False, "holiday", "Christmas Eve", chi(2027, 12, 27, 6)),
    # Thanksgiving Thursday 2026: Thu + Fri holidays + weekend -> Monday Nov 30 06:00 CST.
    (chi(2026, 11, 26, 12), False, "holiday", "Thanksgiving", chi(2026, 11, 30, 6)),
    # Wednesday before Thanksgiving 18:00: the long weekend starts; same Monday reopening.
    (chi(2026, 11, 25, 18), False, "after_hours", None, utc(2026, 11, 30, 12)),
]


@pytest.mark.parametrize(("now", "is_open_", "reason", "name", "next_open"), HOURS_CASES)
def test_status_at(now, is_open_, reason, name, next_open):
    cal = Calendar(CHI, default_calendar().hours, ALL_RULES, {OFFSITE: "Company offsite"})
    status = status_at(now, cal)
    assert (status.open, status.reason, status.holiday_name) == (is_open_, reason, name)
    assert status.local.astimezone(UTC) == now.astimezone(UTC) and status.local.tzinfo is CHI
    assert is_open(now, cal) is is_open_
    if next_open is None:
        assert status.next_open is None
    else:
        assert status.next_open.tzinfo is CHI
        assert status.next_open.astimezone(UTC) == next_open.astimezone(UTC)
        assert is_open(status.next_open, cal)


def test_naive_datetime_is_refused():
    cal = default_calendar()
    with pytest.raises(ValueError, match="naive"):
        status_at(datetime(2026, 11, 16, 12), cal)  # noqa: DTZ001
    with pytest.raises(ValueError, match="naive"):
        is_open(datetime(2026, 11, 16, 12), cal)  # noqa: DTZ001


def test_split_hours_and_a_saturday_morning():
    hours = WeeklyHours.from_mapping(
        {
            0: [(time(13), time(17)), (time(8), time(12))],  # given out of order: sorted
            5: [(time(9), time(12))],
        }
    )
    cal = Calendar(CHI, hours, frozenset(), {})
    assert hours[0] == ((time(8), time(12)), (time(13), time(17)))
    lunch = status_at(chi(2026, 11, 16, 12, 30), cal)
    assert (lunch.open, lunch.reason) == (False, "after_hours")
    assert lunch.next_open == chi(2026, 11, 16, 13)
    assert status_at(chi(2026, 11, 16, 7), cal).reason == "before_hours"
    evening = status_at(chi(2026, 11, 16, 17), cal)
    assert evening.next_open == chi(2026, 11, 21, 9)  # Saturday morning
    assert status_at(chi(2026, 11, 21, 9), cal).open


def test_opening_time_skipped_by_spring_forward():
    # Sunday 02:30 does not exist on 2026-03-08 in Chicago: the clock jumps 02:00 CST -> 03:00
    # CDT (08:00 UTC), and from that instant the wall clock reads past 02:30.
    cal = Calendar(CHI, WeeklyHours.from_mapping({6: [(time(2, 30), time(4))]}), frozenset(), {})
    status = status_at(chi(2026, 3, 8, 1, 0), cal)
    assert status.next_open.astimezone(UTC) == utc(2026, 3, 8, 8)
    assert is_open(utc(2026, 3, 8, 8), cal) and not is_open(utc(2026, 3, 8, 7, 59, 59), cal)


def test_no_opening_within_search_window():
    cal = Calendar(CHI, WeeklyHours.from_mapping({}), ALL_RULES, {})
    status = status_at(chi(2026, 11, 16, 12), cal)
    assert (status.open, status.reason, status.next_open) == (False, "weekend", None)


def test_weekly_hours_validation():
    with pytest.raises(ValueError, match="open before it closes"):
        WeeklyHours.from_mapping({0: [(time(18), time(6))]})
    with pytest.raises(ValueError, match="overlap"):
        WeeklyHours.from_mapping({0: [(time(6), time(12)), (time(11), time(18))]})
    with pytest.raises(ValueError, match="weekday"):
        WeeklyHours.from_mapping({7: [(time(6), time(18))]})
    assert dict(default_calendar().hours)[5] == ()
    assert len(default_calendar().hours) == 7


def test_calendar_is_hashable_and_immutable():
    a = default_calendar()
    b = Calendar(ZoneInfo("America/Chicago"), a.hours, set(HOLIDAY_RULES), {})
    assert a == b and hash(a) == hash(b)
    with pytest.raises(TypeError):
        b.closures[D(2026, 1, 2)] = "x"  # type: ignore[index]
    with pytest.raises(ValueError, match="unknown holiday rule"):
        Calendar(CHI, a.hours, {"boxing_day"}, {})


def test_calendar_from_rows():
    hours = [
        BusinessHours(weekday=Weekday.MON, opens=time(6), closes=time(18)),
        BusinessHours(weekday=Weekday.SAT, opens=time(9), closes=time(12)),
    ]
    rules = [
        HolidayRule(key="thanksgiving", name="Thanksgiving", active=True),
        HolidayRule(key="christmas_day", name="Christmas", active=False),
    ]
    closures = [Closure(day=OFFSITE, name="Company offsite")]
    cal = calendar_from_rows(hours, rules, closures, "America/Denver")
    assert cal.tz == ZoneInfo("America/Denver")
    assert cal.hours[0] == ((time(6), time(18)),) and cal.hours[5] == ((time(9), time(12)),)
    assert cal.hours[1] == ()
    assert cal.rules == {"thanksgiving"}
    assert dict(cal.closures) == {OFFSITE: "Company offsite"}


def test_load_calendar_from_migrated_defaults(session):
    # Migration 0002 seeds the document's defaults, which default_calendar() mirrors.
    assert load_calendar(session, "America/Chicago") == default_calendar()
    session.add(Closure(day=OFFSITE, name="Company offsite"))
    session.flush()
    assert load_calendar(session, "America/Chicago").closures == {OFFSITE: "Company offsite"}


# ---------------------------------------------------------------------------------------------
# Property: status_at agrees with an independent, naive-but-correct check
# ---------------------------------------------------------------------------------------------
ZONES = [
    UTC,
    CHI,
    ZoneInfo("Asia/Tokyo"),
    ZoneInfo("Pacific/Kiritimati"),  # UTC+14: often a different local date from Chicago
    timezone(timedelta(hours=-9, minutes=-30)),
]


def simple_open(now: datetime) -> bool:
    local = now.astimezone(CHI)
    return (
        local.weekday() < 5 and time(6) <= local.time() < time(18) and local.date() not in observed_holidays(local.year)
    )


@settings(max_examples=150, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001
        max_value=datetime(2035, 12, 31, 23, 59, 59),  # noqa: DTZ001
        timezones=st.sampled_from(ZONES),
        allow_imaginary=False,
    )
)
@example(utc(2026, 3, 8, 8, 0))  # the spring-forward instant
@example(utc(2026, 11, 1, 7, 0))  # the fall-back instant
@example(utc(2026, 3, 9, 11, 0) - timedelta(microseconds=1))
@example(utc(2021, 12, 31, 12))
def test_status_matches_simple_check(now):
    cal = default_calendar()
    status = status_at(now, cal)
    assert status.open is simple_open(now)
    assert status.local.astimezone(UTC) == now.astimezone(UTC)
    if status.open:
        assert status.reason == "open" and status.next_open is None
    else:
        nxt = status.next_open
        assert nxt is not None and nxt.tzinfo is CHI
        assert nxt.astimezone(UTC) > now.astimezone(UTC)
        assert simple_open(nxt)
        # ...and it is the *next* opening: just before it the desk is closed.
        assert not simple_open(nxt.astimezone(UTC) - timedelta(microseconds=1))


def test_a_wall_time_the_zone_skips_is_read_as_the_instant_python_takes_it_for():
    """02:30 on a spring-forward night does not exist in Chicago; Python takes such a datetime as
    08:30 UTC (the offset before the change), so the calendar must too, or two functions disagree."""
    cal = Calendar(CHI, WeeklyHours.from_mapping({6: [(time(1, 30), time(3))]}), frozenset(), {})
    skipped = datetime(2026, 3, 8, 2, 30, tzinfo=CHI)
    instant = skipped.astimezone(UTC)
    assert instant == datetime(2026, 3, 8, 8, 30, tzinfo=UTC)  # 03:30 CDT: after the 03:00 closing
    assert status_at(skipped, cal) == status_at(instant, cal)
    assert not is_open(skipped, cal) and not is_open(instant, cal)
    assert status_at(skipped, cal).local == datetime(2026, 3, 8, 3, 30, tzinfo=CHI)
