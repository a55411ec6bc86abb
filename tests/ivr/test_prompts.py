"""ivr/prompts.py and ivr/prompts_es.py: both catalogues have every key with the same fields, `say`
tags the text with its language, and the spoken helpers."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casestore.types import HOLIDAY_RULES, CaseStatus
from ivr.prompts import CATALOGUES, LANGUAGES, PROMPTS, SPEECH, Spoken, minutes_spoken, retry_minutes_spoken, say
from ivr.prompts_es import CASE_STATUS_ES, HOLIDAYS_ES, PROMPTS_ES


@pytest.mark.parametrize(
    ("seconds", "spoken"),
    [
        (900, "15 minutes"),
        (899.5, "15 minutes"),
        (601, "11 minutes"),
        (60, "1 minute"),
        (1, "1 minute"),
        (0.2, "1 minute"),
    ],
)
def test_retry_minutes_round_up(seconds: float, spoken: str) -> None:
    assert retry_minutes_spoken(seconds) == spoken


# -- the two catalogues (issue #15 item 7) ------------------------------------------------------


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_key_is_in_both_languages() -> None:
    assert set(PROMPTS) == set(PROMPTS_ES)
    assert set(CATALOGUES) == set(LANGUAGES) == set(SPEECH)


@pytest.mark.parametrize("key", sorted(PROMPTS))
def test_each_key_has_the_same_fields_and_text_in_both(key: str) -> None:
    assert _fields(PROMPTS[key]) == _fields(PROMPTS_ES[key])
    assert PROMPTS[key].strip() and PROMPTS_ES[key].strip()
    assert PROMPTS_ES[key] == PROMPTS_ES[key].strip()


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("key", sorted(PROMPTS))
def test_say_tags_the_text_with_its_language(key: str, lang) -> None:
    fields = dict.fromkeys(_fields(PROMPTS[key]), "X")
    spoken = say(key, lang=lang, **fields)
    assert isinstance(spoken, Spoken) and spoken.language == lang
    assert "{" not in spoken and "}" not in spoken
    assert str(spoken) == CATALOGUES[lang][key].format(**fields)


def test_spanish_says_press_the_spanish_way() -> None:
    text = " ".join(PROMPTS_ES.values())
    for english in ("press", "pound", "star", "Goodbye", "Please"):
        assert english not in text
    assert "oprima" in text and "tecla de numeral" in text and "asterisco" in text


def test_the_offers_are_each_in_their_own_language() -> None:
    assert say("offer_spanish", lang="es") == "Para español, oprima nueve."
    assert say("offer_english", lang="en") == "For English, press 9."


def test_spanish_words_for_the_fields() -> None:
    assert set(CASE_STATUS_ES) == {status.value for status in CaseStatus}
    assert set(HOLIDAYS_ES) == set(HOLIDAY_RULES.values())


@given(st.floats(min_value=0, max_value=86400, allow_nan=False))
def test_minutes_are_said_in_the_language_asked(seconds: float) -> None:
    assert "minut" in minutes_spoken(seconds, "es") or minutes_spoken(seconds, "es") == "menos de un minuto"
    assert "minuto" in retry_minutes_spoken(seconds, "es")
    assert "minute" in retry_minutes_spoken(seconds, "en")
