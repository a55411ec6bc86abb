"""ivr.flow.answers: what a spoken answer to each of the line's questions amounts to (issue #15 item
1): the keys it stands for, a number to read back, or not understood; and the read-back's answer."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ivr.flow.answers import (
    AFTER_HOURS,
    CASE_NUMBER,
    CONTACT_ID_QUESTION,
    FOLLOWUP,
    MAIN_MENU,
    MAX_CASE_DIGITS,
    MIN_CASE_NUMBER,
    QUEUE_CHOICE,
    READBACK,
    READBACK_RETRIES,
    REOPEN,
    Heard,
    Question,
    confirmation,
    hear,
    heard,
    readback_answer,
)
from ivr.flow.env import CallInput
from ivr.speech_hints import hints_for
from ivr.speech_intents import CONFIDENCE_FLOOR
from ivr.state import CallState

UNCLEAR = Heard()
QUESTIONS = {
    "menu": MAIN_MENU,
    "contact_id": CONTACT_ID_QUESTION,
    "readback": READBACK,
    "reopen": REOPEN,
    "queue": QUEUE_CHOICE,
    "followup": FOLLOWUP,
    "after_hours": AFTER_HOURS,
}

CASES = [
    # question, SpeechResult, Confidence, what it amounts to
    ("menu", "two four one oh two five", "0.9", Heard(number="241025")),
    ("menu", "240117", "0.92", Heard(number="240117")),
    ("menu", "two forty one seventeen", "0.8", Heard(number="240117")),  # six digits, the usual
    ("menu", "two four one one seven", "0.8", Heard(number="24117")),  # five is a case number too
    ("menu", "My case number is 2 4 0 1 1 7.", "0.8", Heard(number="240117")),
    ("menu", "agent", "0.9", Heard(keys="0")),
    ("menu", "I'd like to talk to a representative", "0.9", Heard(keys="0")),  # its phrase, anywhere
    ("menu", "representative", "0.9", Heard(keys="0")),
    ("menu", "I don't have a case number", "0.9", Heard(keys="0")),
    ("menu", "zero", "0.9", Heard(keys="0")),
    ("menu", "outage", "0.9", Heard(keys="8")),
    ("menu", "our site is down", "0.9", Heard(keys="8")),
    ("menu", "eight", "0.9", Heard(keys="8")),
    ("menu", "option eight", "0.9", Heard(keys="8")),
    ("menu", "repeat", "0.9", Heard(keys="*")),
    ("menu", "star", "0.9", Heard(keys="*")),
    ("menu", "one", "0.9", Heard(keys="1")),  # a key the menu does not have: the menu says so
    ("menu", "one two three", "0.9", Heard(keys="123")),  # too short for a case number: keys, as typed
    ("menu", "one two three four five six seven eight nine ten", "0.9", UNCLEAR),  # too long
    ("menu", "I need help with case two four one", "0.9", UNCLEAR),  # a sentence is no number
    ("menu", "no, an agent", "0.9", Heard(keys="0")),  # "no" means nothing at the menu
    ("menu", "Oh.", "0.9", UNCLEAR),  # a sound, not a zero
    ("menu", "I don't know", "0.9", UNCLEAR),
    ("menu", "two four one oh two five", "0.3", UNCLEAR),  # below the floor
    ("menu", "agent", "0.49", UNCLEAR),
    ("menu", "agent", str(CONFIDENCE_FLOOR), Heard(keys="0")),  # at the floor: confident
    ("menu", "agent", "high", UNCLEAR),  # not a number: as unsure as can be
    ("menu", "agent", "1.5", UNCLEAR),
    ("menu", "agent", None, Heard(keys="0")),  # Twilio does not promise a Confidence
    ("menu", "agent", "", Heard(keys="0")),
    ("contact_id", "one oh four two three three", "0.9", Heard(number="104233")),
    ("contact_id", "1042", "0.9", Heard(number="1042")),
    ("contact_id", "five", "0.9", UNCLEAR),  # too short for a contact ID, and no menu
    ("contact_id", "agent", "0.9", UNCLEAR),  # no advisor before verification
    ("contact_id", "one oh four two three three", "0.2", UNCLEAR),
    ("readback", "yes", "0.9", Heard(keys="1")),
    ("readback", "Yeah, that's right.", "0.9", Heard(keys="1")),
    ("readback", "no", "0.9", Heard(keys="2")),
    ("readback", "nope, wrong", "0.9", Heard(keys="2")),
    ("readback", "not right", "0.9", Heard(keys="2")),
    ("readback", "one", "0.9", Heard(keys="1")),
    ("readback", "two four one oh two five", "0.9", UNCLEAR),  # the number again: not a yes
    ("readback", "Yes, two four one oh two five.", "0.9", Heard(keys="1")),
    ("readback", "yes two", "0.9", UNCLEAR),  # 1 or 2?
    ("readback", "yes", "0.1", UNCLEAR),
    ("reopen", "yes", "0.9", Heard(keys="1")),
    ("reopen", "reopen it", "0.9", Heard(keys="1")),
    ("reopen", "no", "0.9", Heard(keys="*")),
    ("reopen", "main menu", "0.9", Heard(keys="*")),
    ("queue", "leave a message", "0.9", Heard(keys="1")),
    ("queue", "call me back", "0.9", Heard(keys="2")),
    ("queue", "callback", "0.9", Heard(keys="2")),
    ("queue", "keep my place", "0.9", Heard(keys="*")),
    ("queue", "two", "0.9", Heard(keys="2")),
    ("queue", "pizza", "0.9", UNCLEAR),
    ("followup", "yes", "0.9", Heard(keys="1")),
    ("followup", "it's resolved", "0.9", Heard(keys="1")),
    ("followup", "not resolved", "0.9", Heard(keys="3")),  # "resolved" inside says nothing
    ("followup", "keep it open", "0.9", Heard(keys="3")),
    ("followup", "no", "0.9", Heard(keys="3")),
    ("followup", "advisor", "0.9", Heard(keys="2")),
    ("followup", "three", "0.9", Heard(keys="3")),
    # The after-hours offer (1 a message, 2 a callback, 8 an outage, star again): its own words
    # only, so "a message for an advisor" is a message, not the main menu's advisor.
    ("after_hours", "message", "0.9", Heard(keys="1")),
    ("after_hours", "I'd like to leave a message for an advisor", "0.9", Heard(keys="1")),
    ("after_hours", "voicemail", "0.9", Heard(keys="1")),
    ("after_hours", "one", "0.9", Heard(keys="1")),
    ("after_hours", "have an advisor call me back please", "0.9", Heard(keys="2")),
    ("after_hours", "call back", "0.9", Heard(keys="2")),
    ("after_hours", "two", "0.9", Heard(keys="2")),
    ("after_hours", "que me llamen", "0.9", Heard(keys="2")),
    ("after_hours", "quiero dejar un mensaje para un asesor", "0.9", Heard(keys="1")),
    ("after_hours", "our site is down", "0.9", Heard(keys="8")),
    ("after_hours", "repeat", "0.9", Heard(keys="*")),
    ("after_hours", "a message, or a callback", "0.9", Heard()),  # two of its choices: which?
    ("after_hours", "an agent", "0.9", Heard()),  # not an option here
    ("after_hours", "three", "0.9", Heard(keys="3")),  # the key 3: the stage says it is no option
    ("after_hours", "message", "0.2", Heard()),
]


@pytest.mark.parametrize(("question", "speech", "confidence", "expected"), CASES)
def test_what_speech_amounts_to(question, speech, confidence, expected):
    assert hear(speech, confidence, QUESTIONS[question]) == expected


@pytest.mark.parametrize("speech", [None, "", "   "])
def test_no_speech_is_the_keypad_path(speech):
    assert hear(speech, "0.9", MAIN_MENU) is None


def test_keys_pressed_are_never_interpreted():
    inp = CallInput(step="menu", sid="CA1", digits="0", form={"SpeechResult": "outage", "Confidence": "0.9"})
    assert heard(inp, MAIN_MENU) is None
    spoken = CallInput(step="menu", sid="CA1", form={"SpeechResult": "outage", "Confidence": "0.9"})
    assert heard(spoken, MAIN_MENU) == Heard(keys="8")


def test_the_case_number_lengths_are_the_menus():
    assert CASE_NUMBER.lengths == range(len(str(MIN_CASE_NUMBER)), MAX_CASE_DIGITS + 1)


@pytest.mark.parametrize("question", QUESTIONS.values(), ids=QUESTIONS.keys())
def test_every_question_has_hints_and_its_keys_are_keypad_keys(question: Question):
    assert hints_for(question.hints) and hints_for(question.hints, "es-US")
    assert all(len(key) == 1 and key in "0123456789*" for key in question.words)


def _inp(digits=None, speech=None, confidence="0.9", noinput=False):
    form = {"SpeechResult": speech, "Confidence": confidence} if speech is not None else {}
    return CallInput(
        step="case-confirm", sid="CA1", digits=digits, form=form, query={"noinput": "1"} if noinput else {}
    )


@pytest.mark.parametrize(
    ("inp", "answer"),
    [
        (_inp(digits="1"), "yes"),
        (_inp(digits="2"), "no"),
        (_inp(digits="1#"), "yes"),
        (_inp(digits="5"), "again"),
        (_inp(speech="yes"), "yes"),
        (_inp(speech="no"), "no"),
        (_inp(speech="yes", confidence="0.2"), "again"),
        (_inp(speech="maybe"), "again"),
        (_inp(noinput=True), "silent"),
    ],
)
def test_confirmation(inp, answer):
    assert confirmation(inp) == answer


def test_a_read_back_is_not_asked_forever():
    state = CallState(sid="CA1")
    answers = [readback_answer(_inp(speech="maybe"), state) for _ in range(READBACK_RETRIES + 1)]
    assert answers == ["again"] * READBACK_RETRIES + ["no"]
    assert readback_answer(_inp(speech="yes"), state) == "yes"  # a clear answer still counts


WORDS = (
    "two four oh one seventeen forty hundred thousand double triple agent outage yes no star "
    "repeat keep it open call me back resolved not a y dos veinti , - . 7 24 0"
)
TEXT = st.one_of(st.text(max_size=60), st.lists(st.sampled_from(WORDS.split()), max_size=12).map(" ".join))
CONFIDENCE = st.one_of(
    st.none(),
    st.text(max_size=8),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["0", "1", "0.5", "0.49999", "-0.1", "1e400", "nan", "inf", " 0.9 ", "0x1"]),
)


@settings(max_examples=400, deadline=None)
@given(speech=TEXT, confidence=CONFIDENCE, question=st.sampled_from(list(QUESTIONS.values())))
@example(speech="\x00", confidence="0.9", question=MAIN_MENU)
@example(speech="nine" * 200, confidence="0.9", question=CONTACT_ID_QUESTION)
def test_any_speech_and_confidence_give_a_defined_answer(speech, confidence, question):
    answer = hear(speech, confidence, question)  # never raises
    if not speech.strip():
        assert answer is None
        return
    assert isinstance(answer, Heard)
    assert not (answer.keys and answer.number)
    if answer.number:
        assert question.number is not None and answer.number.isdigit()
        assert len(answer.number) in question.number.lengths
    if answer.keys:
        assert question.words, "a question without words takes no keys by voice"
        assert answer.keys in question.words or answer.keys.isdigit()
    if not answer.unclear:  # a confident answer only
        value = None if confidence is None or not confidence.strip() else float(confidence)
        assert value is None or value >= CONFIDENCE_FLOOR
