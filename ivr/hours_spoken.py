"""The support hours and the next opening as the caller hears them, built from the calendar (so an
hours edit changes what callers hear): "Monday through Friday, from 6 a.m. to 6 p.m. Central" and
"We open again tomorrow at 6 a.m. Central." Pure: `now` and the calendar are passed in."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from ivr.prompts import Language, say
from routing.calendar import Calendar, HoursRange, OpenStatus, WeeklyHours, holiday_name, status_at

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# The spoken name of a zone, by its abbreviation (standard or daylight time: the same name).
_ZONE_NAMES = {
    "EST": "Eastern",
    "EDT": "Eastern",
    "CST": "Central",
    "CDT": "Central",
    "MST": "Mountain",
    "MDT": "Mountain",
    "PST": "Pacific",
    "PDT": "Pacific",
    "AKST": "Alaska",
    "AKDT": "Alaska",
    "HST": "Hawaii",
    "HDT": "Hawaii",
}
# Beyond this many days ahead the weekday alone would be ambiguous: the date is said too.
_WEEKDAY_ONLY_DAYS = 6


def time_spoken(t: time) -> str:
    """6 a.m., 6:30 p.m., noon, midnight."""
    if t.minute == 0 and t.hour == 12:
        return "noon"
    if t.minute == 0 and t.hour == 0:
        return "midnight"
    hour = t.hour % 12 or 12
    suffix = "a.m." if t.hour < 12 else "p.m."
    return f"{hour} {suffix}" if t.minute == 0 else f"{hour}:{t.minute:02d} {suffix}"


def zone_spoken(cal: Calendar, at: datetime) -> str:
    """'Central' for America/Chicago, in summer and winter alike; else the zone's city."""
    abbreviation = at.astimezone(cal.tz).tzname() or ""
    return _ZONE_NAMES.get(abbreviation) or f"{cal.tz.key.rsplit('/', 1)[-1].replace('_', ' ')} time"


def _ranges_spoken(ranges: tuple[HoursRange, ...]) -> str:
    return " and ".join(f"from {time_spoken(opens)} to {time_spoken(closes)}" for opens, closes in ranges)


def _days_spoken(first: int, last: int) -> str:
    if first == last:
        return DAY_NAMES[first]
    if last == first + 1:
        return f"{DAY_NAMES[first]} and {DAY_NAMES[last]}"
    return f"{DAY_NAMES[first]} through {DAY_NAMES[last]}"


def hours_spoken(hours: WeeklyHours) -> str | None:
    """'Monday through Friday, from 6 a.m. to 6 p.m.' (consecutive days with the same hours
    together); None when the week has no hours at all."""
    groups: list[tuple[int, int, tuple[HoursRange, ...]]] = []
    for weekday in range(7):
        ranges = hours[weekday]
        if not ranges:
            continue
        if groups and groups[-1][1] == weekday - 1 and groups[-1][2] == ranges:
            groups[-1] = (groups[-1][0], weekday, ranges)
        else:
            groups.append((weekday, weekday, ranges))
    if not groups:
        return None
    parts = [f"{_days_spoken(first, last)}, {_ranges_spoken(ranges)}" for first, last, ranges in groups]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + ", and " + parts[-1]


def _closed_day_between(start: date, end: date, cal: Calendar) -> bool:
    """A holiday or closure on a local date after `start` and before `end`."""
    day = start + timedelta(days=1)
    while day < end:
        if holiday_name(day, cal) is not None:
            return True
        day += timedelta(days=1)
    return False


def when_spoken(now: datetime, opening: datetime, cal: Calendar) -> str:
    """'today at 6 a.m. Central', 'tomorrow at ...', 'Monday at ...', or 'on Monday, December 28,
    at ...' when a holiday or closure is skipped on the way or it is a week or more ahead."""
    today = now.astimezone(cal.tz).date()
    local = opening.astimezone(cal.tz)
    at = f"at {time_spoken(local.time().replace(second=0, microsecond=0))} {zone_spoken(cal, local)}"
    days = (local.date() - today).days
    if days == 0:
        return f"today {at}"
    if days == 1:
        return f"tomorrow {at}"
    weekday = DAY_NAMES[local.weekday()]
    if days <= _WEEKDAY_ONLY_DAYS and not _closed_day_between(today, local.date(), cal):
        return f"{weekday} {at}"
    return f"on {weekday}, {MONTH_NAMES[local.month - 1]} {local.day}, {at}"


def next_opening_spoken(now: datetime, cal: Calendar, lang: Language = "en") -> str | None:
    """'We open again tomorrow at 6 a.m. Central.'; None while open, or when no opening is
    within the calendar's search horizon."""
    status = status_at(now, cal)
    if status.open or status.next_open is None:
        return None
    return say("next_opening", lang=lang, when=when_spoken(now, status.next_open, cal))


def closed_sentences(status: OpenStatus, cal: Calendar, lang: Language = "en") -> list[str]:
    """Why the desk is closed (the holiday or closure by name, else the configured hours), then
    when it opens again."""
    if status.holiday_name:
        reason = say("closed_holiday", lang=lang, holiday=status.holiday_name)
    else:
        hours = hours_spoken(cal.hours)
        reason = (
            say("closed_hours", lang=lang, hours=hours, zone=zone_spoken(cal, status.local))
            if hours
            else say("closed_now", lang=lang)
        )
    if status.next_open is None:
        return [reason]
    return [reason, say("next_opening", lang=lang, when=when_spoken(status.local, status.next_open, cal))]
