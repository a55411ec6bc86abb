"""Field types of the file: the validators behind every value (text, contact IDs, PINs, phones,
reaches, emails, states, enums, case numbers, date-times, dates, times of day, opening ranges,
time zones) as `Annotated` types for the row models, and `fmt_time`, the text form of a time.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, ValidationInfo

from casestore.interchange.problems import describe, shorten
from casestore.phones import InvalidPhoneNumber, to_e164
from casestore.types import (
    HOLIDAY_RULES,
    CaseStatus,
    HandoffKind,
    Priority,
    ProductArea,
    RotationLayer,
    TeamKind,
    Weekday,
)

MAX_CASE_NUMBER = 2_147_483_647  # a 32-bit INTEGER column


def _bad_chars(value: str, multiline: bool) -> bool:
    allowed = {"\n", "\t"} if multiline else set()
    return any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed for ch in value)


def _text(max_len: int, *, allow_empty: bool = False, multiline: bool = False) -> BeforeValidator:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {describe(value)}")
        value = value.strip()
        if not value and not allow_empty:
            raise ValueError("must not be empty")
        if len(value) > max_len:
            raise ValueError(f"longer than {max_len} characters")
        if _bad_chars(value, multiline):
            raise ValueError("contains control characters")
        return value

    return BeforeValidator(check)


def _digits_text(value: Any) -> str:
    """Numbers written unquoted (contact IDs, PINs, phones) arrive as ints: take their digits."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str):
        return value.strip()
    raise ValueError(f"expected text, got {describe(value)}")


_CONTACT_ID_RE = re.compile(r"[1-9][0-9]{3,9}")
_PIN_RE = re.compile(r"[0-9]{4,8}")


def _contact_id(value: Any) -> str:
    text = _digits_text(value)
    if not _CONTACT_ID_RE.fullmatch(text):
        raise ValueError(f"not a valid contact ID: {shorten(text)} (4-10 digits, no leading zero)")
    return text


def _pin(value: Any) -> str:
    text = _digits_text(value)
    if not _PIN_RE.fullmatch(text):
        raise ValueError("a PIN is 4 to 8 digits")  # never echo the PIN itself
    return text


def _region(info: ValidationInfo) -> str:
    return (info.context or {}).get("region", "US")


def _phone(value: Any, info: ValidationInfo) -> str:
    text = _digits_text(value)
    try:
        return to_e164(text, _region(info))
    except InvalidPhoneNumber as exc:
        raise ValueError(f"not a valid phone number: {shorten(text)} ({exc})") from None


_CLIENT_RE = re.compile(r"client:[A-Za-z0-9_.@-]{1,121}")
_SIP_RE = re.compile(r"sips?:[^\s@]+@[^\s@]+", re.IGNORECASE)


def _reach(value: Any, info: ValidationInfo) -> str:
    text = _digits_text(value)
    if len(text) > 255 or _bad_chars(text, False):
        raise ValueError("not a valid reach (too long or has control characters)")
    lowered = text.lower()
    if lowered.startswith("client:"):
        if not _CLIENT_RE.fullmatch(text):
            raise ValueError(f"not a valid Twilio client name: {shorten(text)}")
        return text
    if lowered.startswith(("sip:", "sips:")):
        if not _SIP_RE.fullmatch(text):
            raise ValueError(f"not a valid SIP URI: {shorten(text)} (expected sip:user@host)")
        return text
    try:
        return to_e164(text, _region(info))
    except InvalidPhoneNumber:
        raise ValueError(f"not a phone number, client:NAME or sip: URI: {shorten(text)}") from None


_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _email(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected an email address, got {describe(value)}")
    text = value.strip()
    if len(text) > 254 or not _EMAIL_RE.fullmatch(text) or _bad_chars(text, False):
        raise ValueError(f"not a valid email address: {shorten(text)}")
    return text


def _state(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{2}", value.strip()):
        raise ValueError(f"expected a two-letter state code, got {describe(value)}")
    return value.strip().upper()


def _enum_of(cls: type, label: str) -> BeforeValidator:
    values = [m.value for m in cls]  # type: ignore[attr-defined]

    def check(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        if isinstance(value, str) and value.strip() in values:
            return cls(value.strip())
        if isinstance(value, str):
            raise ValueError(f"unknown {label} {shorten(value)}; expected one of: {', '.join(values)}")
        raise ValueError(f"expected a {label} ({', '.join(values)}), got {describe(value)}")

    return BeforeValidator(check)


LANGUAGE_CODES = ("en", "es")  # the languages the line speaks (ivr.prompts.LANGUAGES)


def _language(value: Any) -> str:
    if isinstance(value, str) and value.strip() in LANGUAGE_CODES:
        return value.strip()
    if isinstance(value, str):
        raise ValueError(f"unknown language {shorten(value)}; expected one of: {', '.join(LANGUAGE_CODES)}")
    raise ValueError(f"expected a language ({', '.join(LANGUAGE_CODES)}), got {describe(value)}")


def _holiday_key(value: Any) -> str:
    if isinstance(value, str) and value.strip() in HOLIDAY_RULES:
        return value.strip()
    if isinstance(value, str):
        raise ValueError(f"unknown holiday {shorten(value)}; expected one of: {', '.join(HOLIDAY_RULES)}")
    raise ValueError(f"expected a holiday rule ({', '.join(HOLIDAY_RULES)}), got {describe(value)}")


def strict_int(low: int, high: int) -> BeforeValidator:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {describe(value)}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return BeforeValidator(check)


def _case_number(value: Any) -> int:
    if isinstance(value, str) and re.fullmatch(r"[1-9][0-9]*", value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a case number, got {describe(value)}")
    if value < 10000:
        raise ValueError(f"case number {value} is under 5 digits (case numbers are 10000 or more)")
    if value > MAX_CASE_NUMBER:
        raise ValueError(f"case number {value} is too large")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {describe(value)}")
    return value


def _aware_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not an ISO-8601 date-time: {shorten(text)} (e.g. 2026-11-02T09:14:00-06:00)") from None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("date-time without a time zone; add an offset such as -06:00 or Z")
        try:
            return value.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValueError("date-time out of range") from None
    if isinstance(value, date):
        raise ValueError("a date without a time; give a date-time with an offset, e.g. 2026-11-02T09:14:00-06:00")
    raise ValueError(f"expected a date-time, got {describe(value)}")


_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        raise ValueError("expected a date (YYYY-MM-DD), got a date-time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE_RE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected a date (YYYY-MM-DD), got {describe(value)}")


def fmt_time(value: time) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


_TIME_RE = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?")


def _parse_time(text: str) -> time:
    match = _TIME_RE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a time of day: {shorten(text)} (expected HH:MM)")
    return time(int(match[1]), int(match[2]), int(match[3] or 0))


def _time(value: Any) -> time:
    if isinstance(value, time):
        if value.tzinfo is not None or value.microsecond:
            raise ValueError("expected a local time of day as HH:MM")
        return time(value.hour, value.minute, value.second)
    if isinstance(value, str):
        return _parse_time(value)
    raise ValueError(f"expected a time of day as HH:MM, got {describe(value)}")


def _hours_range(value: Any) -> tuple[time, time]:
    if not isinstance(value, str) or value.count("-") != 1:
        raise ValueError(f'expected an opening range like "06:00-18:00", got {describe(value)}')
    opens_text, closes_text = value.split("-")
    opens, closes = _parse_time(opens_text), _parse_time(closes_text)
    if closes <= opens:
        raise ValueError(f"closes ({fmt_time(closes)}) must be after it opens ({fmt_time(opens)})")
    return opens, closes


def _timezone(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 64:
        raise ValueError(f"expected a time zone name such as America/Chicago, got {describe(value)}")
    name = value.strip()
    try:
        ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError, OSError (a directory), ...
        raise ValueError(f"unknown time zone {shorten(name)}") from None
    return name


# `skills:` with nothing after it (null) is an empty list, as an empty section is no section.
NULL_IS_EMPTY = BeforeValidator(lambda value: [] if value is None else value)

Name120 = Annotated[str, _text(120)]
Name200 = Annotated[str, _text(200)]
# (Before-validators run last-listed first: null becomes "" before the text check.)
Summary = Annotated[
    str, _text(500, allow_empty=True, multiline=True), BeforeValidator(lambda v: "" if v is None else v)
]
ContactIdT = Annotated[str, BeforeValidator(_contact_id)]
PinT = Annotated[str, BeforeValidator(_pin)]
PhoneT = Annotated[str, BeforeValidator(_phone)]
ReachT = Annotated[str, BeforeValidator(_reach)]
EmailT = Annotated[str, BeforeValidator(_email)]
StateT = Annotated[str, BeforeValidator(_state)]
Bool = Annotated[bool, BeforeValidator(_bool)]
AwareDT = Annotated[datetime, BeforeValidator(_aware_datetime)]
DateT = Annotated[date, BeforeValidator(_date)]
TimeT = Annotated[time, BeforeValidator(_time)]
RangeT = Annotated[tuple[time, time], BeforeValidator(_hours_range)]
CaseNumberT = Annotated[int, BeforeValidator(_case_number)]
TimezoneT = Annotated[str, BeforeValidator(_timezone)]
HolidayKeyT = Annotated[str, BeforeValidator(_holiday_key)]
LanguageT = Annotated[str, BeforeValidator(_language)]
TeamKindT = Annotated[TeamKind, _enum_of(TeamKind, "team kind")]
ProductAreaT = Annotated[ProductArea, _enum_of(ProductArea, "product area")]
SkillT = Annotated[ProductArea, _enum_of(ProductArea, "skill")]
PriorityT = Annotated[Priority, _enum_of(Priority, "priority")]
StatusT = Annotated[CaseStatus, _enum_of(CaseStatus, "status")]
LayerT = Annotated[RotationLayer, _enum_of(RotationLayer, "rotation layer")]
HandoffT = Annotated[HandoffKind, _enum_of(HandoffKind, "handoff")]
WeekdayT = Annotated[Weekday, _enum_of(Weekday, "weekday")]
