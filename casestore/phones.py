"""Phone numbers: normalise any common notation to E.164 with `phonenumbers`, and mask for logs.

Every number the service stores or compares goes through `to_e164`; every number it logs goes
through `mask` (last four digits at most).
"""

from __future__ import annotations

import phonenumbers

# What Twilio sends in `From` when the caller withheld their number.
WITHHELD = {"", "anonymous", "restricted", "unknown", "blocked", "private", "unavailable"}


class InvalidPhoneNumber(ValueError):
    pass


def to_e164(raw: str, region: str = "US") -> str:
    """Normalise `raw` ("(612) 555-0134", "+1 612-555-0134", "001 612 555 0134") to E.164.

    Raises InvalidPhoneNumber when it is not a valid, dialable number.
    """
    text = (raw or "").strip()
    if text.lower() in WITHHELD:
        raise InvalidPhoneNumber("no number given")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def caller_e164(raw: str | None, region: str = "US") -> str | None:
    """The caller's number as E.164, or None when withheld or unusable (never raises)."""
    try:
        return to_e164(raw or "", region)
    except InvalidPhoneNumber:
        return None


def mask(number: str | None) -> str:
    """`+16125550134` -> `***0134`; short or missing numbers mask entirely."""
    digits = "".join(ch for ch in (number or "") if ch.isdigit())
    if len(digits) < 7:
        return "***" if digits else "withheld"
    return "***" + digits[-4:]
