"""What a caller says instead of pressing a key: an intent (`parse_intent`: an advisor, an outage,
yes, no, repeat) from a small synonyms table, a menu's key (`menu_choice`), and whether Twilio's
`Confidence` is high enough to act on (`is_confident`). Words are read as `ivr.speech` reads them."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from enum import StrEnum
from types import MappingProxyType

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

AFTER_HOURS_KEYS: Mapping[Intent, str] = MappingProxyType(
    {Intent.MESSAGE: "1", Intent.CALLBACK: "2", Intent.OUTAGE: "8", Intent.REPEAT: "*"}
)
"""The after-hours offer's key for an intent (prompts "afterhours_options": 1 a message, 2 a callback,
8 an outage for hosted districts, star again); used with `among_keys`, as its prompt names an advisor."""

_PHRASES: tuple[tuple[tuple[str, ...], Intent], ...] = tuple(
    (tuple(phrase.split()), intent) for intent, phrases in SYNONYMS.items() for phrase in phrases
)


def parse_intent(text: str | None, among: Collection[Intent] | None = None) -> Intent | None:
    """The one intent `text` says (a phrase of SYNONYMS as whole words; a phrase inside a longer
    one that matched does not count), else None: nothing recognised, or two different intents
    ("no, an agent") and so ambiguous. `among`: only these intents are listened for (None: all)."""
    if not text or not isinstance(text, str):
        return None
    words = tuple(normalize(text))
    matches: list[tuple[int, int, Intent]] = []
    for phrase, intent in _PHRASES:
        if among is not None and intent not in among:
            continue
        size = len(phrase)
        matches += [(i, i + size, intent) for i in range(len(words) - size + 1) if words[i : i + size] == phrase]
    # A phrase inside a longer one says nothing of its own ("right" in "not right").
    found = {
        intent for lo, hi, intent in matches if not any(a <= lo and hi <= b and b - a > hi - lo for a, b, _ in matches)
    }
    return found.pop() if len(found) == 1 else None


def menu_choice(
    text: str | None, options: Collection[str], keys: Mapping[Intent, str] = MAIN_MENU_KEYS, *, among_keys: bool = False
) -> str | None:
    """The key of `options` that `text` picks: a spoken digit ("eight", "option eight") or an
    intent mapped by `keys` ("outage" -> "8" on the main menu); None otherwise. `among_keys`:
    only the intents of `keys` are listened for ("a message for an advisor" is a message)."""
    digit = parse_digits(text, lengths=(1,))
    if digit is not None:
        return digit if digit in options else None
    intent = parse_intent(text, among=keys if among_keys else None)
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
