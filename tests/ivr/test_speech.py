"""ivr.speech: spoken case numbers, contact IDs and menu choices (Twilio SpeechResult) to digits
(issue #15 item 1, the parser); what arbitrary text does to the intents' and confidence readers too."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ivr.speech import parse_digits
from ivr.speech_intents import Intent, confidence, menu_choice, parse_intent

CASE = (6,)  # a case number / contact ID has six digits


def case(text, expected, lengths=None, id=None):
    return pytest.param(text, lengths, expected, id=id or text)


DIGIT_CASES = [
    # What the issue lists.
    case("two four oh one one seven", "240117"),
    case("240117", "240117"),
    case("2 4 0 1 1 7", "240117"),
    case("two forty one seventeen", "24117", id="pairs without a length: forty takes the one"),
    case("two forty one seventeen", "240117", CASE, id="pairs for a case number: two-forty one-seventeen"),
    case("twenty four oh one seventeen", "240117"),
    case("twenty four oh one seventeen", "240117", CASE, id="pairs, already six digits"),
    case("double one", "11"),
    case("triple five", "555"),
    case("two double four one one seven", "244117"),
    case("two four oh triple one", "240111"),
    case("zero", "0"),
    case("oh", "0", id="oh alone is zero"),
    case("o", "0", id="o alone is zero"),
    case("one hundred", "100"),
    case("two hundred five", "205"),
    case("two hundred and five", "205"),
    case("two hundred oh five", "205"),
    case("two hundred forty one", "241"),
    case("a hundred", "100"),
    case("twenty four hundred", "2400"),
    case("two thousand four hundred one", "2401"),
    case("two hundred forty thousand one hundred seventeen", "240117"),
    case("ten", "10"),
    case("nineteen", "19"),
    case("forty", "40", id="a tens word alone"),
    case("forty oh", "400", id="a tens word does not take a zero"),
    # Filler and Twilio's formatting.
    case("my case number is 240117", "240117"),
    case("My case number is two four oh one one seven.", "240117", id="sentence with a trailing period"),
    case("uh, 240117", "240117"),
    case("um it's 2 4 0, 1 1 7", "240117"),
    case("It\u2019s 240117.", "240117", id="curly apostrophe"),
    case("240-117", "240117", id="Twilio's hyphenated number"),
    case("2,401", "2401", id="Twilio's thousands comma"),
    case("240,117.", "240117", id="thousands comma and a period"),
    case("twenty-four oh one seventeen", "240117", id="hyphenated tens"),
    case("Oh, it's 240117.", "240117", id="oh as an exclamation"),
    case("oh one two", "012", id="a leading oh before digits is zero"),
    case("contact I D one oh four two three three", "104233"),
    case("case number 240117 please", "240117"),
    case("option eight", "8"),
    # Spanish.
    case("dos cuatro cero uno uno siete", "240117"),
    case("veinticuatro cero uno diecisiete", "240117"),
    case("veinti-cuatro", "24", id="veinti- split by a hyphen"),
    case("veintiséis", "26", id="accented veintiseis"),
    case("treinta y uno", "31"),
    case("noventa", "90"),
    case("dieciséis", "16"),
    case("mi número de caso es dos cuatro cero uno uno siete", "240117"),
    case("uno", "1"),
    # Not a number: None.
    case("I don't know", None),
    case("agent", None),
    case("talk to a representative", None),
    case("", None, id="empty"),
    case("   ", None, id="blank"),
    case("uh um", None, id="only filler"),
    case("double", None, id="double of nothing"),
    case("double agent", None),
    case("call me at 240117", None, id="a number inside a sentence"),
    case("2nd floor", None),
    case("veinti", None, id="veinti without its unit"),
    case("thousand", None, id="a stray thousand"),
    case("12345", None, CASE, id="five digits for a case number"),
    case("two forty one", None, CASE, id="too short even read apart"),
]


@pytest.mark.parametrize(("text", "lengths", "expected"), DIGIT_CASES)
def test_parse_digits(text, lengths, expected):
    assert parse_digits(text, lengths=lengths) == expected


def test_parse_digits_takes_none_and_non_strings():
    assert parse_digits(None) is None
    assert parse_digits(240117) is None  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- properties
UNIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEEN_WORDS = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS_WORDS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy", 8: "eighty", 9: "ninety"}


def pair_words(pair: str) -> str:
    tens, unit = int(pair[0]), int(pair[1])
    if tens == 1:
        return TEEN_WORDS[unit]
    return TENS_WORDS[tens] + ("" if unit == 0 else " " + UNIT_WORDS[unit])


@st.composite
def spoken(draw) -> tuple[str, str]:
    """(digits, words): a digit string and one way of saying it, a test-side renderer: single
    digits (0 as "oh" or "zero"), pairs 10-99 ("forty one", "seventeen", "forty"), doubles and
    triples ("double one"), or the digits themselves."""
    digits = draw(st.text(alphabet="0123456789", min_size=1, max_size=12))
    words: list[str] = []
    i = 0
    last_bare_tens = False  # the previous group was a tens word alone ("forty")
    while i < len(digits):
        choices = ["single", "literal"]
        if i + 1 < len(digits) and digits[i] != "0":
            choices.append("pair")
        if i + 1 < len(digits) and digits[i] == digits[i + 1]:
            choices.append("double")
        if i + 2 < len(digits) and digits[i] == digits[i + 1] == digits[i + 2]:
            choices.append("triple")
        how = draw(st.sampled_from(choices))
        if how == "single" and last_bare_tens and digits[i] != "0":
            how = "literal"  # "forty" + "one" would be heard as "forty one": say the digit
        if how == "pair":
            words.append(pair_words(digits[i : i + 2]))
            last_bare_tens = digits[i] != "1" and digits[i + 1] == "0"
            i += 2
            continue
        last_bare_tens = False
        if how == "single":
            words.append(draw(st.sampled_from(["oh", "zero"])) if digits[i] == "0" else UNIT_WORDS[int(digits[i])])
            i += 1
        elif how == "double":
            words.append(
                "double " + (draw(st.sampled_from(["oh", "zero"])) if digits[i] == "0" else UNIT_WORDS[int(digits[i])])
            )
            i += 2
        elif how == "triple":
            words.append("triple " + UNIT_WORDS[int(digits[i])])
            i += 3
        else:
            run = draw(st.integers(min_value=1, max_value=len(digits) - i))
            words.append(digits[i : i + run])
            i += run
    filler = draw(st.sampled_from(["", "my case number is ", "uh, ", "it's "]))
    end = draw(st.sampled_from(["", ".", "?"]))
    return digits, filler + " ".join(words) + end


@settings(max_examples=400, deadline=None)
@given(spoken())
@example(("240117", "two forty one seventeen"))  # with the length, read as two-forty one-seventeen
@example(("240117", "twenty four oh one seventeen"))
@example(("0", "oh"))
def test_spoken_digits_parse_back(case):
    digits, words = case
    assert parse_digits(words, lengths=(len(digits),)) == digits


@settings(max_examples=300, deadline=None)
@given(spoken())
def test_spoken_digits_without_pairs_parse_back_without_a_length(case):
    digits, words = case
    if not any(w in words for w in TENS_WORDS.values()):
        assert parse_digits(words) == digits


number_words = st.sampled_from(
    UNIT_WORDS
    + TEEN_WORDS
    + list(TENS_WORDS.values())
    + [
        "oh",
        "o",
        "double",
        "triple",
        "hundred",
        "thousand",
        "a",
        "and",
        "y",
        "veinti",
        "veinticuatro",
        "cero",
        "agent",
        "yes",
        "no",
        "um",
        "-",
        ",",
        ".",
        "240",
        "0",
        "site",
        "down",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(st.text(), st.lists(number_words, max_size=12).map(" ".join)),
    st.one_of(st.none(), st.sets(st.integers(min_value=0, max_value=12), max_size=3)),
)
def test_arbitrary_text_never_raises(text, lengths):
    digits = parse_digits(text, lengths=lengths)
    assert digits is None or (digits.isdigit() and digits.isascii())
    if digits is not None and lengths is not None:
        assert len(digits) in lengths
    assert parse_intent(text) is None or isinstance(parse_intent(text), Intent)
    assert menu_choice(text, options="0123456789*") in (None, *"0123456789*")
    value = confidence(text)
    assert value is None or (math.isfinite(value) and 0 <= value <= 1)
