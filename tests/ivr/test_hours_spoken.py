"""ivr/hours_spoken.py: the configured hours and the next opening, as spoken (issue #15 item 4)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from ivr.hours_spoken import closed_sentences, hours_spoken, next_opening_spoken, time_spoken
from routing.calendar import Calendar, WeeklyHours, default_calendar, status_at

CHI = ZoneInfo("America/Chicago")
DEFAULT = default_calendar()


def at(y: int, mo: int, d: int, h: int, mi: int = 0, tz: ZoneInfo = CHI) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz)


@pytest.mark.parametrize(
    ("now", "spoken"),
    [
        # before opening, the same day
        (at(2026, 12, 2, 5, 0), "We open again today at 6 a.m. Central."),
        # after hours on a weekday, and late on a Sunday
        (at(2026, 12, 2, 19, 0), "We open again tomorrow at 6 a.m. Central."),
        (at(2026, 12, 6, 23, 30), "We open again tomorrow at 6 a.m. Central."),
        # the weekend: the weekday is enough
        (at(2026, 12, 4, 18, 0), "We open again Monday at 6 a.m. Central."),
        (at(2026, 12, 5, 10, 0), "We open again Monday at 6 a.m. Central."),
        # Thanksgiving (Thu) and the day after (Fri) are both holidays: the date is said
        (at(2026, 11, 25, 19, 0), "We open again on Monday, November 30, at 6 a.m. Central."),
        (at(2026, 11, 26, 10, 0), "We open again on Monday, November 30, at 6 a.m. Central."),
        (at(2026, 11, 27, 10, 0), "We open again Monday at 6 a.m. Central."),
        # Christmas Eve (Thu) and Christmas Day (Fri) 2026
        (at(2026, 12, 23, 19, 0), "We open again on Monday, December 28, at 6 a.m. Central."),
        (at(2026, 12, 24, 9, 0), "We open again on Monday, December 28, at 6 a.m. Central."),
        # New Year's Day 2027 is a Friday
        (at(2026, 12, 31, 18, 30), "We open again on Monday, January 4, at 6 a.m. Central."),
        # New Year's Day 2028 is a Saturday, observed Friday Dec 31 2027, across the year
        (at(2027, 12, 30, 19, 0), "We open again on Monday, January 3, at 6 a.m. Central."),
        # Christmas 2027 is a Saturday: observed Fri Dec 24, the Eve on Thu Dec 23
        (at(2027, 12, 22, 19, 0), "We open again on Monday, December 27, at 6 a.m. Central."),
        # spring forward (Sun 2026-03-08): closed in CST, opens in CDT, both "Central"
        (at(2026, 3, 6, 19, 0), "We open again Monday at 6 a.m. Central."),
        (at(2026, 3, 8, 1, 30), "We open again tomorrow at 6 a.m. Central."),
        (at(2026, 3, 9, 5, 59), "We open again today at 6 a.m. Central."),
        # fall back (Sun 2026-11-01)
        (at(2026, 10, 30, 19, 0), "We open again Monday at 6 a.m. Central."),
        (at(2026, 11, 1, 1, 30), "We open again tomorrow at 6 a.m. Central."),
    ],
)
def test_next_opening_on_the_default_calendar(now: datetime, spoken: str) -> None:
    assert next_opening_spoken(now, DEFAULT) == spoken


def test_the_instant_is_the_same_whatever_zone_now_is_given_in() -> None:
    from datetime import UTC

    assert next_opening_spoken(at(2026, 12, 3, 1, 0, tz=ZoneInfo("UTC")).astimezone(UTC), DEFAULT) == (
        "We open again tomorrow at 6 a.m. Central."
    )


def test_open_has_no_next_opening() -> None:
    assert next_opening_spoken(at(2026, 12, 2, 10, 0), DEFAULT) is None


def test_a_closure_is_a_date_skipped() -> None:
    cal = replace(DEFAULT, closures={date(2026, 12, 7): "staff training"})
    assert next_opening_spoken(at(2026, 12, 4, 19, 0), cal) == (
        "We open again on Tuesday, December 8, at 6 a.m. Central."
    )
    assert closed_sentences(status_at(at(2026, 12, 7, 10, 0), cal), cal) == [
        "Live support is closed today for staff training.",
        "We open again tomorrow at 6 a.m. Central.",
    ]


def _cal(hours: dict[int, list[tuple[time, time]]], tz: str = "America/Chicago") -> Calendar:
    return Calendar(tz=ZoneInfo(tz), hours=WeeklyHours.from_mapping(hours), rules=DEFAULT.rules, closures={})


EDITED = _cal(
    {
        **{d: [(time(7, 30), time(12)), (time(13), time(17))] for d in range(4)},
        4: [(time(7, 30), time(12))],
        6: [(time(2, 30), time(5))],  # a range that the spring-forward gap cuts into
    }
)


@pytest.mark.parametrize(
    ("now", "spoken"),
    [
        (at(2026, 12, 2, 12, 30), "We open again today at 1 p.m. Central."),
        (at(2026, 12, 4, 12, 0), "We open again Sunday at 2:30 a.m. Central."),
        (at(2026, 12, 5, 12, 0), "We open again tomorrow at 2:30 a.m. Central."),
        (at(2026, 12, 6, 6, 0), "We open again tomorrow at 7:30 a.m. Central."),
        # 2:30 does not exist on 2026-03-08: the desk opens when the clock jumps to 3:00 CDT
        (at(2026, 3, 8, 1, 0), "We open again today at 3 a.m. Central."),
    ],
)
def test_next_opening_follows_an_hours_edit(now: datetime, spoken: str) -> None:
    assert next_opening_spoken(now, EDITED) == spoken


def test_hours_spoken() -> None:
    assert hours_spoken(DEFAULT.hours) == "Monday through Friday, from 6 a.m. to 6 p.m."
    assert hours_spoken(EDITED.hours) == (
        "Monday through Thursday, from 7:30 a.m. to noon and from 1 p.m. to 5 p.m., "
        "Friday, from 7:30 a.m. to noon, and Sunday, from 2:30 a.m. to 5 a.m."
    )
    assert hours_spoken(_cal({5: [(time(9), time(12))], 6: [(time(9), time(12))]}).hours) == (
        "Saturday and Sunday, from 9 a.m. to noon"
    )
    assert hours_spoken(_cal({}).hours) is None


@pytest.mark.parametrize(
    ("t", "spoken"),
    [
        (time(6), "6 a.m."),
        (time(18), "6 p.m."),
        (time(12), "noon"),
        (time(0), "midnight"),
        (time(0, 30), "12:30 a.m."),
        (time(12, 5), "12:05 p.m."),
        (time(23, 59), "11:59 p.m."),
    ],
)
def test_time_spoken(t: time, spoken: str) -> None:
    assert time_spoken(t) == spoken


@pytest.mark.parametrize(
    ("tz", "summer", "winter"),
    [
        ("America/New_York", "Eastern", "Eastern"),
        ("America/Denver", "Mountain", "Mountain"),
        ("America/Phoenix", "Mountain", "Mountain"),
        ("America/Los_Angeles", "Pacific", "Pacific"),
        ("Asia/Tokyo", "Tokyo time", "Tokyo time"),
    ],
)
def test_zone_names(tz: str, summer: str, winter: str) -> None:
    cal = _cal({d: [(time(6), time(18))] for d in range(5)}, tz)
    zone = ZoneInfo(tz)
    assert (
        next_opening_spoken(datetime(2026, 7, 1, 19, tzinfo=zone), cal) == f"We open again tomorrow at 6 a.m. {summer}."
    )
    assert (
        next_opening_spoken(datetime(2026, 1, 7, 19, tzinfo=zone), cal) == f"We open again tomorrow at 6 a.m. {winter}."
    )


def test_closed_sentences() -> None:
    assert closed_sentences(status_at(at(2026, 12, 2, 19, 0), DEFAULT), DEFAULT) == [
        "Live support is available Monday through Friday, from 6 a.m. to 6 p.m. Central, and is closed right now.",
        "We open again tomorrow at 6 a.m. Central.",
    ]
    assert closed_sentences(status_at(at(2026, 11, 26, 10, 0), DEFAULT), DEFAULT) == [
        "Live support is closed today for Thanksgiving.",
        "We open again on Monday, November 30, at 6 a.m. Central.",
    ]
    never = _cal({})
    assert closed_sentences(status_at(at(2026, 12, 2, 10, 0), never), never) == ["Live support is closed right now."]
