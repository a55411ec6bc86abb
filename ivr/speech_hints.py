"""The `hints` attribute of a speech `<Gather>` for a kind of answer (case number, contact ID, the
main menu, yes or no, a product area, how urgent, and each menu's own words), in English or Spanish,
within Twilio's limits. What the words then mean is `ivr.flow.answers` (`ivr.speech_areas` for the
area and urgency)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal

HINT_MAX_CHARS = 100
HINT_MAX_ENTRIES = 500
"""Twilio's limits for `<Gather hints>` (error 13330): a comma-separated list of at most 500
entries, each at most 100 characters, the words of a phrase separated by spaces."""

HintKind = Literal[
    "case_number",
    "contact_id",
    "menu",
    "yes_no",
    "reopen",
    "queue_choice",
    "after_hours",
    "followup",
    "area",
    "urgency",
]
"""The kinds of answer a speech Gather asks for: `menu` is the main menu (a case number or an
option), `reopen` a closed case's offer, `queue_choice` the choices while holding (a message, a
callback, keep waiting), `after_hours` the after-hours offer, `area` and `urgency` a new issue's
questions, `followup` the follow-up call's (resolved, an advisor, keep it open)."""

DIGIT_SEQUENCE = "$OOV_CLASS_DIGIT_SEQUENCE"
"""The recogniser's class token for a run of digits (Twilio passes class tokens in `hints`)."""

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
_YES_NO = {"en": ("yes", "no", "correct", "that's right", "wrong"), "es": ("si", "no", "correcto", "incorrecto")}
_HINTS: Mapping[str, Mapping[HintKind, tuple[str, ...]]] = MappingProxyType(
    {
        "en": {
            "case_number": ("case number", "my case number is", DIGIT_SEQUENCE, *_DIGIT_WORDS["en"]),
            "contact_id": ("contact I D", "my contact I D is", DIGIT_SEQUENCE, *_DIGIT_WORDS["en"]),
            "menu": (
                "case number",
                "my case number is",
                "agent",
                "advisor",
                "representative",
                "operator",
                "no case number",
                "outage",
                "site down",
                "repeat",
                "star",
                DIGIT_SEQUENCE,
                *_DIGIT_WORDS["en"],
            ),
            "yes_no": _YES_NO["en"],
            "reopen": ("reopen", "reopen it", "main menu", *_YES_NO["en"]),
            "queue_choice": ("message", "leave a message", "call back", "call me back", "keep my place", "wait"),
            "after_hours": ("message", "leave a message", "call back", "call me back", "outage", "site down", "repeat"),
            "followup": ("resolved", "it's resolved", "advisor", "agent", "keep it open", "not resolved", "yes", "no"),
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
            "menu": (
                "numero de caso",
                "agente",
                "asesor",
                "representante",
                "operador",
                "sitio caido",
                "repetir",
                *_DIGIT_WORDS["es"],
            ),
            "yes_no": _YES_NO["es"],
            "reopen": ("reabrir", "menu principal", *_YES_NO["es"]),
            "queue_choice": ("mensaje", "dejar un mensaje", "devolver la llamada", "llamenme", "esperar"),
            "after_hours": ("mensaje", "dejar un mensaje", "devolver la llamada", "llamenme", "sitio caido", "repetir"),
            "followup": ("resuelto", "asesor", "agente", "mantener abierto", "no resuelto", "si", "no"),
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
