"""ivr.speech_intents: what a caller says instead of a key (intents, a menu's choice) and Twilio's
Confidence against the floor (issue #15 item 1, the parser)."""

from __future__ import annotations

import pytest

from ivr.speech_intents import (
    AFTER_HOURS_KEYS,
    CONFIDENCE_FLOOR,
    MAIN_MENU_KEYS,
    SYNONYMS,
    Intent,
    confidence,
    is_confident,
    menu_choice,
    parse_intent,
)

INTENT_CASES = [
    ("agent", Intent.AGENT),
    ("I want to talk to a representative", Intent.AGENT),
    ("Operator.", Intent.AGENT),
    ("a real person please", Intent.AGENT),
    ("customer service", Intent.AGENT),
    ("quiero hablar con un agente", Intent.AGENT),
    ("outage", Intent.OUTAGE),
    ("our site is down", Intent.OUTAGE),
    ("The website's down", None),  # "website's" is one word the table does not list
    ("the server is down", Intent.OUTAGE),
    ("el sitio está caído", Intent.OUTAGE),
    ("yes", Intent.YES),
    ("Yeah, that's right.", Intent.YES),
    ("sí", Intent.YES),
    ("no", Intent.NO),
    ("nope", Intent.NO),
    ("repeat", Intent.REPEAT),
    ("no, an agent", None),  # two intents: ambiguous
    ("I don't know", None),
    ("240117", None),
    ("", None),
    ("agents", None),  # whole words only
]


@pytest.mark.parametrize(("text", "intent"), INTENT_CASES, ids=[t or "empty" for t, _ in INTENT_CASES])
def test_parse_intent(text, intent):
    assert parse_intent(text) == intent


def test_synonyms_are_normalised_phrases_of_one_intent():
    seen: dict[str, Intent] = {}
    for intent, phrases in SYNONYMS.items():
        for phrase in phrases:
            assert phrase == " ".join(phrase.split()) == phrase.lower()
            assert parse_intent(phrase) == intent, phrase
            assert seen.setdefault(phrase, intent) == intent, f"{phrase!r} says two intents"


MENU_CASES = [
    ("eight", "8"),
    ("option eight", "8"),
    ("8", "8"),
    ("outage", "8"),
    ("my site is down", "8"),
    ("agent", "0"),
    ("zero", "0"),
    ("repeat", "*"),
    ("five", None),  # not an option of this menu
    ("forty", None),
    ("I don't know", None),
]


@pytest.mark.parametrize(("text", "key"), MENU_CASES, ids=[t for t, _ in MENU_CASES])
def test_menu_choice_on_the_main_menu(text, key):
    assert menu_choice(text, options=("1", "2", "8", "0", "*")) == key


def test_menu_choice_with_other_keys():
    follow_up = {Intent.YES: "1", Intent.AGENT: "2", Intent.NO: "3"}
    assert menu_choice("yes", options="123", keys=follow_up) == "1"
    assert menu_choice("an advisor please", options="123", keys=follow_up) == "2"
    assert menu_choice("outage", options="123", keys=follow_up) is None
    assert MAIN_MENU_KEYS[Intent.OUTAGE] == "8"


CONFIDENCE_CASES = [
    ("0.92", 0.92, True),
    ("0.5", 0.5, True),
    (" 0.7 ", 0.7, True),
    ("0.49", 0.49, False),
    ("0", 0.0, False),
    ("1", 1.0, True),
    (0.8, 0.8, True),
    (None, None, False),
    ("", None, False),
    ("high", None, False),
    ("nan", None, False),
    ("inf", None, False),
    ("1.5", None, False),
    ("-0.1", None, False),
    (True, None, False),
]


@pytest.mark.parametrize(("raw", "value", "confident"), CONFIDENCE_CASES, ids=[repr(c[0]) for c in CONFIDENCE_CASES])
def test_confidence(raw, value, confident):
    assert confidence(raw) == value
    assert is_confident(raw) is confident


def test_missing_confidence_is_low_whatever_the_floor():
    assert not is_confident(None, floor=0.0)
    assert not is_confident("garbage", floor=0.0)
    assert is_confident("0.2", floor=0.1) and not is_confident("0.2", floor=0.3)
    assert 0 < CONFIDENCE_FLOOR < 1


# Issue #15 item 3: the after-hours offer (1 a message, 2 a callback, 8 an outage, star again). Its
# prompt names an advisor, so only its own intents are listened for (`among_keys`).
AFTER_HOURS_CASES = [
    ("message", "1"),
    ("I'd like to leave a message for an advisor", "1"),
    ("voicemail", "1"),
    ("one", "1"),
    ("callback", "2"),
    ("call me back", "2"),
    ("have an advisor call me back please", "2"),
    ("call back", "2"),
    ("two", "2"),
    ("que me llamen", "2"),
    ("quiero dejar un mensaje para un asesor", "1"),
    ("our site is down", "8"),
    ("repeat", "*"),
    ("a message, or a callback", None),  # two of its intents: ambiguous
    ("an agent", None),  # not an option here
    ("three", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "key"), AFTER_HOURS_CASES, ids=[t or "empty" for t, _ in AFTER_HOURS_CASES])
def test_menu_choice_after_hours(text, key):
    assert menu_choice(text, options=("1", "2", "8", "*"), keys=AFTER_HOURS_KEYS, among_keys=True) == key


def test_among_keys_leaves_the_other_menus_as_they_were():
    # Without `among_keys` every intent counts: "a message for an advisor" says two, as before.
    assert parse_intent("a message for an advisor") is None
    assert parse_intent("a message for an advisor", among={Intent.MESSAGE}) == Intent.MESSAGE
    assert menu_choice("an advisor please", options="0") == "0"


def test_no_callback_offered_means_no_callback_heard():
    assert menu_choice("call me back", options=("1", "8", "*"), keys=AFTER_HOURS_KEYS, among_keys=True) is None
