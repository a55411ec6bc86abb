"""The plumbing shared by the routing-table endpoints (`api.tables`): the 400 `invalid` response
(`Invalid`, `_fail`, a load error's problems as paths inside the row) and the 409 one, the row as
the token's role may see it (`plain`, `_item`), looking a row up by its key, the JSON body, the
paging arguments, and writing through the load path (`_load`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date, datetime, time
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn

from flask import g, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.views import bp
from auth.disclosure import phone_for
from auth.pins import hash_pin
from casestore.interchange import LoadError, load_document
from casestore.interchange.fields import fmt_time
from webhooks.services import current_services

if TYPE_CHECKING:
    from api.tables import Table

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_OFFSET = 1_000_000_000
MAX_KEY_LENGTH = 200  # the longest natural key (district, contact, advisor and engineer names)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class Invalid(Exception):
    """A 400 naming fields: `problems` is [(field, detail), ...], the first one leading."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(problems[0][1])
        self.problems = problems


def _fail(field: str, detail: str) -> NoReturn:
    raise Invalid([(field, detail)])


@bp.errorhandler(Invalid)
def _invalid(exc: Invalid):
    field, detail = exc.problems[0]
    resp = jsonify(
        error="invalid", field=field, detail=detail, problems=[{"field": f, "detail": d} for f, d in exc.problems]
    )
    resp.status_code = 400
    return resp


def _conflict():
    resp = jsonify(error="conflict", detail="another change to the same row was saved at the same time; try again")
    resp.status_code = 409
    return resp


def _field_of(path: str, prefix: str) -> str:
    """A problem's path in the document ("districts[0].state") as a path inside the row ("state")."""
    if path.startswith(prefix + "."):
        return path[len(prefix) + 1 :]
    if path.startswith(prefix + "[") and prefix:
        return path[len(prefix) :]
    return "body"


def _load_error(exc: LoadError, prefix: str) -> Invalid:
    problems = [(_field_of(p.path, prefix), p.message) for p in exc.problems]
    return Invalid(problems or [("body", "the row cannot be stored")])


# --------------------------------------------------------------------------------------------
# Plumbing
# --------------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A snapshot value as JSON: enum values, ISO-8601 dates and date-times, "HH:MM" times."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return fmt_time(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _item(table: Table, obj: Any) -> dict[str, Any]:
    """The row as the token's role may see it (phone numbers masked without `phones`)."""
    item = {"id": obj.id, **plain(table.snap(obj))}
    for name in table.phones:
        value = item.get(name)
        item[name] = (
            [phone_for(g.api_role, v) for v in value] if isinstance(value, list) else phone_for(g.api_role, value)
        )
    return item


def _norm_key(value: Any) -> str | None:
    """A key as the row models read it (text stripped; contact IDs may be sent as numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return None


def _plausible_key(key: str) -> bool:
    # Nothing the row models would refuse reaches the database (PostgreSQL rejects NUL in text).
    return bool(key) and len(key) <= MAX_KEY_LENGTH and not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in key)


def _find(session: Session, table: Table, key: str) -> Any:
    key = key.strip()
    if not _plausible_key(key):
        return None
    return session.scalars(select(table.model).where(table.column == key).options(*table.options)).first()


def _json_body() -> Any:
    data = request.get_data(cache=True)
    if not data.strip():
        _fail("body", "a JSON object is required")
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        _fail("body", "not valid JSON")


_NUMBER = re.compile(r"[0-9]{1,10}")


def _page_args() -> tuple[int, int]:
    raw_limit = request.args.get("limit", str(DEFAULT_LIMIT))
    if not _NUMBER.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= MAX_LIMIT:
        _fail("limit", f"a whole number from 1 to {MAX_LIMIT}")
    raw_offset = request.args.get("offset", "0")
    if not _NUMBER.fullmatch(raw_offset) or int(raw_offset) > MAX_OFFSET:
        _fail("offset", f"a whole number from 0 to {MAX_OFFSET}")
    return int(raw_limit), int(raw_offset)


def _load(session: Session, doc: dict[str, Any]):
    """Validate and write `doc` (load-file sections) as the token's user; the caller commits."""
    svc = current_services()
    pepper = svc.settings.pin_pepper
    return load_document(
        session,
        {"version": 1, **doc},
        source="api",
        hash_pin=partial(hash_pin, pepper) if pepper else None,
        region=svc.settings.default_region,
        actor=g.api_actor,
        now=svc.now(),
    )
