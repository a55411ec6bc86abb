"""Spoken numbers: Twilio's `SpeechResult` text turned into digits (`parse_digits`).

What a caller says instead of a key is `ivr.speech_intents` (intents, a menu's choice, the
confidence floor); the `hints` of a speech `<Gather>` are `ivr.speech_hints`. Pure functions, no
Flask, no Twilio client (issue #15 item 1, the parser only: wiring `<Gather input="dtmf speech">`
into the flow is a later step). Together they own
  * `parse_digits`: "two four oh one one seven", "240117", "2 4 0 1 1 7", "240-117", "2,401",
    "two forty one seventeen", "twenty four oh one seventeen", "double one", "triple five",
    "two hundred five", "two hundred forty thousand one hundred seventeen", Spanish digits and
    tens ("dos cuatro cero", "veinticuatro", "treinta y uno") -> a digit string, or None when the
    text is not (only) a number ("I don't know", "agent");
  * `parse_intent`: what a caller says instead of a key (`Intent`: an advisor, an outage, yes,
    no, repeat) from a small synonyms table (`SYNONYMS`), and `menu_choice` for a menu's key;
  * `confidence` / `is_confident`: Twilio's `Confidence` parameter (a string, 0..1) against a floor;
  * `hints_for`: the `hints` attribute of a speech `<Gather>` for a kind of answer, within
    Twilio's limits (HINT_MAX_ENTRIES entries of at most HINT_MAX_CHARS characters).

How digits are read. The text is lower-cased, accents dropped, commas and hyphens between digits
removed ("2,401", "240-117"), and cut into words. Filler ("my case number is", "uh", "it's",
"please", Spanish "mi numero es") is skipped; any other word that is not a number word makes the
whole answer None: a guess from a sentence is worse than asking again. The number words are then
read left to right and their digits concatenated:
  * a digit run as written ("240117", "2"); a unit word ("two", "oh", "zero", "cero") one digit;
  * a teen ("seventeen", "once") and a tens word with a following unit ("forty one", "treinta y
    uno", "veinticuatro") two digits, a tens word alone ("forty") two ("40");
  * "double"/"triple" before a digit repeat it;
  * a cardinal with "hundred"/"thousand" its value ("two hundred five" -> 205, "a hundred" -> 100,
    "twenty four hundred" -> 2400).
"two forty one seventeen" is ambiguous: "2 41 17" or "2 40 1 17". Without `lengths` a tens word
takes the unit after it (24117); with `lengths` (a case number has 6 digits) tens words give up
their unit, first those after a unit word ("two forty" is a group of three), until the length
fits (240117); a reading that cannot reach an allowed length is None.

"oh"/"o" is zero, except as the first word before anything that is not a number ("Oh, it's
240117"). Deliberately not handled: homophones ("to", "for", "won", "ate": too common in
sentences), Spanish "o" meaning "or" ("dos o tres" reads 203), ordinals, Spanish hundreds and
thousands ("cien", "doscientos", "mil"), negation ("not an agent" is still an advisor), and PINs
(never asked for by speech: they would be heard and transcribed).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

# ----------------------------------------------------------------------------------------- words

UNITS: Mapping[str, int] = MappingProxyType(
    {
        "zero": 0,
        "oh": 0,
        "o": 0,
        "one": 1,
        "two": 2,
        "three": 3,
        "four": 4,
        "five": 5,
        "six": 6,
        "seven": 7,
        "eight": 8,
        "nine": 9,
        "cero": 0,
        "uno": 1,
        "un": 1,
        "una": 1,
        "dos": 2,
        "tres": 3,
        "cuatro": 4,
        "cinco": 5,
        "seis": 6,
        "siete": 7,
        "ocho": 8,
        "nueve": 9,
    }
)
TEENS: Mapping[str, int] = MappingProxyType(
    {
        "ten": 10,
        "eleven": 11,
        "twelve": 12,
        "thirteen": 13,
        "fourteen": 14,
        "fifteen": 15,
        "sixteen": 16,
        "seventeen": 17,
        "eighteen": 18,
        "nineteen": 19,
        "diez": 10,
        "once": 11,
        "doce": 12,
        "trece": 13,
        "catorce": 14,
        "quince": 15,
        "dieciseis": 16,
        "diecisiete": 17,
        "dieciocho": 18,
        "diecinueve": 19,
        # Spanish 21-29 are one word ("veinticuatro"); split by a hyphen they are "veinti" + a unit.
        "veintiuno": 21,
        "veintiun": 21,
        "veintiuna": 21,
        "veintidos": 22,
        "veintitres": 23,
        "veinticuatro": 24,
        "veinticinco": 25,
        "veintiseis": 26,
        "veintisiete": 27,
        "veintiocho": 28,
        "veintinueve": 29,
    }
)
TENS: Mapping[str, int] = MappingProxyType(
    {
        "twenty": 20,
        "thirty": 30,
        "forty": 40,
        "fourty": 40,
        "fifty": 50,
        "sixty": 60,
        "seventy": 70,
        "eighty": 80,
        "ninety": 90,
        "veinte": 20,
        "treinta": 30,
        "cuarenta": 40,
        "cincuenta": 50,
        "sesenta": 60,
        "setenta": 70,
        "ochenta": 80,
        "noventa": 90,
    }
)
REPEATS: Mapping[str, int] = MappingProxyType({"double": 2, "triple": 3})
FILLER: frozenset[str] = frozenset(
    """
    my the a an is it it's its it is that's thats this that number numbers case contact i d id
    uh um umm uhm er erm ah hmm mm okay ok so well yes yeah sure please thanks thank you and
    like let me see think i'm im it'll be was our account ticket code press dial enter option
    pound hash sign key
    mi el la es numero de del caso contacto eh este pues bueno por favor gracias
""".split()  # noqa: SIM905  (a word list reads best as words)
)

_VEINTI = "veinti"  # "veinti-cuatro" -> "veinti" "cuatro"
_HUNDRED, _THOUSAND = "hundred", "thousand"


# -------------------------------------------------------------------------------------- tokens


def normalize(text: str) -> list[str]:
    """Lower-case ASCII words of `text`: accents dropped, commas/periods/hyphens between digits
    removed ("2,401" -> "2401", "240-117" -> "240117"), any other punctuation a word break."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"(?<=\d)\s*[,.\-]\s*(?=\d)", "", text)
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text)


@dataclass(frozen=True)
class _Atom:
    kind: Literal["digits", "unit", "teen", "tens", "repeat", "hundred", "thousand", "a", "and"]
    text: str
    value: int = 0


def _atoms(words: list[str]) -> list[_Atom] | None:
    """Number atoms of the words, filler dropped; None when a word is neither."""
    atoms: list[_Atom] = []
    for i, word in enumerate(words):
        if word.isdigit():
            atoms.append(_Atom("digits", word))
        elif word in ("oh", "o") and i == 0 and len(words) > 1 and not _is_number_word(words[1]):
            continue  # "Oh, it's 240117"
        elif word in UNITS:
            atoms.append(_Atom("unit", word, UNITS[word]))
        elif word in TEENS:
            atoms.append(_Atom("teen", word, TEENS[word]))
        elif word in TENS or word == _VEINTI:
            atoms.append(_Atom("tens", word, TENS.get(word, 20)))
        elif word in REPEATS:
            atoms.append(_Atom("repeat", word, REPEATS[word]))
        elif word == _HUNDRED:
            atoms.append(_Atom("hundred", word, 100))
        elif word == _THOUSAND:
            atoms.append(_Atom("thousand", word, 1000))
        elif word in ("a", "an"):
            atoms.append(_Atom("a", word, 1))
        elif word in ("and", "y"):
            atoms.append(_Atom("and", word))
        elif word in FILLER:
            continue
        else:
            return None  # "agent", "don't", "2nd"
    return atoms


def _is_number_word(word: str) -> bool:
    return (
        word.isdigit()
        or word in UNITS
        or word in TEENS
        or word in TENS
        or word in REPEATS
        or word in (_HUNDRED, _THOUSAND, _VEINTI)
    )


# ------------------------------------------------------------------------------------- reading


@dataclass
class _Piece:
    digits: str
    joinable: bool = False  # a tens word that took the unit after it ("forty one")
    after_unit: bool = False  # ...and came right after a unit word ("two forty one")

    def split(self) -> str:
        """The tens word and its unit read apart: "41" -> "401"."""
        return self.digits[0] + "0" + self.digits[1]


def _below_hundred(atoms: list[_Atom], i: int) -> tuple[int, int] | None:
    """(value, next index) of a number below 100 at atoms[i]: tens [y] [unit], teen, unit."""
    if i >= len(atoms):
        return None
    atom = atoms[i]
    if atom.kind == "tens":
        j = i + 1
        if j + 1 < len(atoms) and atoms[j].kind == "and" and atoms[j + 1].kind == "unit":
            j += 1
        if j < len(atoms) and atoms[j].kind == "unit" and atoms[j].value > 0:
            return atom.value + atoms[j].value, j + 1
        return atom.value, i + 1
    if atom.kind in ("teen", "unit"):
        return atom.value, i + 1
    return None


def _below_thousand(atoms: list[_Atom], i: int) -> tuple[int, int, bool] | None:
    """(value, next index, used "hundred") of a number below 10 000 at atoms[i]."""
    n = len(atoms)
    if i < n and atoms[i].kind == "hundred":
        head, j = 1, i  # "hundred" alone
    elif i + 1 < n and atoms[i].kind in ("unit", "a") and atoms[i + 1].kind == "hundred":
        head, j = (atoms[i].value, i + 1)
        if head == 0:
            return None
    else:
        low = _below_hundred(atoms, i)
        if low is None:
            return None
        value, j = low
        if j < n and atoms[j].kind == "hundred" and value >= 10:  # "twenty four hundred"
            head = value
        else:
            return value, j, False
    value, j = head * 100, j + 1
    if j < n and atoms[j].kind == "and":
        j += 1
    if j + 1 < n and atoms[j].kind == "unit" and atoms[j].value == 0 and atoms[j + 1].kind == "unit":
        j += 1  # "two hundred oh five"
    low = _below_hundred(atoms, j)
    if low is not None:
        value, j = value + low[0], low[1]
    return value, j, True


def _cardinal(atoms: list[_Atom], i: int) -> tuple[str, int] | None:
    """A cardinal that uses "hundred" or "thousand" at atoms[i]: (its digits, next index)."""
    first = _below_thousand(atoms, i)
    if first is None and i < len(atoms) and atoms[i].kind == "a":
        first = (1, i + 1, False)
    if first is None:
        return None
    value, j, used = first
    if j < len(atoms) and atoms[j].kind == "thousand" and value > 0:
        value, j, used = value * 1000, j + 1, True
        if j < len(atoms) and atoms[j].kind == "and":
            j += 1
        rest = _below_thousand(atoms, j)
        if rest is not None and rest[0] < 1000:
            value, j = value + rest[0], rest[1]
    return (str(value), j) if used else None


def _pieces(atoms: list[_Atom]) -> list[_Piece] | None:
    pieces: list[_Piece] = []
    i, n = 0, len(atoms)
    while i < n:
        atom = atoms[i]
        cardinal = _cardinal(atoms, i)
        if cardinal is not None:
            pieces.append(_Piece(cardinal[0]))
            i = cardinal[1]
        elif atom.kind == "digits":
            pieces.append(_Piece(atom.text))
            i += 1
        elif atom.kind == "repeat":
            if i + 1 >= n:
                return None
            nxt = atoms[i + 1]
            if nxt.kind == "unit":
                digit = str(nxt.value)
            elif nxt.kind == "digits" and len(nxt.text) == 1:
                digit = nxt.text
            else:
                return None
            pieces.append(_Piece(digit * atom.value))
            i += 2
        elif atom.kind == "tens":
            low = _below_hundred(atoms, i)
            assert low is not None
            value, j = low
            if value % 10:
                after_unit = bool(pieces) and i > 0 and atoms[i - 1].kind == "unit"
                pieces.append(
                    _Piece(
                        str(value), joinable=atom.text != _VEINTI and atoms[i + 1].kind != "and", after_unit=after_unit
                    )
                )
            elif atom.text == _VEINTI:
                return None  # "veinti" without its unit
            else:
                pieces.append(_Piece(str(value)))
            i = j
        elif atom.kind in ("unit", "teen"):
            pieces.append(_Piece(str(atom.value)))
            i += 1
        elif atom.kind in ("and", "a"):
            i += 1  # "and"/"a" that no cardinal took ("two and four", "it's a 24") says nothing
        else:
            return None  # a "thousand" nothing could use
    return pieces


def parse_digits(text: str | None, *, lengths: Collection[int] | None = None) -> str | None:
    """The digits spoken in `text` (a SpeechResult), or None if it is not (only) a number.

    `lengths`: the digit counts the answer may have (6 for a case number). A tens word gives up
    the unit after it ("two forty one seventeen": 24117 -> 240117) to reach one, those after a
    unit word first, then from the left; None when no allowed length can be reached.
    """
    if not text or not isinstance(text, str):
        return None
    atoms = _atoms(normalize(text))
    if not atoms:
        return None
    pieces = _pieces(atoms)
    if not pieces:
        return None
    digits = "".join(p.digits for p in pieces)
    if lengths is None or len(digits) in lengths:
        return digits
    # Each tens word read apart from its unit adds one digit.
    order = sorted((i for i, p in enumerate(pieces) if p.joinable), key=lambda i: (not pieces[i].after_unit, i))
    for extra in range(1, len(order) + 1):
        if len(digits) + extra in lengths:
            apart = set(order[:extra])
            return "".join(p.split() if i in apart else p.digits for i, p in enumerate(pieces))
    return None
