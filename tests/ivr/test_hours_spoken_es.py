"""ivr/hours_spoken.py in Spanish (issue #15 item 7): the same calendars as test_hours_spoken.py,
table-tested in both languages, so an hours edit changes what Spanish callers hear too."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.hours_spoken import (
    closed_sentences,
    date_spoken,
    holiday_spoken,
    hours_spoken,
    next_opening_spoken,
    time_spoken,
    zone_spoken,
)
from ivr.prompts import Spoken
from routing.calendar import Calendar, WeeklyHours, default_calendar, observed_holidays, status_at

CHI = ZoneInfo("America/Chicago")
DEFAULT = default_calendar()


def at(y: int, mo: int, d: int, h: int, mi: int = 0, tz: ZoneInfo = CHI) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz)


def _cal(hours: dict[int, list[tuple[time, time]]], tz: str = "America/Chicago") -> Calendar:
    return Calendar(tz=ZoneInfo(tz), hours=WeeklyHours.from_mapping(hours), rules=DEFAULT.rules, closures={})


EDITED = _cal(
    {
        **{d: [(time(7, 30), time(12)), (time(13), time(17))] for d in range(4)},
        4: [(time(7, 30), time(12))],
        6: [(time(2, 30), time(5))],
    }
)


@pytest.mark.parametrize(
    ("now", "english", "spanish"),
    [
        (at(2026, 12, 2, 5, 0), "today at 6 a.m. Central", "hoy a las 6 a. m., hora del Centro"),
        (at(2026, 12, 2, 19, 0), "tomorrow at 6 a.m. Central", "mañana a las 6 a. m., hora del Centro"),
        (at(2026, 12, 5, 10, 0), "Monday at 6 a.m. Central", "el lunes a las 6 a. m., hora del Centro"),
        (
            at(2026, 11, 26, 10, 0),
            "on Monday, November 30, at 6 a.m. Central",
            "el lunes 30 de noviembre a las 6 a. m., hora del Centro",
        ),
        (
            at(2026, 12, 24, 9, 0),
            "on Monday, December 28, at 6 a.m. Central",
            "el lunes 28 de diciembre a las 6 a. m., hora del Centro",
        ),
        (
            at(2026, 12, 31, 18, 30),
            "on Monday, January 4, at 6 a.m. Central",
            "el lunes 4 de enero a las 6 a. m., hora del Centro",
        ),
        # spring forward: CST then CDT, "hora del Centro" both
        (at(2026, 3, 8, 1, 30), "tomorrow at 6 a.m. Central", "mañana a las 6 a. m., hora del Centro"),
    ],
)
def test_next_opening_in_both_languages(now: datetime, english: str, spanish: str) -> None:
    assert next_opening_spoken(now, DEFAULT) == f"We open again {english}."
    es = next_opening_spoken(now, DEFAULT, "es")
    assert es == f"Volvemos a abrir {spanish}."
    assert isinstance(es, Spoken) and es.language == "es"


@pytest.mark.parametrize(
    ("now", "english", "spanish"),
    [
        (at(2026, 12, 2, 12, 30), "today at 1 p.m. Central", "hoy a la 1 p. m., hora del Centro"),
        (at(2026, 12, 4, 12, 0), "Sunday at 2:30 a.m. Central", "el domingo a las 2:30 a. m., hora del Centro"),
        (at(2026, 12, 6, 6, 0), "tomorrow at 7:30 a.m. Central", "mañana a las 7:30 a. m., hora del Centro"),
        (at(2026, 3, 8, 1, 0), "today at 3 a.m. Central", "hoy a las 3 a. m., hora del Centro"),
    ],
)
def test_next_opening_follows_an_hours_edit_in_both_languages(now: datetime, english: str, spanish: str) -> None:
    assert next_opening_spoken(now, EDITED) == f"We open again {english}."
    assert next_opening_spoken(now, EDITED, "es") == f"Volvemos a abrir {spanish}."


def test_a_closure_keeps_its_name_and_shifts_the_date() -> None:
    cal = replace(DEFAULT, closures={date(2026, 12, 7): "staff training"})
    assert next_opening_spoken(at(2026, 12, 4, 19, 0), cal, "es") == (
        "Volvemos a abrir el martes 8 de diciembre a las 6 a. m., hora del Centro."
    )
    assert closed_sentences(status_at(at(2026, 12, 7, 10, 0), cal), cal, "es") == [
        "El soporte en vivo está cerrado hoy por staff training.",
        "Volvemos a abrir mañana a las 6 a. m., hora del Centro.",
    ]


@pytest.mark.parametrize(
    ("hours", "english", "spanish"),
    [
        (DEFAULT.hours, "Monday through Friday, from 6 a.m. to 6 p.m.", "de lunes a viernes, de 6 a. m. a 6 p. m."),
        (
            EDITED.hours,
            "Monday through Thursday, from 7:30 a.m. to noon and from 1 p.m. to 5 p.m., "
            "Friday, from 7:30 a.m. to noon, and Sunday, from 2:30 a.m. to 5 a.m.",
            "de lunes a jueves, de 7:30 a. m. a 12 del mediodía y de 1 p. m. a 5 p. m., "
            "los viernes, de 7:30 a. m. a 12 del mediodía, y los domingos, de 2:30 a. m. a 5 a. m.",
        ),
        (
            _cal({5: [(time(9), time(12))], 6: [(time(9), time(12))]}).hours,
            "Saturday and Sunday, from 9 a.m. to noon",
            "sábado y domingo, de 9 a. m. a 12 del mediodía",
        ),
        (
            _cal({2: [(time(0), time(23, 30))]}).hours,
            "Wednesday, from midnight to 11:30 p.m.",
            "los miércoles, de 12 de la noche a 11:30 p. m.",
        ),
    ],
)
def test_hours_in_both_languages(hours: WeeklyHours, english: str, spanish: str) -> None:
    assert hours_spoken(hours) == english
    assert hours_spoken(hours, "es") == spanish


def test_no_hours_in_either_language() -> None:
    assert hours_spoken(_cal({}).hours, "es") is None
    never = _cal({})
    assert closed_sentences(status_at(at(2026, 12, 2, 10, 0), never), never, "es") == [
        "El soporte en vivo está cerrado en este momento."
    ]


@pytest.mark.parametrize(
    ("t", "english", "spanish"),
    [
        (time(6), "6 a.m.", "6 a. m."),
        (time(18), "6 p.m.", "6 p. m."),
        (time(12), "noon", "12 del mediodía"),
        (time(0), "midnight", "12 de la noche"),
        (time(0, 30), "12:30 a.m.", "12:30 a. m."),
        (time(12, 5), "12:05 p.m.", "12:05 p. m."),
        (time(23, 59), "11:59 p.m.", "11:59 p. m."),
    ],
)
def test_time_in_both_languages(t: time, english: str, spanish: str) -> None:
    assert time_spoken(t) == english
    assert time_spoken(t, "es") == spanish


@pytest.mark.parametrize(
    ("tz", "english", "spanish"),
    [
        ("America/New_York", "Eastern", "hora del Este"),
        ("America/Chicago", "Central", "hora del Centro"),
        ("America/Denver", "Mountain", "hora de la Montaña"),
        ("America/Phoenix", "Mountain", "hora de la Montaña"),
        ("America/Los_Angeles", "Pacific", "hora del Pacífico"),
        ("America/Anchorage", "Alaska", "hora de Alaska"),
        ("Pacific/Honolulu", "Hawaii", "hora de Hawái"),
        ("Asia/Tokyo", "Tokyo time", "hora de Tokyo"),
    ],
)
def test_zone_names_in_both_languages(tz: str, english: str, spanish: str) -> None:
    cal = _cal({d: [(time(6), time(18))] for d in range(5)}, tz)
    for month in (1, 7):
        when = datetime(2026, month, 7, 19, tzinfo=ZoneInfo(tz))
        assert zone_spoken(cal, when) == english
        assert zone_spoken(cal, when, "es") == spanish


def test_closed_sentences_in_spanish() -> None:
    assert closed_sentences(status_at(at(2026, 12, 2, 19, 0), DEFAULT), DEFAULT, "es") == [
        "El soporte en vivo está disponible de lunes a viernes, de 6 a. m. a 6 p. m., hora del Centro, "
        "y en este momento está cerrado.",
        "Volvemos a abrir mañana a las 6 a. m., hora del Centro.",
    ]
    assert closed_sentences(status_at(at(2026, 11, 26, 10, 0), DEFAULT), DEFAULT, "es") == [
        "El soporte en vivo está cerrado hoy por el Día de Acción de Gracias.",
        "Volvemos a abrir el lunes 30 de noviembre a las 6 a. m., hora del Centro.",
    ]
    sentences = closed_sentences(status_at(at(2026, 11, 26, 10, 0), DEFAULT), DEFAULT, "es")
    assert all(isinstance(s, Spoken) and s.language == "es" for s in sentences)


def test_every_policy_holiday_has_a_spanish_name() -> None:
    for year in (2026, 2027, 2028):
        for name in observed_holidays(year).values():
            assert holiday_spoken(name, "es") != name or name == "Juneteenth"
            assert holiday_spoken(name) == name
    assert holiday_spoken("Christmas Eve and Christmas Day", "es") == "Nochebuena y el Día de Navidad"


def test_dates() -> None:
    assert date_spoken(date(2026, 11, 30)) == "November 30"
    assert date_spoken(date(2026, 11, 30), "es") == "30 de noviembre"
    assert date_spoken(date(2027, 1, 4), "es") == "4 de enero"


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(CHI)))  # noqa: DTZ001
def test_spanish_is_said_whenever_english_is(now: datetime) -> None:
    english = next_opening_spoken(now, DEFAULT)
    spanish = next_opening_spoken(now, DEFAULT, "es")
    assert (english is None) == (spanish is None)
    if spanish is not None:
        assert spanish.startswith("Volvemos a abrir ") and spanish.endswith(", hora del Centro.")
        assert not any(word in spanish for word in ("today", "tomorrow", "Monday", "Central", "a.m."))
        assert len(closed_sentences(status_at(now, DEFAULT), DEFAULT, "es")) == 2
