"""Twilio's request parameters made ordinary input at the edge, for every webhook Twilio calls
(`/voice/*`, `/page/*`, `/sms/*`): whatever a signed request carries, the steps below see plain
text of a bounded length and numbers in a sane range, never a value that faults the database.

* NUL and other control characters are removed from every name and value (PostgreSQL refuses NUL
  in text: a DataError); free text (an SMS body) keeps its tabs and line breaks.
* Every value is cut to a length: Twilio's known fields to theirs (a SID is 34 characters, 64
  allowed), RecordingUrl to the 500 characters the database keeps, anything else to 256.
* Durations (CallDuration, DialCallDuration, RecordingDuration, QueueTime, ...) are clamped to
  0..86,400 s; a value that is not a whole number is treated as missing.
* Query values of our own URLs are cut to 64 characters; the numeric ones (`n`, `page`, `fu`,
  ids) are dropped unless they are ASCII digits within a database integer.

The signature is checked on the request as received (`webhooks.signature`); the views then read
only `form()` and `query()`, cleaned once per request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from flask import g, request

from webhooks.cleaning import strip_controls, whole_number

MAX_SECONDS = 86_400
DEFAULT_LIMIT = 256
DEFAULT_QUERY_LIMIT = 64
NAME_LIMIT = 64

LIMITS: dict[str, int] = {
    **dict.fromkeys(
        [
            "CallSid",
            "AccountSid",
            "ParentCallSid",
            "DialCallSid",
            "RecordingSid",
            "MessageSid",
            "SmsSid",
            "SmsMessageSid",
            "MessagingServiceSid",
            "QueueSid",
        ],
        64,
    ),
    **dict.fromkeys(["From", "To", "Caller", "Called", "ForwardedFrom", "Digits"], 64),
    **dict.fromkeys(
        [
            "CallStatus",
            "DialCallStatus",
            "MessageStatus",
            "SmsStatus",
            "AnsweredBy",
            "Direction",
            "ApiVersion",
            "QueueResult",
        ],
        32,
    ),
    "RecordingUrl": 500,  # the database's recording_url columns
    "Body": 1600,  # Twilio's longest SMS
    "SpeechResult": 1000,
}
MULTILINE = {"Body", "SpeechResult"}
SECONDS = {"CallDuration", "DialCallDuration", "RecordingDuration", "QueueTime", "Duration", "DequeueTime"}
QUERY_NUMBERS = {"n", "page", "repeat", "fu", "a", "adv", "eng", "noinput"}

_DIGITS = re.compile(r"-?[0-9]+")


def _text(value: str, limit: int, *, multiline: bool = False) -> str:
    return strip_controls(value[: limit * 4], keep_lines=multiline).strip()[:limit]


def clean_value(name: str, value: str) -> str | None:
    """One form value cleaned; None when it is to be treated as missing."""
    text = _text(value, LIMITS.get(name, DEFAULT_LIMIT), multiline=name in MULTILINE)
    if name in SECONDS:
        if not _DIGITS.fullmatch(text):
            return None
        return str(min(max(int(text), 0), MAX_SECONDS))
    return text


def clean_form(form: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in form.items():
        key = _text(name, NAME_LIMIT)
        cleaned = clean_value(key, value)
        if key and cleaned is not None:
            out[key] = cleaned
    return out


def clean_query(args: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in args.items():
        key = _text(name, NAME_LIMIT)
        text = _text(value, DEFAULT_QUERY_LIMIT)
        if key in QUERY_NUMBERS and whole_number(text) is None:
            continue
        if key:
            out[key] = text
    return out


def form() -> dict[str, str]:
    """This request's form, cleaned (once per request)."""
    if "twilio_form" not in g:
        g.twilio_form = clean_form(request.form)
    return g.twilio_form


def query() -> dict[str, str]:
    """This request's query string, cleaned (once per request)."""
    if "twilio_query" not in g:
        g.twilio_query = clean_query(request.args)
    return g.twilio_query
