"""The support hours and the next opening as the caller hears them, built from the calendar (so an
hours edit changes what callers hear), in the call's language: "Monday through Friday, from 6 a.m.
to 6 p.m. Central" / "de lunes a viernes, de 6 a. m. a 6 p. m., hora del Centro", and "We open
again tomorrow at 6 a.m. Central." / "Volvemos a abrir mañana a las 6 a. m., hora del Centro."
Pure: `now` and the calendar are passed in."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from ivr.prompts import Language, say
from ivr.prompts_es import HOLIDAYS_ES
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
DAY_NAMES_ES = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
MONTH_NAMES_ES = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
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
_ZONE_NAMES_ES = {
    "Eastern": "hora del Este",
    "Central": "hora del Centro",
    "Mountain": "hora de la Montaña",
    "Pacific": "hora del Pacífico",
    "Alaska": "hora de Alaska",
    "Hawaii": "hora de Hawái",
}
# Beyond this many days ahead the weekday alone would be ambiguous: the date is said too.
_WEEKDAY_ONLY_DAYS = 6


def time_spoken(t: time, lang: Language = "en") -> str:
    """6 a.m., 6:30 p.m., noon, midnight; in Spanish 6 a. m., 6:30 p. m., 12 del mediodía, 12 de la noche."""
    if lang == "es":
        if t.minute == 0 and t.hour in (0, 12):
            return "12 del mediodía" if t.hour == 12 else "12 de la noche"
        suffix = "a. m." if t.hour < 12 else "p. m."
    else:
        if t.minute == 0 and t.hour == 12:
            return "noon"
        if t.minute == 0 and t.hour == 0:
            return "midnight"
        suffix = "a.m." if t.hour < 12 else "p.m."
    hour = t.hour % 12 or 12
    return f"{hour} {suffix}" if t.minute == 0 else f"{hour}:{t.minute:02d} {suffix}"


def _at_time_es(t: time) -> str:
    """'a las 6 a. m.', but 'a la 1 p. m.' (one o'clock is singular)."""
    return f"{'a la' if t.hour % 12 == 1 else 'a las'} {time_spoken(t, 'es')}"


def zone_spoken(cal: Calendar, at: datetime, lang: Language = "en") -> str:
    """'Central' ('hora del Centro') for America/Chicago, in summer and winter alike; else the zone's city."""
    abbreviation = at.astimezone(cal.tz).tzname() or ""
    name = _ZONE_NAMES.get(abbreviation)
    city = cal.tz.key.rsplit("/", 1)[-1].replace("_", " ")
    if lang == "es":
        return _ZONE_NAMES_ES[name] if name else f"hora de {city}"
    return name or f"{city} time"


def _ranges_spoken(ranges: tuple[HoursRange, ...], lang: Language) -> str:
    if lang == "es":
        return " y ".join(f"de {time_spoken(opens, 'es')} a {time_spoken(closes, 'es')}" for opens, closes in ranges)
    return " and ".join(f"from {time_spoken(opens)} to {time_spoken(closes)}" for opens, closes in ranges)


def _days_spoken(first: int, last: int, lang: Language) -> str:
    if lang == "es":
        names = DAY_NAMES_ES
        if first == last:  # "los lunes", "los sábados"
            return f"los {names[first]}" if names[first].endswith("s") else f"los {names[first]}s"
        if last == first + 1:
            return f"{names[first]} y {names[last]}"
        return f"de {names[first]} a {names[last]}"
    if first == last:
        return DAY_NAMES[first]
    if last == first + 1:
        return f"{DAY_NAMES[first]} and {DAY_NAMES[last]}"
    return f"{DAY_NAMES[first]} through {DAY_NAMES[last]}"


def hours_spoken(hours: WeeklyHours, lang: Language = "en") -> str | None:
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
    parts = [f"{_days_spoken(first, last, lang)}, {_ranges_spoken(ranges, lang)}" for first, last, ranges in groups]
    last_joint = ", y " if lang == "es" else ", and "
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + last_joint + parts[-1]


def _closed_day_between(start: date, end: date, cal: Calendar) -> bool:
    """A holiday or closure on a local date after `start` and before `end`."""
    day = start + timedelta(days=1)
    while day < end:
        if holiday_name(day, cal) is not None:
            return True
        day += timedelta(days=1)
    return False


def date_spoken(day: date, lang: Language = "en") -> str:
    """'November 30' / '30 de noviembre'."""
    if lang == "es":
        return f"{day.day} de {MONTH_NAMES_ES[day.month - 1]}"
    return f"{MONTH_NAMES[day.month - 1]} {day.day}"


def when_spoken(now: datetime, opening: datetime, cal: Calendar, lang: Language = "en") -> str:
    """'today at 6 a.m. Central', 'tomorrow at ...', 'Monday at ...', or 'on Monday, December 28,
    at ...' when a holiday or closure is skipped on the way or it is a week or more ahead; in
    Spanish 'hoy', 'mañana', 'el lunes', 'el lunes 28 de diciembre', 'a las 6 a. m., hora del Centro'."""
    today = now.astimezone(cal.tz).date()
    local = opening.astimezone(cal.tz)
    clock = local.time().replace(second=0, microsecond=0)
    days = (local.date() - today).days
    weekday_only = days <= _WEEKDAY_ONLY_DAYS and not _closed_day_between(today, local.date(), cal)
    if lang == "es":
        at = f"{_at_time_es(clock)}, {zone_spoken(cal, local, 'es')}"
        weekday_es = DAY_NAMES_ES[local.weekday()]
        day = {0: "hoy", 1: "mañana"}.get(days) or (
            f"el {weekday_es}" if weekday_only else f"el {weekday_es} {date_spoken(local.date(), 'es')}"
        )
        return f"{day} {at}"
    at = f"at {time_spoken(clock)} {zone_spoken(cal, local)}"
    if days == 0:
        return f"today {at}"
    if days == 1:
        return f"tomorrow {at}"
    weekday = DAY_NAMES[local.weekday()]
    if weekday_only:
        return f"{weekday} {at}"
    return f"on {weekday}, {date_spoken(local.date())}, {at}"


def holiday_spoken(name: str, lang: Language = "en") -> str:
    """A holiday's name in `lang` (the policy's holidays; an admin's closure keeps its own name,
    and two holidays on one date, 'A and B', are each translated)."""
    if lang != "es":
        return name
    if name in HOLIDAYS_ES:
        return HOLIDAYS_ES[name]
    parts = name.split(" and ")
    if len(parts) > 1 and all(part in HOLIDAYS_ES for part in parts):
        return " y ".join(HOLIDAYS_ES[part] for part in parts)
    return name


def next_opening_spoken(now: datetime, cal: Calendar, lang: Language = "en") -> str | None:
    """'We open again tomorrow at 6 a.m. Central.'; None while open, or when no opening is
    within the calendar's search horizon."""
    status = status_at(now, cal)
    if status.open or status.next_open is None:
        return None
    return say("next_opening", lang=lang, when=when_spoken(now, status.next_open, cal, lang))


def closed_sentences(status: OpenStatus, cal: Calendar, lang: Language = "en") -> list[str]:
    """Why the desk is closed (the holiday or closure by name, else the configured hours), then
    when it opens again."""
    if status.holiday_name:
        reason = say("closed_holiday", lang=lang, holiday=holiday_spoken(status.holiday_name, lang))
    else:
        hours = hours_spoken(cal.hours, lang)
        reason = (
            say("closed_hours", lang=lang, hours=hours, zone=zone_spoken(cal, status.local, lang))
            if hours
            else say("closed_now", lang=lang)
        )
    if status.next_open is None:
        return [reason]
    return [reason, say("next_opening", lang=lang, when=when_spoken(status.local, status.next_open, cal, lang))]
