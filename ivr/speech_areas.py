"""What a caller with a new issue says at the product-area and urgency questions (issue #15 item 2):
`area_choice` (one of the six product areas, "not sure", or star) and `urgency_choice` (site down,
a time-sensitive task blocked, or neither), as the key of that menu; plus the keys' meaning
(`AREA_KEYS`, `URGENCY_KEYS`). Phrases are read as `ivr.speech` reads words (lower case, accents
dropped), English and Spanish; a spoken digit ("three", "tres") is that key too."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from casestore.types import Priority, ProductArea
from ivr.speech import normalize, parse_digits

GENERAL_KEY = "0"  # not sure: a general call, anyone may take it
REPEAT_KEY = "*"

AREA_KEYS: Mapping[str, ProductArea | None] = MappingProxyType(
    {
        "1": ProductArea.GRADE_BOOK,
        "2": ProductArea.SCHEDULING,
        "3": ProductArea.ATTENDANCE,
        "4": ProductArea.ONLINE_REGISTRATION,
        "5": ProductArea.POINT_OF_SALE,
        "6": ProductArea.STATE_REPORTING,
        GENERAL_KEY: None,
    }
)
"""The area menu's keys (prompt "area_menu"): the product area, None for a general call."""

AREA_SYNONYMS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "1": (
            "grade book",
            "gradebook",
            "grades",
            "grade",
            "grading",
            "report card",
            "report cards",
            "transcripts",
            "libro de calificaciones",
            "calificaciones",
            "notas",
            "boletas",
        ),
        "2": (
            "scheduling",
            "schedule",
            "schedules",
            "master schedule",
            "class schedule",
            "horario",
            "horarios",
            "programacion",
        ),
        "3": ("attendance", "absences", "tardies", "asistencia", "ausencias"),
        "4": (
            "online registration",
            "registration",
            "enrollment",
            "enrolment",
            "online enrollment",
            "inscripcion",
            "inscripcion en linea",
            "matricula",
            "registro",
        ),
        "5": (
            "point of sale",
            "pos",
            "p o s",
            "cafeteria",
            "lunch",
            "lunches",
            "food service",
            "meals",
            "punto de venta",
            "comedor",
            "almuerzo",
        ),
        "6": (
            "state reporting",
            "state report",
            "state reports",
            "informes estatales",
            "informe estatal",
            "reportes estatales",
            "reporte estatal",
        ),
        GENERAL_KEY: (
            "not sure",
            "i'm not sure",
            "i am not sure",
            "don't know",
            "i don't know",
            "i do not know",
            "no idea",
            "other",
            "something else",
            "general",
            "none",
            "no se",
            "no estoy seguro",
            "no estoy segura",
            "otro",
            "otra cosa",
            "ninguno",
        ),
        REPEAT_KEY: ("repeat", "again", "star", "options", "repetir", "otra vez", "asterisco"),
    }
)
"""Area menu key -> the phrases (normalised: lower case, no accents) that choose it."""

URGENCY_KEYS: Mapping[str, Priority] = MappingProxyType(
    {"1": Priority.CRITICAL, "2": Priority.HIGH, "3": Priority.MEDIUM}
)
"""The urgency question's keys (prompt "urgency_menu"): site down or no one can work is critical,
a time-sensitive task blocked is high, anything else medium."""

URGENCY_SYNONYMS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "1": (
            "site down",
            "site is down",
            "down",
            "outage",
            "no one can work",
            "nobody can work",
            "no one can log in",
            "nobody can log in",
            "emergency",
            "critical",
            "sitio caido",
            "caido",
            "no funciona nada",
            "nadie puede trabajar",
            "emergencia",
        ),
        "2": (
            "blocked",
            "time sensitive",
            "urgent",
            "deadline",
            "due today",
            "stuck",
            "bloqueado",
            "bloqueada",
            "urgente",
            "fecha limite",
        ),
        "3": (
            "otherwise",
            "no",
            "neither",
            "not urgent",
            "normal",
            "other",
            "something else",
            "it can wait",
            "ninguno",
            "ninguna",
            "no es urgente",
            "otro",
            "de lo contrario",
        ),
        REPEAT_KEY: ("repeat", "again", "star", "options", "repetir", "otra vez", "asterisco"),
    }
)
"""Urgency key -> the phrases that choose it. "yes" alone is not here: yes to which of the three
would be a guess, and a wrong guess of "site down" jumps the line."""


def _phrases(table: Mapping[str, tuple[str, ...]]) -> tuple[tuple[tuple[str, ...], str], ...]:
    return tuple((tuple(normalize(phrase)), key) for key, phrases in table.items() for phrase in phrases)


_AREA_PHRASES = _phrases(AREA_SYNONYMS)
_URGENCY_PHRASES = _phrases(URGENCY_SYNONYMS)


def _choice(text: str | None, phrases: tuple[tuple[tuple[str, ...], str], ...], options: frozenset[str]) -> str | None:
    """The one key of `options` that `text` says: a spoken digit, or phrases of one key only (a
    phrase inside a longer one that matched says nothing of its own: "not urgent"); else None."""
    if not text or not isinstance(text, str):
        return None
    digit = parse_digits(text, lengths=(1,))
    if digit is not None:
        return digit if digit in options else None
    words = tuple(normalize(text))
    matches: list[tuple[int, int, str]] = []
    for phrase, key in phrases:
        size = len(phrase)
        if size:
            matches += [(i, i + size, key) for i in range(len(words) - size + 1) if words[i : i + size] == phrase]
    found = {key for lo, hi, key in matches if not any(a <= lo and hi <= b and b - a > hi - lo for a, b, _ in matches)}
    return found.pop() if len(found) == 1 else None


_AREA_OPTIONS = frozenset(AREA_KEYS) | {REPEAT_KEY}
_URGENCY_OPTIONS = frozenset(URGENCY_KEYS) | {REPEAT_KEY}


def area_choice(text: str | None) -> str | None:
    """The area menu key `text` says ("attendance please" -> "3", "not sure" -> "0", "three" ->
    "3", "repeat" -> "*"), None when nothing or two different areas were heard. Never raises."""
    return _choice(text, _AREA_PHRASES, _AREA_OPTIONS)


def urgency_choice(text: str | None) -> str | None:
    """The urgency key `text` says ("our site is down" -> "1", "a deadline is blocked" -> "2",
    "no" -> "3"), None when nothing, or two answers, were heard. Never raises."""
    return _choice(text, _URGENCY_PHRASES, _URGENCY_OPTIONS)


def urgency_priority(key: str | None) -> Priority:
    """The priority an urgency answer sets: 1 critical, 2 high, anything else medium."""
    return URGENCY_KEYS.get(key or "", Priority.MEDIUM)
