"""Console and API input cleaned at the edge, so a malformed value is ordinary input, never a fault.

Before any console (`/admin`) or API (`/api`) view runs, every query-string value and every form
value is cleaned once (`install`): NUL and the other control characters are dropped (a NUL makes
PostgreSQL refuse the query; CR/LF break a redirect), tab and line breaks survive only in form
values (a banner message may have them), and each value is cut to a bounded length. Views then
parse numbers with `whole_number`, which takes ASCII digits only (`"²".isdigit()` is true, yet
`int("²")` raises) and nothing past the INTEGER columns' range. The API's JSON bodies go through
`json_strings` (api.views) and the load file's validation (api.tables). Twilio's parameters are
cleaned by `webhooks.twilio_params`, with the same `strip_controls` and `whole_number`.
"""

from __future__ import annotations

import re

from flask import Flask, request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict

CLEANED_BLUEPRINTS = frozenset({"admin", "api"})
QUERY_VALUE_LIMIT = 500
FORM_VALUE_LIMIT = 5000
MAX_ID = 2**31 - 1  # ids and case numbers are INTEGER columns

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROLS_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # tab, LF and CR stay
_DIGITS = re.compile(r"[0-9]{1,10}")


def strip_controls(value: str, *, keep_lines: bool = False) -> str:
    """`value` without NUL and the other control characters (tab and line breaks kept if asked)."""
    return (_CONTROLS_BUT_LINES if keep_lines else _CONTROLS).sub("", value)


def clean_query_value(value: str) -> str:
    return strip_controls(value)[:QUERY_VALUE_LIMIT]


def clean_form_value(value: str) -> str:
    return strip_controls(value, keep_lines=True)[:FORM_VALUE_LIMIT]


def json_strings(value):
    """A parsed JSON body with every string in it (keys too) cleaned like a form value."""
    if isinstance(value, str):
        return clean_form_value(value)
    if isinstance(value, list):
        return [json_strings(v) for v in value]
    if isinstance(value, dict):
        return {clean_form_value(str(k)): json_strings(v) for k, v in value.items()}
    return value


def whole_number(raw: str | None, maximum: int = MAX_ID) -> int | None:
    """`raw` as a whole number from 0 to `maximum`, or None when it is not one."""
    raw = (raw or "").strip()
    if not _DIGITS.fullmatch(raw) or int(raw) > maximum:
        return None
    return int(raw)


def _cleaned(values: MultiDict[str, str], clean) -> ImmutableMultiDict[str, str]:
    return ImmutableMultiDict([(clean_query_value(k), clean(v)) for k, v in values.items(multi=True)])


def install(app: Flask) -> None:
    """Clean the query string and form of every console and API request before its views run."""

    @app.before_request
    def _clean_input():
        if request.blueprint not in CLEANED_BLUEPRINTS:
            return
        request.args = _cleaned(request.args, clean_query_value)
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.mimetype in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            request.form = _cleaned(request.form, clean_form_value)
