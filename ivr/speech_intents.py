"""What a caller says instead of pressing a key: an intent (`parse_intent`: an advisor, an outage,
yes, no, repeat) from a small synonyms table, the choice of any such table (`phrase_choice`: a
menu's own words), a menu's key (`menu_choice`), and whether Twilio's `Confidence` is high enough
to act on (`is_confident`). Words are read as `ivr.speech` reads them. How a stage of the call
uses them is `ivr.flow.answers`."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ivr.speech import normalize, parse_digits


class Intent(StrEnum):
    AGENT = "agent"  # talk to someone
    OUTAGE = "outage"  # the hosted site is down (option 8)
    YES = "yes"
    NO = "no"
    REPEAT = "repeat"  # hear the options again (star)
    MESSAGE = "message"  # leave a voice message for an advisor (after hours: 1)
    CALLBACK = "callback"  # have an advisor call back (after hours: 2)


SYNONYMS: Mapping[Intent, tuple[str, ...]] = MappingProxyType(
    {
        Intent.AGENT: (
            "agent",
            "representative",
            "rep",
            "operator",
            "advisor",
            "adviser",
            "person",
            "human",
            "someone",
            "somebody",
            "anyone",
            "customer service",
            "live person",
            "agente",
            "representante",
            "operador",
            "operadora",
            "persona",
            "asesor",
            "asesora",
            "alguien",
        ),
        Intent.OUTAGE: (
            "outage",
            "site down",
            "site is down",
            "site's down",
            "website down",
            "website is down",
            "server down",
            "server is down",
            "system down",
            "system is down",
            "sitio caido",
            "sitio esta caido",
            "servidor caido",
            "caida",
            "interrupcion",
        ),
        Intent.YES: (
            "yes",
            "yeah",
            "yep",
            "yup",
            "correct",
            "right",
            "that's right",
            "sure",
            "affirmative",
            "si",
            "correcto",
            "claro",
            "exacto",
        ),
        Intent.NO: ("no", "nope", "nah", "incorrect", "wrong", "not right", "negative", "incorrecto"),
        Intent.REPEAT: ("repeat", "again", "star", "options", "menu", "repetir", "otra vez"),
        Intent.MESSAGE: (
            "message",
            "a message",
            "leave a message",
            "voice message",
            "voicemail",
            "mensaje",
            "dejar un mensaje",
            "mensaje de voz",
        ),
        Intent.CALLBACK: (
            "callback",
            "call back",
            "call me back",
            "call me",
            "a call back",
            "que me llamen",
            "llamenme",
            "devolver la llamada",
            "me devuelvan la llamada",
        ),
    }
)
"""Intent -> the phrases (lower case, accents dropped, words separated by one space) that say it."""

MAIN_MENU_KEYS: Mapping[Intent, str] = MappingProxyType({Intent.AGENT: "0", Intent.OUTAGE: "8", Intent.REPEAT: "*"})
"""The main menu's key for an intent (prompts "menu_open": 8 an outage, 0 an advisor, star again)."""

PhraseTable = Mapping[Any, tuple[str, ...]]
"""A choice (an Intent, a menu key) -> the phrases that say it, written as `normalize` leaves words."""


def phrase_choice(text: str | None, table: PhraseTable) -> Any | None:
    """The one choice of `table` that `text` says (one of its phrases as whole words; a phrase
    inside a longer one that matched does not count), else None: nothing recognised, or two
    different choices ("no, an agent") and so ambiguous."""
    if not text or not isinstance(text, str):
        return None
    words = normalize(text)
    matches: list[tuple[int, int, Any]] = []
    for choice, phrases in table.items():
        for phrase in map(str.split, phrases):
            size = len(phrase)
            matches += [(i, i + size, choice) for i in range(len(words) - size + 1) if words[i : i + size] == phrase]
    # A phrase inside a longer one says nothing of its own ("right" in "not right").
    found = {
        choice for lo, hi, choice in matches if not any(a <= lo and hi <= b and b - a > hi - lo for a, b, _ in matches)
    }
    return found.pop() if len(found) == 1 else None


def parse_intent(text: str | None) -> Intent | None:
    """The one intent `text` says (`phrase_choice` over SYNONYMS), else None."""
    intent: Intent | None = phrase_choice(text, SYNONYMS)
    return intent


def menu_choice(text: str | None, options: Collection[str], keys: Mapping[Intent, str] = MAIN_MENU_KEYS) -> str | None:
    """The key of `options` that `text` picks: a spoken digit ("eight", "option eight") or an
    intent mapped by `keys` ("outage" -> "8" on the main menu); None otherwise."""
    digit = parse_digits(text, lengths=(1,))
    if digit is not None:
        return digit if digit in options else None
    intent = parse_intent(text)
    key = keys.get(intent) if intent is not None else None
    return key if key is not None and key in options else None


# ---------------------------------------------------------------------------------- confidence

CONFIDENCE_FLOOR = 0.5
"""Below this Twilio `Confidence` a spoken answer is asked again (or confirmed) rather than used."""


def confidence(raw: str | float | None) -> float | None:
    """Twilio's `Confidence` (a string "0.0".."1.0") as a float; None when missing or not a
    number in [0, 1]."""
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        return None
    return value


def is_confident(raw: str | float | None, floor: float = CONFIDENCE_FLOOR) -> bool:
    """Whether a recognition with Twilio `Confidence` `raw` may be used without asking again.
    Missing or invalid counts as low, whatever the floor."""
    value = confidence(raw)
    return value is not None and value >= floor
