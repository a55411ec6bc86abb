"""ivr.speech_areas: a new issue's product area and urgency, keyed or said (issue #15 item 2), and
the hints of those two speech Gathers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casestore.types import Priority, ProductArea
from ivr.speech import normalize
from ivr.speech_areas import (
    AREA_KEYS,
    AREA_SYNONYMS,
    URGENCY_KEYS,
    URGENCY_SYNONYMS,
    area_choice,
    urgency_choice,
    urgency_priority,
)
from ivr.speech_hints import HINT_MAX_CHARS, hints_for

AREA_CASES = [
    ("grade book", "1"),
    ("Gradebook.", "1"),
    ("it's about grades", "1"),
    ("report cards", "1"),
    ("Report cards won't print", "1"),
    ("scheduling", "2"),
    ("the master schedule", "2"),
    ("attendance please", "3"),
    ("Attendance.", "3"),
    ("online registration", "4"),
    ("registration", "4"),
    ("enrollment", "4"),
    ("point of sale", "5"),
    ("the cafeteria", "5"),
    ("lunch", "5"),
    ("P O S", "5"),
    ("POS", "5"),
    ("state reporting", "6"),
    ("a state report", "6"),
    ("not sure", "0"),
    ("I'm not sure", "0"),
    ("I don't know", "0"),
    ("three", "3"),
    ("option three", "3"),
    ("zero", "0"),
    ("seven", None),  # a digit that is not an option
    ("repeat", "*"),
    # Spanish (accents as Twilio writes them, or not)
    ("libro de calificaciones", "1"),
    ("calificaciones", "1"),
    ("horarios", "2"),
    ("asistencia", "3"),
    ("inscripción en línea", "4"),
    ("inscripcion en linea", "4"),
    ("punto de venta", "5"),
    ("cafetería", "5"),
    ("informes estatales", "6"),
    ("no sé", "0"),
    ("tres", "3"),
    # nothing, or two answers: asked again
    ("attendance and the grade book", None),
    ("the weather", None),
    ("", None),
    ("   ", None),
    ("state", None),  # "state" alone is too common a word to be state reporting
]


@pytest.mark.parametrize(("text", "key"), AREA_CASES, ids=[t.strip() or "empty" for t, _ in AREA_CASES])
def test_area_choice(text, key):
    assert area_choice(text) == key


def test_area_choice_of_none_and_non_text():
    assert area_choice(None) is None
    assert area_choice(3) is None  # type: ignore[arg-type]


def test_area_keys_are_the_six_areas_and_general():
    assert {area for area in AREA_KEYS.values() if area is not None} == set(ProductArea)
    assert AREA_KEYS["0"] is None


def test_every_synonym_chooses_its_own_key():
    for table, choose in ((AREA_SYNONYMS, area_choice), (URGENCY_SYNONYMS, urgency_choice)):
        seen: dict[str, str] = {}
        for key, phrases in table.items():
            for phrase in phrases:
                assert phrase == phrase.lower() == " ".join(phrase.split()), phrase
                assert choose(phrase) == key, phrase
                spoken = " ".join(normalize(phrase))
                assert seen.setdefault(spoken, key) == key, f"{phrase!r} chooses two keys"


URGENCY_CASES = [
    ("our site is down", "1"),
    ("the site's down", "1"),
    ("down", "1"),
    ("no one can work", "1"),
    ("nobody can log in", "1"),
    ("it's an emergency", "1"),
    ("blocked", "2"),
    ("a deadline is blocked", "2"),
    ("it's urgent", "2"),
    ("time-sensitive", "2"),
    ("time sensitive", "2"),
    ("not urgent", "3"),  # the longer phrase wins over "urgent"
    ("no", "3"),
    ("otherwise", "3"),
    ("three", "3"),
    ("one", "1"),
    ("el sitio está caído", "1"),
    ("nadie puede trabajar", "1"),
    ("es urgente", "2"),
    ("no es urgente", "3"),
    ("yes", None),  # yes to which? asked again rather than guessed
    ("no, the site is down", None),  # two answers
    ("four", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "key"), URGENCY_CASES, ids=[t or "empty" for t, _ in URGENCY_CASES])
def test_urgency_choice(text, key):
    assert urgency_choice(text) == key


@pytest.mark.parametrize(
    ("key", "priority"),
    [
        ("1", Priority.CRITICAL),
        ("2", Priority.HIGH),
        ("3", Priority.MEDIUM),
        ("4", Priority.MEDIUM),
        ("*", Priority.MEDIUM),
        ("", Priority.MEDIUM),
        (None, Priority.MEDIUM),
    ],
)
def test_urgency_sets_the_priority(key, priority):
    assert urgency_priority(key) == priority


def test_urgency_keys_never_give_low():
    assert set(URGENCY_KEYS.values()) == {Priority.CRITICAL, Priority.HIGH, Priority.MEDIUM}


@given(st.text())
def test_the_parsers_never_raise_and_answer_only_a_key(text):
    assert area_choice(text) in {*AREA_KEYS, "*", None}
    assert urgency_choice(text) in {*URGENCY_KEYS, "*", None}
    assert urgency_priority(urgency_choice(text)) in set(URGENCY_KEYS.values())


@given(st.sampled_from(sorted(p for ps in AREA_SYNONYMS.values() for p in ps)), st.sampled_from(["", "please", "uh"]))
def test_a_synonym_with_filler_around_it_still_chooses(phrase, filler):
    key = area_choice(phrase)
    assert area_choice(f"{filler} {phrase} {filler}") == key


@pytest.mark.parametrize("kind", ["area", "urgency"])
@pytest.mark.parametrize("language", ["en-US", "es-US"])
def test_area_and_urgency_hints_are_within_twilios_limits(kind, language):
    entries = hints_for(kind, language).split(", ")
    assert entries and all(0 < len(e) <= HINT_MAX_CHARS and "," not in e for e in entries)


def test_area_hints_name_the_areas():
    assert {"grade book", "attendance", "point of sale", "state reporting"} <= set(hints_for("area").split(", "))
    assert {"asistencia", "punto de venta"} <= set(hints_for("area", "es-US").split(", "))
    assert "site down" in hints_for("urgency").split(", ")
