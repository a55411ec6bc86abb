"""What a spoken answer to one of the line's questions amounts to: the keys it stands for, a number
to read back, or nothing understood. Every stage that listens for speech asks `heard` here, so the
decision lives in one place; keys pressed never come here (each stage reads them as it always has).

A question (`Question`: the main menu, the contact ID, a read-back, the reopen offer, the choices
on hold, the after-hours offer, the follow-up call's menu) has its own words for its keys ("agent"
is 0 at the main menu, "outage" 8, "repeat" star), and may take a number (a case number, a contact ID). `heard` gives:
  * None: the caller did not speak (they pressed keys, or there was nothing): the keypad path;
  * `Heard(keys=...)`: the keys the words stand for, handled exactly as if pressed. A phrase of
    the question's table is its key; a spoken digit is that key ("eight" is 8, "one" is 1 even
    where 1 means nothing: the stage says so as for the key); at the main menu a number too short
    for a case number is the keys it would be typed as;
  * `Heard(number=...)`: a number of the question's lengths, which the stage reads back ("I heard
    2 4 1 0 2 5", `twiml._read_back`) and uses only after a yes (`readback_answer`); a keyed number
    is never read back;
  * `Heard()` (`unclear`): the recogniser was not sure enough (Twilio's `Confidence` below
    `CONFIDENCE_FLOOR`, or not a number), or the words are no answer to this question (a phrase
    with another key or number beside it, "yes, two", is none either). The stage says "Sorry, I
    didn't catch that." and asks again, counted like a wrong entry, so never forever.

A request with no `Confidence` at all is taken at its words: Twilio does not promise the field,
and a number is read back before it is used anyway. PINs are never asked for by voice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from ivr.flow.env import CallInput
from ivr.speech import normalize, parse_digits
from ivr.speech_hints import HintKind
from ivr.speech_intents import CONFIDENCE_FLOOR, SYNONYMS, Intent, PhraseTable, confidence, phrase_choice
from ivr.state import CallState


@dataclass(frozen=True)
class NumberShape:
    """The digit counts a spoken number may have, and the usual one, tried first: "two forty one
    seventeen" is 240117 where numbers have six digits, not 24117."""

    usual: int
    lengths: range


MIN_CASE_NUMBER = 10000  # case numbers have at least five digits; menu keys are one digit
MAX_CASE_DIGITS = 9  # ... and at most nine
CASE_NUMBER = NumberShape(usual=6, lengths=range(len(str(MIN_CASE_NUMBER)), MAX_CASE_DIGITS + 1))
CONTACT_ID = NumberShape(usual=6, lengths=range(4, 11))  # casestore.interchange.fields: 4 to 10 digits


@dataclass(frozen=True)
class Question:
    """One question of the line as speech hears it: the hints of its Gather, the phrases that say
    each of its keys, and the number it takes (None: keys only)."""

    hints: HintKind
    words: PhraseTable = field(default_factory=dict)
    number: NumberShape | None = None


@dataclass(frozen=True)
class Heard:
    """A spoken answer: `keys` it stands for, or a `number` to read back; neither: not understood."""

    keys: str = ""
    number: str = ""

    @property
    def unclear(self) -> bool:
        return not self.keys and not self.number


STAR = "*"
KEYPAD = "0123456789*#"
MAIN_MENU = Question(
    "menu",
    MappingProxyType(
        {
            "0": (
                *SYNONYMS[Intent.AGENT],
                "no case number",
                "don't have a case number",
                "new issue",
                "new problem",
                "sin numero de caso",
            ),
            "8": SYNONYMS[Intent.OUTAGE],
            STAR: SYNONYMS[Intent.REPEAT],
        }
    ),
    number=CASE_NUMBER,
)
CONTACT_ID_QUESTION = Question("contact_id", number=CONTACT_ID)
READBACK = Question("yes_no", MappingProxyType({"1": SYNONYMS[Intent.YES], "2": SYNONYMS[Intent.NO]}))
REOPEN = Question(
    "reopen",
    MappingProxyType(
        {
            "1": (*SYNONYMS[Intent.YES], "reopen", "reopen it", "open it again", "reabrir", "reabrirlo"),
            STAR: (*SYNONYMS[Intent.NO], *SYNONYMS[Intent.REPEAT], "main menu", "menu principal"),
        }
    ),
)
QUEUE_CHOICE = Question(
    "queue_choice",
    MappingProxyType(
        {
            "1": ("message", "voice message", "leave a message", "voicemail", "mensaje", "dejar un mensaje"),
            "2": ("call back", "callback", "call me back", "call me", "devolver la llamada", "llamenme"),
            STAR: (
                "keep my place",
                "keep waiting",
                "wait",
                "hold",
                "star",
                "never mind",
                "esperar",
                "seguir esperando",
            ),
        }
    ),
)
AFTER_HOURS = Question(
    "after_hours",
    MappingProxyType(
        {
            "1": SYNONYMS[Intent.MESSAGE],
            "2": SYNONYMS[Intent.CALLBACK],
            "8": SYNONYMS[Intent.OUTAGE],
            STAR: SYNONYMS[Intent.REPEAT],
        }
    ),
)
FOLLOWUP = Question(
    "followup",
    MappingProxyType(
        {
            "1": (
                *SYNONYMS[Intent.YES],
                "resolved",
                "it's resolved",
                "fixed",
                "close it",
                "close the case",
                "resuelto",
            ),
            "2": SYNONYMS[Intent.AGENT],
            "3": (
                *SYNONYMS[Intent.NO],
                "keep it open",
                "keep open",
                "keep the case open",
                "not resolved",
                "not fixed",
                "no resuelto",
                "mantener abierto",
            ),
        }
    ),
)


def sure_enough(raw_confidence: str | None) -> bool:
    """Whether speech with Twilio's `Confidence` `raw_confidence` may be acted on: at or above
    `CONFIDENCE_FLOOR`, or no Confidence at all (Twilio does not promise the field); a value that is
    not a number in [0, 1] is not sure. Every stage that listens asks this, and only this."""
    if not isinstance(raw_confidence, str) or not raw_confidence.strip():
        return True
    value = confidence(raw_confidence)
    return value is not None and value >= CONFIDENCE_FLOOR


def heard(inp: CallInput, question: Question) -> Heard | None:
    """What the caller's speech in this request answers to `question`; None when they did not
    speak (keys pressed, or nothing: the stage's keypad path)."""
    if (inp.digits or "").strip():
        return None
    return hear(inp.speech, inp.form.get("Confidence"), question)


def hear(speech: str | None, raw_confidence: str | None, question: Question) -> Heard | None:
    """`heard` on Twilio's `SpeechResult` and `Confidence` themselves: any strings give a
    defined answer, never an exception."""
    if not isinstance(speech, str) or not speech.strip():
        return None
    if not sure_enough(raw_confidence):
        return Heard()
    if normalize(speech) in (["oh"], ["o"]):  # a sound, not a zero
        return Heard()
    choice = phrase_choice(speech, question.words)
    number = _number(speech, question)
    if choice is None:
        return number or Heard()
    if number is None or number.unclear or number.keys == choice:
        return Heard(keys=str(choice))
    return Heard()  # a phrase and another key or a number: "yes, two" to a read-back: which?


def _number(speech: str, question: Question) -> Heard | None:
    """The number in `speech` as this question takes it; None when there is none. One of the
    question's lengths is a number to read back; a menu takes a shorter one as its keys (a spoken
    digit is the key), and anything else is not understood."""
    shape = question.number
    if shape is not None:
        digits = parse_digits(speech, lengths=(shape.usual,)) or parse_digits(speech, lengths=shape.lengths)
        if digits is not None:
            return Heard(number=digits)
    digits = parse_digits(speech)
    if digits is None:
        return None
    longest_keys = min(shape.lengths) - 1 if shape is not None else 1
    if question.words and len(digits) <= longest_keys:
        return Heard(keys=digits)
    return Heard()


Confirmation = Literal["yes", "no", "again", "silent"]


def confirmation(inp: CallInput) -> Confirmation:
    """A read-back's answer: 1 or a spoken yes, 2 or a spoken no; another key, or speech not
    understood, asks again; nothing at all is silent."""
    spoken = heard(inp, READBACK)
    keys = spoken.keys if spoken is not None else "".join(c for c in (inp.digits or "") if c in KEYPAD).strip("#")
    if keys == "1":
        return "yes"
    if keys == "2":
        return "no"
    if spoken is None and not keys:
        return "silent"
    return "again"


READBACK_RETRIES = 2
READBACK_COUNTER = "readback"  # CallState.tries: re-asks of the number read back now (`twiml._read_back`)


def settle_readback(inp: CallInput, state: CallState) -> tuple[Confirmation, str]:
    """The answer to a read-back (`readback_answer`) and the number it was about; the pending
    number is dropped once the answer is a yes or a no."""
    number = state.pending_number or ""
    answer: Confirmation = readback_answer(inp, state) if number.isdigit() else "no"
    if answer in ("yes", "no"):
        state.pending_number = None
    return answer, number


def readback_answer(inp: CallInput, state: CallState) -> Confirmation:
    """`confirmation`, counted: past READBACK_RETRIES re-asks (another key, speech not understood,
    silence) it is "no", so a number is never used unconfirmed and never asked about forever."""
    answer = confirmation(inp)
    if answer in ("again", "silent") and state.bump(READBACK_COUNTER) > READBACK_RETRIES:
        return "no"
    return answer
