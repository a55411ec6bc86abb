"""The `hints` attribute of a speech `<Gather>` for a kind of answer (case number, contact ID, a
menu, yes or no, a product area, how urgent), in English or Spanish, within Twilio's limits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal

HINT_MAX_CHARS = 100
HINT_MAX_ENTRIES = 500
"""Twilio's limits for `<Gather hints>` (error 13330): a comma-separated list of at most 500
entries, each at most 100 characters, the words of a phrase separated by spaces."""

HintKind = Literal["case_number", "contact_id", "menu", "yes_no", "area", "urgency"]

_DIGIT_WORDS = {
    "en": (
        "zero",
        "oh",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "double",
        "triple",
        "hundred",
    ),
    "es": ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"),
}
_HINTS: Mapping[str, Mapping[HintKind, tuple[str, ...]]] = MappingProxyType(
    {
        "en": {
            "case_number": ("case number", "my case number is", *_DIGIT_WORDS["en"]),
            "contact_id": ("contact I D", "my contact I D is", *_DIGIT_WORDS["en"]),
            "menu": (
                "agent",
                "representative",
                "operator",
                "outage",
                "site down",
                "repeat",
                "star",
                *_DIGIT_WORDS["en"][:11],
            ),
            "yes_no": ("yes", "no", "correct", "that's right", "wrong"),
            # Issue #15 item 2: the product area and urgency of a new issue (ivr.speech_areas).
            "area": (
                "grade book",
                "report cards",
                "scheduling",
                "master schedule",
                "attendance",
                "online registration",
                "enrollment",
                "point of sale",
                "cafeteria",
                "lunch",
                "state reporting",
                "not sure",
                "repeat",
                *_DIGIT_WORDS["en"][:9],
            ),
            "urgency": ("site down", "no one can work", "blocked", "time sensitive", "urgent", "not urgent", "no"),
        },
        "es": {
            "case_number": ("numero de caso", "mi numero de caso es", *_DIGIT_WORDS["es"]),
            "contact_id": ("numero de contacto", *_DIGIT_WORDS["es"]),
            "menu": ("agente", "representante", "operador", "sitio caido", "repetir", *_DIGIT_WORDS["es"]),
            "yes_no": ("si", "no", "correcto", "incorrecto"),
            "area": (
                "libro de calificaciones",
                "calificaciones",
                "horarios",
                "asistencia",
                "inscripcion en linea",
                "punto de venta",
                "cafeteria",
                "informes estatales",
                "no se",
                "repetir",
                *_DIGIT_WORDS["es"][:7],
            ),
            "urgency": ("sitio caido", "nadie puede trabajar", "bloqueado", "urgente", "no es urgente", "no"),
        },
    }
)


def join_hints(entries: Iterable[str]) -> str:
    """`entries` as a `hints` value; ValueError if one breaks Twilio's limits (a comma inside an
    entry, longer than HINT_MAX_CHARS, more than HINT_MAX_ENTRIES) or is empty."""
    cleaned = [" ".join(entry.split()) for entry in entries]
    if len(cleaned) > HINT_MAX_ENTRIES:
        raise ValueError(f"{len(cleaned)} hints: Twilio takes at most {HINT_MAX_ENTRIES}")
    for entry in cleaned:
        if not entry or "," in entry or len(entry) > HINT_MAX_CHARS:
            raise ValueError(f"hint {entry!r}: non-empty, no commas, at most {HINT_MAX_CHARS} characters")
    return ", ".join(cleaned)


def hints_for(kind: HintKind, language: str = "en-US") -> str:
    """The `hints` attribute for a speech Gather asking for `kind`, in `language` (a BCP-47 tag:
    "es-..." gives the Spanish hints, anything else the English ones). Unknown kind -> KeyError."""
    table = _HINTS["es" if language.lower().startswith("es") else "en"]
    return join_hints(table[kind])
