"""The support calendar: when the desk is open, and if not, why not and when it next opens.

Owns
  * the plain calendar types (`WeeklyHours`, `Calendar`, `OpenStatus`): frozen, hashable, free of
    SQLAlchemy, so they can be cached and unit-tested; `calendar_from_rows` / `load_calendar`
    build one from the case store's `business_hours`, `holiday_rules` and `closures` tables, and
    `default_calendar` gives the support document's defaults;
  * the observed dates of the nine holidays of the support document (`observed_holidays`,
    `holiday_name`), including the weekend and collision shifts;
  * the open/closed decision for an instant (`status_at`, `is_open`) and the closed-day preview
    (`closed_days`).

Everything is decided on the LOCAL wall clock of the calendar's time zone, never on UTC. This
module never reads the clock: callers pass `now`, which must be tz-aware (naive -> ValueError).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import select
from sqlalchemy.orm import Session

from casestore.models import BusinessHours, Closure, HolidayRule
from casestore.types import HOLIDAY_RULES, Weekday

HoursRange = tuple[time, time]
"""(opens, closes), local wall-clock, half-open: open at `opens`, closed again at `closes`."""

ALL_RULES: frozenset[str] = frozenset(HOLIDAY_RULES)
DEFAULT_TIMEZONE = "America/Chicago"
# How far ahead `status_at` looks for the next opening before giving up (next_open=None).
NEXT_OPEN_SEARCH_DAYS = 31

REASONS = ("open", "holiday", "closure", "weekend", "after_hours", "before_hours")

_DAY = timedelta(days=1)

log = logging.getLogger("supportline.calendar")


# --------------------------------------------------------------------------------------------
# Plain data types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeeklyHours(Mapping[int, tuple[HoursRange, ...]]):
    """Weekday index (0=Mon .. 6=Sun) -> sorted, non-overlapping (opens, closes) ranges.

    All seven weekdays are keys; a day without hours maps to `()`. Ranges are local wall-clock
    and may not cross midnight (opens < closes). Build with `from_mapping`.
    """

    days: tuple[tuple[HoursRange, ...], ...]

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError("WeeklyHours needs exactly seven days (Monday first)")
        for weekday, ranges in enumerate(self.days):
            previous_close: time | None = None
            for opens, closes in ranges:
                for t in (opens, closes):
                    if not isinstance(t, time) or t.tzinfo is not None:
                        raise ValueError(f"hours must be naive local times, got {t!r}")
                if not opens < closes:
                    raise ValueError(f"weekday {weekday}: {opens}-{closes} must open before it closes")
                if previous_close is not None and opens < previous_close:
                    raise ValueError(f"weekday {weekday}: ranges overlap or are out of order")
                previous_close = closes

    @classmethod
    def from_mapping(cls, hours: Mapping[int, Iterable[HoursRange]]) -> WeeklyHours:
        """From {weekday: [(opens, closes), ...]}; missing weekdays closed, ranges sorted."""
        for weekday in hours:
            if not (isinstance(weekday, int) and 0 <= weekday <= 6):
                raise ValueError(f"weekday must be 0 (Monday) .. 6 (Sunday), got {weekday!r}")
        return cls(tuple(tuple(sorted(hours.get(d, ()))) for d in range(7)))

    def __getitem__(self, weekday: int) -> tuple[HoursRange, ...]:
        if not (isinstance(weekday, int) and 0 <= weekday <= 6):
            raise KeyError(weekday)
        return self.days[weekday]

    def __iter__(self) -> Iterator[int]:
        return iter(range(7))

    def __len__(self) -> int:
        return 7


@dataclass(frozen=True)
class Calendar:
    """Everything the open/closed decision needs. Immutable and hashable (closures excluded
    from the hash, not from equality)."""

    tz: ZoneInfo
    hours: WeeklyHours
    rules: frozenset[str] = ALL_RULES  # active HOLIDAY_RULES keys
    closures: Mapping[date, str] = field(default_factory=dict, hash=False)  # local date -> name

    def __post_init__(self) -> None:
        if not isinstance(self.tz, ZoneInfo):
            raise TypeError(f"tz must be a ZoneInfo, got {self.tz!r}")
        rules = _rule_set(self.rules)
        closures: dict[date, str] = {}
        for day, name in self.closures.items():
            if not isinstance(day, date) or isinstance(day, datetime):
                raise TypeError(f"closure keys are local dates, got {day!r}")
            closures[day] = str(name)
        object.__setattr__(self, "rules", rules)
        object.__setattr__(self, "closures", MappingProxyType(closures))


@dataclass(frozen=True)
class OpenStatus:
    """The decision for one instant.

    `reason`: "open", "holiday", "closure", "weekend" (a day without hours), "before_hours"
    (before the day's first range) or "after_hours" (after the last range, or between ranges).
    `holiday_name`: the holiday's or closure's name when reason is "holiday"/"closure".
    `local`: the instant in the calendar's zone. `next_open`: when closed, the next opening
    instant (tz-aware, calendar zone) within NEXT_OPEN_SEARCH_DAYS, else None; None when open.
    """

    open: bool
    reason: str
    holiday_name: str | None
    local: datetime
    next_open: datetime | None


def _rule_set(rules: Iterable[str]) -> frozenset[str]:
    if isinstance(rules, str):
        raise TypeError("rules is a collection of HOLIDAY_RULES keys, not one string")
    result = frozenset(rules)
    unknown = result - ALL_RULES
    if unknown:
        raise ValueError(f"unknown holiday rule(s): {', '.join(sorted(unknown))}")
    return result


def _known_rules(keys: Iterable[str]) -> set[str]:
    keys = set(keys)
    unknown = keys - ALL_RULES
    if unknown:
        log.error("ignoring unknown holiday rule(s) in the database: %s", ", ".join(sorted(unknown)))
    return keys & ALL_RULES


def _weekday_index(value: Weekday | str) -> int:
    return Weekday(value).iso_index


def calendar_from_rows(
    hours_rows: Iterable[BusinessHours], rule_rows: Iterable[HolidayRule], closure_rows: Iterable[Closure], tz_name: str
) -> Calendar:
    """Build a Calendar from the ORM rows. Inactive rules are left out; the holiday names come
    from HOLIDAY_RULES (the rule's `name` column is display text for admins only)."""
    by_day: dict[int, list[HoursRange]] = {}
    for row in hours_rows:
        by_day.setdefault(_weekday_index(row.weekday), []).append((row.opens, row.closes))
    return Calendar(
        tz=ZoneInfo(tz_name),
        hours=WeeklyHours.from_mapping(by_day),
        # A rule key this version does not know (a hand-edited row) is skipped and logged, never
        # allowed to stop the calendar from loading: the line must keep answering.
        rules=frozenset(_known_rules(row.key for row in rule_rows if row.active)),
        closures={row.day: row.name for row in closure_rows},
    )


def load_calendar(session: Session, tz_name: str) -> Calendar:
    """Query the calendar tables and build a Calendar (callers cache it as they see fit)."""
    return calendar_from_rows(
        session.scalars(select(BusinessHours)).all(),
        session.scalars(select(HolidayRule)).all(),
        session.scalars(select(Closure)).all(),
        tz_name,
    )


@lru_cache(maxsize=16)
def default_calendar(tz_name: str = DEFAULT_TIMEZONE) -> Calendar:
    """The support document's defaults: Mon-Fri 06:00-18:00, all nine holidays, no closures."""
    weekday_hours = ((time(6), time(18)),)
    return Calendar(
        tz=ZoneInfo(tz_name),
        hours=WeeklyHours.from_mapping(dict.fromkeys(range(5), weekday_hours)),
        rules=ALL_RULES,
        closures={},
    )


# --------------------------------------------------------------------------------------------
# Holidays
# --------------------------------------------------------------------------------------------

# Rule key -> the `holidays.US` (language en_US) name of the federal holiday it follows.
_FEDERAL_NAMES: dict[str, str] = {
    "new_years_day": "New Year's Day",
    "memorial_day": "Memorial Day",
    "juneteenth": "Juneteenth National Independence Day",
    "independence_day": "Independence Day",
    "labor_day": "Labor Day",
    "thanksgiving": "Thanksgiving Day",
    "christmas_day": "Christmas Day",
}

# The order in which a year's holidays claim their observed dates; a later one that would land
# on a date already claimed moves on. First the floating holidays: they are defined on a weekday
# (Memorial/Labor Day a Monday, Thanksgiving a Thursday, the day after a Friday), never move and
# never collide, so they anchor the year. Then the fixed-date holidays in calendar order, except
# that Christmas Day goes before Christmas Eve: Christmas Day keeps the usual federal observed
# date and Christmas Eve yields to it (2023: Christmas Mon Dec 25, Eve Sun -> Tue Dec 26;
# 2027: Christmas Sat -> Fri Dec 24, Eve -> Thu Dec 23).
_RESOLUTION_ORDER: tuple[str, ...] = (
    "memorial_day",
    "labor_day",
    "thanksgiving",
    "day_after_thanksgiving",
    "new_years_day",
    "juneteenth",
    "independence_day",
    "christmas_day",
    "christmas_eve",
)
assert set(_RESOLUTION_ORDER) == ALL_RULES


@lru_cache(maxsize=64)
def holiday_date(key: str, year: int) -> date:
    """The actual (unshifted) date of holiday rule `key` in `year`, before weekend or collision shifts."""
    return _nominal_dates(year)[key]


def _nominal_dates(year: int) -> Mapping[str, date]:
    """Rule key -> the holiday's actual (unshifted) date in `year`."""
    us = holidays.country_holidays("US", years=year, observed=False, language="en_US")
    found: dict[str, list[date]] = {}
    wanted = {name: key for key, name in _FEDERAL_NAMES.items()}
    for day in sorted(us):
        for name in us.get_list(day):
            if name in wanted:
                found.setdefault(wanted[name], []).append(day)
    dates: dict[str, date] = {}
    for key in _FEDERAL_NAMES:
        days = found.get(key, [])
        if not days and key == "juneteenth":
            # Juneteenth became a federal holiday in 2021, so holidays.US has no date for it
            # before then; the desk observes it every year (2020 included) on June 19.
            days = [date(year, 6, 19)]
        if len(days) != 1:
            raise LookupError(f"holidays.US gave {days!r} for {_FEDERAL_NAMES[key]!r} in {year}")
        dates[key] = days[0]
    # The rules holidays.US lacks.
    dates["day_after_thanksgiving"] = dates["thanksgiving"] + _DAY
    dates["christmas_eve"] = date(year, 12, 24)
    return MappingProxyType(dates)


def _observe(actual: date, taken: set[date]) -> date:
    """Where a holiday on `actual` is observed, given the dates already `taken`.

    Saturday -> the previous working day, Sunday -> the next; a date that is a weekend or already
    taken moves one more working day in the same direction. A weekday holiday whose own date is
    already taken moves back (the issue's 2027 example: Christmas Day's observed Friday pushes
    Christmas Eve back to Thursday).
    """
    weekday = actual.weekday()
    if weekday == 5:
        step = -_DAY
    elif weekday == 6:
        step = _DAY
    elif actual in taken:
        step = -_DAY
    else:
        return actual
    day = actual + step
    while day.weekday() >= 5 or day in taken:
        day += step
    return day


@lru_cache(maxsize=64)
def _holidays_of_year(year: int, rules: frozenset[str]) -> Mapping[date, str]:
    """Observed date -> name for the active holidays *of* `year` (the date may be in year +/- 1)."""
    nominal = _nominal_dates(year)
    observed: dict[date, str] = {}
    for key in _RESOLUTION_ORDER:
        if key in rules:
            observed[_observe(nominal[key], set(observed))] = HOLIDAY_RULES[key]
    return MappingProxyType(observed)


@lru_cache(maxsize=256)
def _observed_on(year: int, rules: frozenset[str]) -> Mapping[date, str]:
    """Observed date -> name for the holidays observed ON dates of `year`."""
    result: dict[date, str] = {}
    # Only New Year's Day crosses a year boundary (Sat Jan 1 -> Fri Dec 31), and Christmas is
    # observed by Dec 26 at the latest, so holidays of adjacent years never compete for a date;
    # should one ever, both names are kept.
    for holiday_year in (year - 1, year, year + 1):
        for day, name in _holidays_of_year(holiday_year, rules).items():
            if day.year == year:
                result[day] = f"{result[day]} and {name}" if day in result else name
    return MappingProxyType(dict(sorted(result.items())))


def observed_holidays(year: int, rules: Iterable[str] = ALL_RULES) -> dict[date, str]:
    """Name per date of `year` on which one of the active `rules` is observed (a fresh dict).

    Includes New Year's Day of `year + 1` when it is observed on Dec 31 of `year`, and leaves out
    New Year's Day of `year` when it is observed on Dec 31 of `year - 1`.
    """
    return dict(_observed_on(year, _rule_set(rules)))


def holiday_name(day: date, cal: Calendar) -> str | None:
    """The name of the closure or observed holiday on local date `day`, else None.

    A one-off closure wins over a holiday on the same date (the admin named it deliberately).
    """
    if isinstance(day, datetime):
        raise TypeError("holiday_name takes a local date, not a datetime")
    name = cal.closures.get(day)
    if name is not None:
        return name
    return _observed_on(day.year, cal.rules).get(day)


def closed_days(start: date, days: int, cal: Calendar) -> list[tuple[date, str]]:
    """(date, name) for each holiday/closure in the `days` local dates from `start` (inclusive).

    Ordinary days without hours (weekends) are not listed; a closure on one is.
    """
    if isinstance(start, datetime):
        raise TypeError("closed_days takes a local date, not a datetime")
    if days < 0:
        raise ValueError("days must be >= 0")
    result: list[tuple[date, str]] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        name = holiday_name(day, cal)
        if name is not None:
            result.append((day, name))
    return result


# --------------------------------------------------------------------------------------------
# Hours gating
# --------------------------------------------------------------------------------------------


def _require_aware(now: Any) -> datetime:
    if not isinstance(now, datetime):
        raise TypeError(f"now must be a datetime, got {now!r}")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: pass a tz-aware instant")
    # As an instant: `astimezone` leaves a datetime already in the target zone as it is, so a wall
    # time that zone skips (02:30 on a spring-forward night) would be read as that wall time rather
    # than the instant Python takes it for (the offset before the change).
    return now.astimezone(UTC)


def _decide(local: datetime, cal: Calendar) -> tuple[bool, str, str | None]:
    """(open, reason, name) for a datetime already in cal.tz, by its local date and wall time."""
    day = local.date()
    name = cal.closures.get(day)
    if name is not None:
        return False, "closure", name
    name = _observed_on(day.year, cal.rules).get(day)
    if name is not None:
        return False, "holiday", name
    ranges = cal.hours[day.weekday()]
    if not ranges:
        return False, "weekend", None
    wall = local.time()  # naive wall-clock time; ranges are half-open [opens, closes)
    for opens, closes in ranges:
        if opens <= wall < closes:
            return True, "open", None
    if wall < ranges[0][0]:
        return False, "before_hours", None
    return False, "after_hours", None


def _opening_instant(day: date, opens: time, tz: ZoneInfo) -> datetime:
    """The first instant of local `day` whose wall clock reads `opens` or later.

    Normally `opens` itself (the first occurrence if the wall time repeats at fall-back). When
    `opens` does not exist (skipped at spring-forward) it is the instant the clock jumps.
    """
    wall = datetime.combine(day, opens)
    instant = wall.replace(tzinfo=tz, fold=0)
    if instant.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall:
        return instant
    # In the gap: fold=1 maps with the offset after the jump (an earlier UTC instant, when the
    # wall clock still reads before the gap), fold=0 with the offset before it (a later one).
    lo = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    hi = instant.astimezone(UTC)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) // 2
        if mid.astimezone(tz).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return hi.astimezone(tz)


def _next_open(local: datetime, cal: Calendar) -> datetime | None:
    """The first range opening after `local` within NEXT_OPEN_SEARCH_DAYS, else None.

    Exact whenever no range starts or ends inside an hour the clock repeats at fall-back (in the
    US that hour is 01:00-02:00). If one does, the wall clock going back can re-open the desk
    without an opening time passing; that re-opening is not reported.
    """
    after = local.astimezone(UTC)  # compare in UTC: same-zone comparison ignores fold
    first_day = local.date()
    for offset in range(NEXT_OPEN_SEARCH_DAYS + 1):
        day = first_day + timedelta(days=offset)
        if day in cal.closures or day in _observed_on(day.year, cal.rules):
            continue
        for opens, _closes in cal.hours[day.weekday()]:
            instant = _opening_instant(day, opens, cal.tz)
            # The second check drops a range that a spring-forward gap swallows whole.
            if instant.astimezone(UTC) > after and _decide(instant, cal)[0]:
                return instant
    return None


def status_at(now: datetime, cal: Calendar) -> OpenStatus:
    """Whether the desk is open at instant `now` (tz-aware), why not, and when it next opens."""
    local = _require_aware(now).astimezone(cal.tz)
    is_open_now, reason, name = _decide(local, cal)
    return OpenStatus(
        open=is_open_now,
        reason=reason,
        holiday_name=name,
        local=local,
        next_open=None if is_open_now else _next_open(local, cal),
    )


def is_open(now: datetime, cal: Calendar) -> bool:
    """Whether the desk is open at instant `now` (tz-aware); cheaper than `status_at`."""
    return _decide(_require_aware(now).astimezone(cal.tz), cal)[0]
