"""Routing-table import and export: one YAML (or JSON) document for teams, districts, contacts,
advisors, engineers, cases, hours, holidays and on-call rotations.

Loading validates the *whole* document before writing anything:

1. parse (YAML with a loader that has no YAML 1.1 sexagesimal numbers, so `18:00` stays text, and
   no octal numbers, so `012345` stays text), remembering the line of every path in the file;
2. check the shape of every row with pydantic models (`extra="forbid"`), row by row, so every bad
   row is reported, not just the first;
3. check across rows and against the database: duplicates, unknown references, closed cases
   without `closed_at`, overlapping hours, a PIN without a configured pepper, ...;
4. only when there is no problem at all, upsert everything by natural key inside a SAVEPOINT and
   `flush()`. The caller owns the transaction and commits (see `casestore.db.session_scope`).

Any problem raises `LoadError` with every `Problem` (path in the file, line, reason) and nothing is
written. Loading the same file twice changes nothing and writes no audit entries.

This module is part of the bottom layer: it imports nothing from auth/, routing/, ivr/ or webhooks/.
PINs are hashed by a callable the caller passes in (`hash_pin(contact_id, pin) -> str`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Annotated, Any, Optional, get_args
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, ValidationInfo
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import flag_modified

from casestore import audit
from casestore.models import (
    Advisor,
    AdvisorSkill,
    BusinessHours,
    Case,
    Closure,
    Contact,
    ContactPhone,
    District,
    Engineer,
    HolidayRule,
    Rotation,
    RotationMember,
    RotationOverride,
    Team,
)
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

__all__ = [
    "FORMAT_VERSION",
    "LoadError",
    "LoadReport",
    "Problem",
    "dump",
    "export_document",
    "load_document",
    "load_text",
    "parse_text",
]

FORMAT_VERSION = 1
SECTIONS = (
    "version", "teams", "districts", "contacts", "advisors", "engineers", "cases", "hours",
    "holidays", "rotations",
)
LIST_SECTIONS = ("teams", "districts", "contacts", "advisors", "engineers", "cases", "rotations")
MAX_CASE_NUMBER = 2_147_483_647  # a 32-bit INTEGER column
_IN_CHUNK = 500  # bound parameters per IN (...) query (old SQLite builds allow 999)

PinHasher = Callable[[str, str], str]


# --------------------------------------------------------------------------------------------
# Problems, errors and the report
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One reason the document cannot be loaded: where (path in the file, line) and why."""

    path: str
    line: Optional[int]
    message: str

    def __str__(self) -> str:
        where = self.path or "(document)"
        if self.line is not None:
            where += f" (line {self.line})"
        return f"{where}: {self.message}"


class LoadError(Exception):
    """The document has problems; nothing was written. `problems` lists every one of them."""

    def __init__(self, problems: Sequence[Problem], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        lines = [f"{head}{len(self.problems)} problem(s); nothing was written"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))


_COUNTED = ("created", "updated", "unchanged")


@dataclass
class LoadReport:
    """What a load did, per kind of row: how many were created, updated, or already as in the file."""

    source: str = ""
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, kind: str, outcome: str) -> None:
        self.counts.setdefault(kind, dict.fromkeys(_COUNTED, 0))[outcome] += 1

    def touch(self, kind: str) -> None:
        """Mention `kind` in the summary even when the file's section was empty."""
        self.counts.setdefault(kind, dict.fromkeys(_COUNTED, 0))

    @property
    def changes(self) -> int:
        return sum(c["created"] + c["updated"] for c in self.counts.values())

    def __str__(self) -> str:
        if not self.counts:
            return "nothing to load"
        return "; ".join(
            f"{kind}: " + ", ".join(f"{c[o]} {o}" for o in _COUNTED) for kind, c in self.counts.items()
        )


def render_path(loc: Iterable[Any]) -> str:
    """('contacts', 3, 'phones', 1) -> 'contacts[3].phones[1]'."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _Problems:
    """Collects problems, looking up each path's line in the map built from the YAML nodes."""

    def __init__(self, lines: Mapping[str, int] | None) -> None:
        self.lines = dict(lines or {})
        self.items: list[Problem] = []

    def line_of(self, loc: Sequence[Any]) -> Optional[int]:
        parts = list(loc)
        while True:
            found = self.lines.get(render_path(parts))
            if found is not None or not parts:
                return found
            parts.pop()

    def add(self, loc: Sequence[Any], message: str) -> None:
        self.items.append(Problem(render_path(loc), self.line_of(loc), message))

    def where(self, loc: Sequence[Any]) -> str:
        line = self.line_of(loc)
        return render_path(loc) + (f" (line {line})" if line is not None else "")

    def __bool__(self) -> bool:
        return bool(self.items)

    def sorted(self) -> list[Problem]:
        # File order where lines are known; otherwise the order found (which follows the file).
        order = sorted(enumerate(self.items), key=lambda ip: (ip[1].line is None, ip[1].line or 0, ip[0]))
        return [p for _, p in order]


# --------------------------------------------------------------------------------------------
# YAML: a SafeLoader without sexagesimal (and octal) numbers, and a path -> line map
# --------------------------------------------------------------------------------------------


# libyaml's parser where PyYAML was built with it (10x faster on big files); same resolvers either way.
_SafeLoaderBase: type = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
_SafeDumperBase: type = getattr(yaml, "CSafeDumper", None) or yaml.SafeDumper


class _Loader(_SafeLoaderBase):  # type: ignore[misc, valid-type]
    """SafeLoader minus YAML 1.1 sexagesimal ints/floats (`18:00` would be 1080) and octal ints
    (`012345` would be 5349): both stay text. Dates and timestamps are still parsed."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?"
        r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)"
        r"|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _construct_timestamp(loader: Any, node: yaml.ScalarNode) -> Any:
    # `2026-02-30` matches the timestamp pattern but is no date: keep the text, so validation
    # reports it at its path instead of the whole file failing without one.
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)

_MAX_LINE_NODES = 200_000  # alias-heavy documents: stop mapping lines rather than walk forever


def _line_map(root: yaml.Node, problems: _Problems) -> dict[str, int]:
    """Every path in the node tree -> its 1-based line (a mapping entry: its key's line).
    Duplicate keys in one mapping (which YAML silently collapses) are reported as problems."""
    lines: dict[str, int] = {}
    budget = [_MAX_LINE_NODES]

    def walk(node: yaml.Node, loc: tuple[Any, ...], stack: frozenset[int]) -> None:
        if budget[0] <= 0 or id(node) in stack:
            return
        budget[0] -= 1
        stack = stack | {id(node)}
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = key_node.value
                key_loc = loc + (key,)
                line = key_node.start_mark.line + 1
                if key in seen:
                    problems.items.append(
                        Problem(render_path(key_loc), line, f"duplicate key {key!r} (first on line {seen[key]})")
                    )
                    continue
                seen[key] = line
                lines.setdefault(render_path(key_loc), line)
                walk(value_node, key_loc, stack)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                item_loc = loc + (index,)
                lines.setdefault(render_path(item_loc), item.start_mark.line + 1)
                walk(item, item_loc, stack)

    lines[""] = root.start_mark.line + 1
    walk(root, (), frozenset())
    return lines


def _mark_line(exc: BaseException) -> Optional[int]:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else None


def parse_text(text: str) -> tuple[Any, dict[str, int], list[Problem]]:
    """Parse YAML or JSON (text starting with `{`): (data, path -> line map, problems)."""
    problems = _Problems(None)
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{"):
        try:
            return json.loads(stripped), {}, []
        except json.JSONDecodeError as exc:
            return None, {}, [Problem("", exc.lineno, f"malformed JSON: {exc.msg}")]
        except (RecursionError, ValueError) as exc:
            return None, {}, [Problem("", None, f"malformed JSON: {exc}")]
    loader: Optional[_Loader] = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None, {}, []
        lines = _line_map(node, problems)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        reason = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        return None, {}, [Problem("", _mark_line(exc), f"malformed YAML: {reason or exc}")]
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, e.g. a control character
        line = text[: exc.position].count("\n") + 1 if isinstance(exc.position, int) else None
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        return None, {}, [Problem("", line, f"malformed YAML: {exc.reason} (character {char})")]
    except yaml.YAMLError as exc:
        return None, {}, [Problem("", None, f"malformed YAML: {exc}")]
    except RecursionError:
        return None, {}, [Problem("", None, "malformed YAML: nested too deeply")]
    except (ValueError, TypeError, OverflowError) as exc:
        # An explicit tag with a bad value, e.g. `!!int abc`.
        return None, {}, [Problem("", None, f"malformed YAML: {exc}")]
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines, problems.sorted()


# --------------------------------------------------------------------------------------------
# Field types
# --------------------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the text {_short(value)}"
    if isinstance(value, datetime):
        return "a date-time"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, time):
        return "a time"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "a list"
    return f"a {type(value).__name__}"


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bad_chars(value: str, multiline: bool) -> bool:
    allowed = {"\n", "\t"} if multiline else set()
    return any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed for ch in value)


def _text(max_len: int, *, allow_empty: bool = False, multiline: bool = False) -> BeforeValidator:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {_kind(value)}")
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
    raise ValueError(f"expected text, got {_kind(value)}")


_CONTACT_ID_RE = re.compile(r"[1-9][0-9]{3,9}")
_PIN_RE = re.compile(r"[0-9]{4,8}")


def _contact_id(value: Any) -> str:
    text = _digits_text(value)
    if not _CONTACT_ID_RE.fullmatch(text):
        raise ValueError(f"not a valid contact ID: {_short(text)} (4-10 digits, no leading zero)")
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
        raise ValueError(f"not a valid phone number: {_short(text)} ({exc})") from None


_CLIENT_RE = re.compile(r"client:[A-Za-z0-9_.@-]{1,121}")
_SIP_RE = re.compile(r"sips?:[^\s@]+@[^\s@]+", re.IGNORECASE)


def _reach(value: Any, info: ValidationInfo) -> str:
    text = _digits_text(value)
    if len(text) > 255 or _bad_chars(text, False):
        raise ValueError("not a valid reach (too long or has control characters)")
    lowered = text.lower()
    if lowered.startswith("client:"):
        if not _CLIENT_RE.fullmatch(text):
            raise ValueError(f"not a valid Twilio client name: {_short(text)}")
        return text
    if lowered.startswith(("sip:", "sips:")):
        if not _SIP_RE.fullmatch(text):
            raise ValueError(f"not a valid SIP URI: {_short(text)} (expected sip:user@host)")
        return text
    try:
        return to_e164(text, _region(info))
    except InvalidPhoneNumber:
        raise ValueError(
            f"not a phone number, client:NAME or sip: URI: {_short(text)}"
        ) from None


_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _email(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected an email address, got {_kind(value)}")
    text = value.strip()
    if len(text) > 254 or not _EMAIL_RE.fullmatch(text) or _bad_chars(text, False):
        raise ValueError(f"not a valid email address: {_short(text)}")
    return text


def _state(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{2}", value.strip()):
        raise ValueError(f"expected a two-letter state code, got {_kind(value)}")
    return value.strip().upper()


def _enum_of(cls: type, label: str) -> BeforeValidator:
    values = [m.value for m in cls]  # type: ignore[attr-defined]

    def check(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        if isinstance(value, str) and value.strip() in values:
            return cls(value.strip())
        if isinstance(value, str):
            raise ValueError(f"unknown {label} {_short(value)}; expected one of: {', '.join(values)}")
        raise ValueError(f"expected a {label} ({', '.join(values)}), got {_kind(value)}")

    return BeforeValidator(check)


def _holiday_key(value: Any) -> str:
    if isinstance(value, str) and value.strip() in HOLIDAY_RULES:
        return value.strip()
    if isinstance(value, str):
        raise ValueError(f"unknown holiday {_short(value)}; expected one of: {', '.join(HOLIDAY_RULES)}")
    raise ValueError(f"expected a holiday rule ({', '.join(HOLIDAY_RULES)}), got {_kind(value)}")


def _strict_int(low: int, high: int) -> BeforeValidator:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {_kind(value)}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return BeforeValidator(check)


def _case_number(value: Any) -> int:
    if isinstance(value, str) and re.fullmatch(r"[1-9][0-9]*", value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a case number, got {_kind(value)}")
    if value < 10000:
        raise ValueError(f"case number {value} is under 5 digits (case numbers are 10000 or more)")
    if value > MAX_CASE_NUMBER:
        raise ValueError(f"case number {value} is too large")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_kind(value)}")
    return value


def _aware_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"not an ISO-8601 date-time: {_short(text)} (e.g. 2026-11-02T09:14:00-06:00)"
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                "date-time without a time zone; add an offset such as -06:00 or Z"
            )
        try:
            return value.astimezone(timezone.utc)
        except (OverflowError, ValueError):
            raise ValueError("date-time out of range") from None
    if isinstance(value, date):
        raise ValueError("a date without a time; give a date-time with an offset, e.g. 2026-11-02T09:14:00-06:00")
    raise ValueError(f"expected a date-time, got {_kind(value)}")


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
    raise ValueError(f"expected a date (YYYY-MM-DD), got {_kind(value)}")


_TIME_RE = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?")


def _parse_time(text: str) -> time:
    match = _TIME_RE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a time of day: {_short(text)} (expected HH:MM)")
    return time(int(match[1]), int(match[2]), int(match[3] or 0))


def _time(value: Any) -> time:
    if isinstance(value, time):
        if value.tzinfo is not None or value.microsecond:
            raise ValueError("expected a local time of day as HH:MM")
        return time(value.hour, value.minute, value.second)
    if isinstance(value, str):
        return _parse_time(value)
    raise ValueError(f"expected a time of day as HH:MM, got {_kind(value)}")


def _hours_range(value: Any) -> tuple[time, time]:
    if not isinstance(value, str) or value.count("-") != 1:
        raise ValueError(f"expected an opening range like \"06:00-18:00\", got {_kind(value)}")
    opens_text, closes_text = value.split("-")
    opens, closes = _parse_time(opens_text), _parse_time(closes_text)
    if closes <= opens:
        raise ValueError(f"closes ({fmt_time(closes)}) must be after it opens ({fmt_time(opens)})")
    return opens, closes


def _timezone(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 64:
        raise ValueError(f"expected a time zone name such as America/Chicago, got {_kind(value)}")
    name = value.strip()
    try:
        ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError, OSError (a directory), ...
        raise ValueError(f"unknown time zone {_short(name)}") from None
    return name


# `skills:` with nothing after it (null) is an empty list, as an empty section is no section.
_NULL_IS_EMPTY = BeforeValidator(lambda value: [] if value is None else value)

Name120 = Annotated[str, _text(120)]
Name200 = Annotated[str, _text(200)]
# (Before-validators run last-listed first: null becomes "" before the text check.)
Summary = Annotated[str, _text(500, allow_empty=True, multiline=True), BeforeValidator(lambda v: "" if v is None else v)]
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
TeamKindT = Annotated[TeamKind, _enum_of(TeamKind, "team kind")]
ProductAreaT = Annotated[ProductArea, _enum_of(ProductArea, "product area")]
SkillT = Annotated[ProductArea, _enum_of(ProductArea, "skill")]
PriorityT = Annotated[Priority, _enum_of(Priority, "priority")]
StatusT = Annotated[CaseStatus, _enum_of(CaseStatus, "status")]
LayerT = Annotated[RotationLayer, _enum_of(RotationLayer, "rotation layer")]
HandoffT = Annotated[HandoffKind, _enum_of(HandoffKind, "handoff")]
WeekdayT = Annotated[Weekday, _enum_of(Weekday, "weekday")]


# --------------------------------------------------------------------------------------------
# Row models (the shape of the file)
# --------------------------------------------------------------------------------------------


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TeamRow(_Row):
    name: Name120
    kind: TeamKindT = TeamKind.CAMPUS
    route_order: Annotated[int, _strict_int(0, 1_000_000)] = 100


class DistrictRow(_Row):
    name: Name200
    state: StateT
    hosted: Bool = False
    team: Optional[Name120] = None
    active: Bool = True


class ContactRow(_Row):
    contact_id: ContactIdT
    district: Name200
    name: Name200
    email: Optional[EmailT] = None
    phones: Annotated[list[PhoneT], _NULL_IS_EMPTY] = []
    pin: Optional[PinT] = None
    active: Bool = True


class AdvisorRow(_Row):
    name: Name200
    reach: ReachT
    team: Optional[Name120] = None
    skills: Annotated[list[SkillT], _NULL_IS_EMPTY] = []
    active: Bool = True


class EngineerRow(_Row):
    name: Name200
    phone: PhoneT
    sms: Bool = True
    active: Bool = True


class CaseRow(_Row):
    number: CaseNumberT
    district: Name200
    contact: Optional[ContactIdT] = None
    product_area: ProductAreaT
    priority: PriorityT = Priority.MEDIUM
    status: StatusT = CaseStatus.NEW
    owner: Optional[Name200] = None
    summary: Summary = ""
    is_outage: Bool = False
    release_name: Optional[Name120] = None
    created_at: AwareDT
    updated_at: Optional[AwareDT] = None
    closed_at: Optional[AwareDT] = None
    reopen_count: Annotated[int, _strict_int(0, 1_000_000)] = 0


class HoursDoc(_Row):
    mon: Optional[list[RangeT]] = None
    tue: Optional[list[RangeT]] = None
    wed: Optional[list[RangeT]] = None
    thu: Optional[list[RangeT]] = None
    fri: Optional[list[RangeT]] = None
    sat: Optional[list[RangeT]] = None
    sun: Optional[list[RangeT]] = None


class ClosureRow(_Row):
    date: DateT
    name: Name120


class HolidaysDoc(_Row):
    observe: Optional[list[HolidayKeyT]] = None
    closures: Optional[list[ClosureRow]] = None


class OverrideRow(_Row):
    engineer: Name200
    starts_at: AwareDT
    ends_at: AwareDT


class RotationRow(_Row):
    name: Name120
    layer: LayerT
    timezone: TimezoneT = "America/Chicago"
    handoff: HandoffT
    handoff_time: TimeT
    handoff_weekday: Optional[WeekdayT] = None
    start_date: DateT
    members: Annotated[list[Name200], _NULL_IS_EMPTY] = []
    overrides: Annotated[list[OverrideRow], _NULL_IS_EMPTY] = []


ROW_MODELS: dict[str, type[_Row]] = {
    "teams": TeamRow,
    "districts": DistrictRow,
    "contacts": ContactRow,
    "advisors": AdvisorRow,
    "engineers": EngineerRow,
    "cases": CaseRow,
    "rotations": RotationRow,
}


def _submodel(annotation: Any) -> Optional[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _allowed_keys(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    current: Optional[type[BaseModel]] = model
    for part in loc:
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part) if current else None
        current = _submodel(info.annotation) if info else None
        if current is None:
            return []
    return list(current.model_fields) if current else []


def _pydantic_message(err: Mapping[str, Any], model: type[BaseModel]) -> str:
    kind, loc, value = err["type"], err["loc"], err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        return f"unknown key {loc[-1]!r}" + (f" (allowed: {', '.join(allowed)})" if allowed else "")
    if kind == "invalid_key":
        return f"keys must be text, got {_kind(value)}"
    if kind == "missing":
        return "required but missing"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping (key: value), got {_kind(value)}"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list, got {_kind(value)}"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return str(err["msg"])


def _validate_row(
    model: type[_Row], raw: Any, loc: tuple[Any, ...], problems: _Problems, region: str
) -> Optional[_Row]:
    if not isinstance(raw, dict):
        problems.add(loc, f"expected a mapping (key: value), got {_kind(raw)}")
        return None
    try:
        return model.model_validate(raw, context={"region": region})
    except ValidationError as exc:
        for err in exc.errors():
            sub = tuple(err["loc"])
            if err["type"] == "invalid_key" and sub:
                sub = sub[:-1] + (str(sub[-1]),)
            problems.add(loc + sub, _pydantic_message(err, model))
        return None
    except RecursionError:
        problems.add(loc, "nested too deeply")
        return None


# --------------------------------------------------------------------------------------------
# Validation: shape, then cross-row and database checks
# --------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    """The validated document, ready to write, and the existing rows it touches."""

    sections: set[str] = field(default_factory=set)
    rows: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    hours: Optional[HoursDoc] = None
    holidays: Optional[HolidaysDoc] = None
    pin_hashes: dict[str, str] = field(default_factory=dict)  # contact_id -> new hash
    teams: dict[str, Team] = field(default_factory=dict)
    districts: dict[str, District] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)
    advisors: dict[str, Advisor] = field(default_factory=dict)
    engineers: dict[str, Engineer] = field(default_factory=dict)
    cases: dict[int, Case] = field(default_factory=dict)
    rotations: dict[str, Rotation] = field(default_factory=dict)
    closures: dict[date, Closure] = field(default_factory=dict)


def _fetch(session: Session, model: Any, column: Any, keys: Iterable[Any], *options: Any) -> list[Any]:
    keys = sorted(set(keys), key=repr)
    found: list[Any] = []
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = keys[start : start + _IN_CHUNK]
        found += session.scalars(select(model).where(column.in_(chunk)).options(*options)).all()
    return found


def _raw_names(raws: Sequence[Any], key: str) -> set[str]:
    """Keys of rows that failed validation: references to them are not reported as unknown too."""
    names = set()
    for raw in raws:
        if isinstance(raw, dict) and key in raw:
            value = raw[key]
            if isinstance(value, str):
                names.add(value.strip())
            elif isinstance(value, int) and not isinstance(value, bool):
                names.add(str(value))
    return names


def _validate(
    session: Session,
    doc: Any,
    problems: _Problems,
    *,
    hash_pin: Optional[PinHasher],
    region: str,
) -> _Plan:
    plan = _Plan()
    if doc is None:
        problems.add((), "the document is empty")
        return plan
    if not isinstance(doc, dict):
        problems.add((), f"expected a mapping of sections ({', '.join(SECTIONS)}), got {_kind(doc)}")
        return plan
    for key in doc:
        if key not in SECTIONS:
            problems.add((str(key),), f"unknown section {str(key)!r} (allowed: {', '.join(SECTIONS)})")
    version = doc.get("version")
    if version is not None and (type(version) is not int or version != FORMAT_VERSION):
        problems.add(("version",), f"unsupported version {_short(version)}; this loader reads version {FORMAT_VERSION}")

    raws: dict[str, list[Any]] = {}
    for section in LIST_SECTIONS:
        raw = doc.get(section)
        if raw is None:
            continue
        plan.sections.add(section)
        if not isinstance(raw, list):
            problems.add((section,), f"expected a list of {section}, got {_kind(raw)}")
            continue
        raws[section] = raw
        model = ROW_MODELS[section]
        rows = plan.rows.setdefault(section, [])
        for index, item in enumerate(raw):
            row = _validate_row(model, item, (section, index), problems, region)
            if row is not None:
                rows.append((index, row))
    for section, model in (("hours", HoursDoc), ("holidays", HolidaysDoc)):
        raw = doc.get(section)
        if raw is None:
            continue
        plan.sections.add(section)
        validated = _validate_row(model, raw, (section,), problems, region)
        setattr(plan, section, validated)

    def rows_of(section: str) -> list[tuple[int, Any]]:
        return plan.rows.get(section, [])

    # Duplicate natural keys inside the file.
    def no_duplicates(section: str, key_field: str, label: str) -> None:
        first: dict[Any, int] = {}
        for index, row in rows_of(section):
            key = getattr(row, key_field)
            if key in first:
                earlier = problems.where((section, first[key], key_field))
                problems.add((section, index, key_field), f"duplicate {label} {key!r}; already at {earlier}")
            else:
                first[key] = index

    no_duplicates("teams", "name", "team name")
    no_duplicates("districts", "name", "district name")
    no_duplicates("contacts", "contact_id", "contact ID")
    no_duplicates("advisors", "name", "advisor name")
    no_duplicates("engineers", "name", "engineer name")
    no_duplicates("cases", "number", "case number")
    no_duplicates("rotations", "name", "rotation name")

    # Existing rows (every name the file defines or refers to), for references and the upsert.
    file_teams = {r.name for _, r in rows_of("teams")}
    team_refs = {r.team for _, r in rows_of("districts") + rows_of("advisors") if r.team}
    plan.teams = {t.name: t for t in _fetch(session, Team, Team.name, file_teams | team_refs)}
    file_districts = {r.name for _, r in rows_of("districts")}
    district_refs = {r.district for _, r in rows_of("contacts") + rows_of("cases")}
    plan.districts = {
        d.name: d
        for d in _fetch(session, District, District.name, file_districts | district_refs, selectinload(District.team))
    }
    file_contacts: dict[str, ContactRow] = {}
    for _, row in rows_of("contacts"):
        file_contacts.setdefault(row.contact_id, row)  # a duplicate is reported; the first counts
    contact_refs = {r.contact for _, r in rows_of("cases") if r.contact}
    plan.contacts = {
        c.contact_id: c
        for c in _fetch(
            session, Contact, Contact.contact_id, set(file_contacts) | contact_refs,
            selectinload(Contact.phones), selectinload(Contact.district),
        )
    }
    file_advisors = {r.name for _, r in rows_of("advisors")}
    owner_refs = {r.owner for _, r in rows_of("cases") if r.owner}
    plan.advisors = {
        a.name: a
        for a in _fetch(
            session, Advisor, Advisor.name, file_advisors | owner_refs,
            selectinload(Advisor.team), selectinload(Advisor.skill_rows),
        )
    }
    file_engineers = {r.name for _, r in rows_of("engineers")}
    engineer_refs = {m for _, r in rows_of("rotations") for m in r.members}
    engineer_refs |= {o.engineer for _, r in rows_of("rotations") for o in r.overrides}
    plan.engineers = {e.name: e for e in _fetch(session, Engineer, Engineer.name, file_engineers | engineer_refs)}
    plan.cases = {
        c.number: c
        for c in _fetch(
            session, Case, Case.number, {r.number for _, r in rows_of("cases")},
            selectinload(Case.district), selectinload(Case.contact), selectinload(Case.owner),
        )
    }
    plan.rotations = {
        r.name: r
        for r in _fetch(
            session, Rotation, Rotation.name, {r.name for _, r in rows_of("rotations")},
            selectinload(Rotation.members).selectinload(RotationMember.engineer),
            selectinload(Rotation.overrides).selectinload(RotationOverride.engineer),
        )
    }
    if plan.holidays is not None and plan.holidays.closures:
        plan.closures = {c.day: c for c in _fetch(session, Closure, Closure.day, {c.date for c in plan.holidays.closures})}

    known_teams = file_teams | set(plan.teams) | _raw_names(raws.get("teams", []), "name")
    known_districts = file_districts | set(plan.districts) | _raw_names(raws.get("districts", []), "name")
    known_contacts = set(file_contacts) | set(plan.contacts) | _raw_names(raws.get("contacts", []), "contact_id")
    known_advisors = file_advisors | set(plan.advisors) | _raw_names(raws.get("advisors", []), "name")
    known_engineers = file_engineers | set(plan.engineers) | _raw_names(raws.get("engineers", []), "name")

    for section in ("districts", "advisors"):
        for index, row in rows_of(section):
            if row.team and row.team not in known_teams:
                problems.add((section, index, "team"), f"unknown team {row.team!r}")

    for index, row in rows_of("contacts"):
        if row.district not in known_districts:
            problems.add(("contacts", index, "district"), f"unknown district {row.district!r}")
        first: dict[str, int] = {}
        for p_index, number in enumerate(row.phones):
            if number in first:
                problems.add(("contacts", index, "phones", p_index),
                             f"same number as phones[{first[number]}] ({number})")
            else:
                first[number] = p_index
        if row.pin is not None:
            if hash_pin is None:
                problems.add(("contacts", index, "pin"),
                             "a PIN is given but no PIN pepper is configured, so it cannot be stored")
            else:
                try:
                    plan.pin_hashes[row.contact_id] = hash_pin(row.contact_id, row.pin)
                except (ValueError, TypeError) as exc:
                    problems.add(("contacts", index, "pin"), f"the PIN cannot be hashed: {exc}")

    for index, row in rows_of("advisors"):
        first_skill: dict[ProductArea, int] = {}
        for s_index, skill in enumerate(row.skills):
            if skill in first_skill:
                problems.add(("advisors", index, "skills", s_index), f"duplicate skill {skill.value!r}")
            else:
                first_skill[skill] = s_index

    def contact_district(contact_id: str) -> Optional[str]:
        if contact_id in file_contacts:
            return file_contacts[contact_id].district
        existing = plan.contacts.get(contact_id)
        return existing.district.name if existing is not None else None

    for index, row in rows_of("cases"):
        loc = ("cases", index)
        if row.district not in known_districts:
            problems.add(loc + ("district",), f"unknown district {row.district!r}")
        if row.contact:
            if row.contact not in known_contacts:
                problems.add(loc + ("contact",), f"unknown contact {row.contact!r}")
            else:
                owner_district = contact_district(row.contact)
                if owner_district is not None and owner_district != row.district:
                    problems.add(loc + ("contact",),
                                 f"contact {row.contact!r} belongs to {owner_district!r}, not {row.district!r}")
        if row.owner and row.owner not in known_advisors:
            problems.add(loc + ("owner",), f"unknown advisor {row.owner!r}")
        if row.status is CaseStatus.CLOSED and row.closed_at is None:
            problems.add(loc + ("closed_at",), "a closed case needs closed_at")
        if row.status is not CaseStatus.CLOSED and row.closed_at is not None:
            problems.add(loc + ("closed_at",), f"only a closed case has closed_at (status is {row.status.value})")
        if row.closed_at is not None and row.closed_at < row.created_at:
            problems.add(loc + ("closed_at",), "closed_at is before created_at")
        if row.updated_at is not None and row.updated_at < row.created_at:
            problems.add(loc + ("updated_at",), "updated_at is before created_at")

    if plan.hours is not None:
        for day in Weekday:
            ranges = getattr(plan.hours, day.value) or []
            ordered = sorted(enumerate(ranges), key=lambda ir: ir[1])
            for (_, (_, prev_close)), (r_index, (opens, _)) in zip(ordered, ordered[1:]):
                if opens < prev_close:
                    problems.add(("hours", day.value, r_index), "overlaps another range of the same day")

    if plan.holidays is not None and plan.holidays.closures:
        first_day: dict[date, int] = {}
        for c_index, closure in enumerate(plan.holidays.closures):
            if closure.date in first_day:
                earlier = problems.where(("holidays", "closures", first_day[closure.date], "date"))
                problems.add(("holidays", "closures", c_index, "date"),
                             f"duplicate closure date {closure.date.isoformat()}; already at {earlier}")
            else:
                first_day[closure.date] = c_index

    for index, row in rows_of("rotations"):
        loc = ("rotations", index)
        if row.handoff is HandoffKind.WEEKLY and row.handoff_weekday is None:
            problems.add(loc + ("handoff_weekday",), "a weekly handoff needs handoff_weekday")
        if row.handoff is HandoffKind.DAILY and row.handoff_weekday is not None:
            problems.add(loc + ("handoff_weekday",), "handoff_weekday is only for weekly handoffs")
        for m_index, member in enumerate(row.members):
            if member not in known_engineers:
                problems.add(loc + ("members", m_index), f"{member!r} is not an engineer")
        for o_index, override in enumerate(row.overrides):
            if override.engineer not in known_engineers:
                problems.add(loc + ("overrides", o_index, "engineer"), f"{override.engineer!r} is not an engineer")
            if override.ends_at <= override.starts_at:
                problems.add(loc + ("overrides", o_index, "ends_at"), "ends_at must be after starts_at")
    return plan


# --------------------------------------------------------------------------------------------
# Snapshots: the file's view of a row (also what the audit log records)
# --------------------------------------------------------------------------------------------


def fmt_time(value: time) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def _fmt_range(opens: time, closes: time) -> str:
    return f"{fmt_time(opens)}-{fmt_time(closes)}"


def _skill_order(skill: ProductArea) -> int:
    return list(ProductArea).index(skill)


def _team_snap(t: Team) -> dict[str, Any]:
    return {"name": t.name, "kind": TeamKind(t.kind), "route_order": t.route_order}


def _district_snap(d: District) -> dict[str, Any]:
    return {
        "name": d.name, "state": d.state, "hosted": bool(d.hosted),
        "team": d.team.name if d.team else None, "active": bool(d.active),
    }


def _contact_snap(c: Contact) -> dict[str, Any]:
    return {
        "contact_id": c.contact_id, "district": c.district.name, "name": c.name, "email": c.email,
        "phones": [p.e164 for p in sorted(c.phones, key=lambda p: p.position)], "active": bool(c.active),
    }


def _advisor_snap(a: Advisor) -> dict[str, Any]:
    return {
        "name": a.name, "reach": a.reach, "team": a.team.name if a.team else None,
        "skills": sorted(a.skills, key=_skill_order), "active": bool(a.active),
    }


def _engineer_snap(e: Engineer) -> dict[str, Any]:
    return {"name": e.name, "phone": e.phone, "sms": bool(e.sms), "active": bool(e.active)}


def _case_snap(c: Case) -> dict[str, Any]:
    return {
        "number": c.number, "district": c.district.name,
        "contact": c.contact.contact_id if c.contact else None,
        "product_area": ProductArea(c.product_area), "priority": Priority(c.priority),
        "status": CaseStatus(c.status), "owner": c.owner.name if c.owner else None,
        "summary": c.summary or "", "is_outage": bool(c.is_outage), "release_name": c.release_name,
        "created_at": c.created_at, "updated_at": c.updated_at, "closed_at": c.closed_at,
        "reopen_count": c.reopen_count or 0,
    }


def _override_key(o: Mapping[str, Any]) -> tuple[Any, ...]:
    return (o["starts_at"], o["ends_at"], o["engineer"])


def _rotation_snap(r: Rotation) -> dict[str, Any]:
    return {
        "name": r.name, "layer": RotationLayer(r.layer), "timezone": r.timezone,
        "handoff": HandoffKind(r.handoff), "handoff_time": fmt_time(r.handoff_time),
        "handoff_weekday": Weekday(r.handoff_weekday) if r.handoff_weekday else None,
        "start_date": r.start_date,
        "members": [m.engineer.name for m in sorted(r.members, key=lambda m: m.position)],
        "overrides": sorted(
            ({"engineer": o.engineer.name, "starts_at": o.starts_at, "ends_at": o.ends_at} for o in r.overrides),
            key=_override_key,
        ),
    }


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _audit_key(key: Any) -> str:
    # audit_log.entity_key is 120 characters; names may be up to 200 (the full name is in `after`).
    text = str(key)
    return text if len(text) <= 120 else text[:119] + "…"


class _Writer:
    def __init__(self, session: Session, plan: _Plan, report: LoadReport, actor: str, now: datetime) -> None:
        self.session, self.plan, self.report, self.actor, self.now = session, plan, report, actor, now

    def _upsert(
        self, kind: str, entity: str, key: Any, existing: Any, desired: dict[str, Any],
        snap: Callable[[Any], dict[str, Any]], create: Callable[[], Any], apply: Callable[[Any], None],
        extra_before: Optional[dict[str, Any]] = None, extra_after: Optional[dict[str, Any]] = None,
    ) -> Any:
        if existing is None:
            obj = create()
            apply(obj)
            self.session.add(obj)
            audit.record(self.session, at=self.now, actor=self.actor, action="create", entity=entity,
                         key=_audit_key(key), after={**desired, **(extra_after or {})})
            self.report.count(kind, "created")
            return obj
        before = {**snap(existing), **(extra_before or {})}
        after = {**desired, **(extra_after or {})}
        if before == after:
            self.report.count(kind, "unchanged")
            return existing
        apply(existing)
        audit.record(self.session, at=self.now, actor=self.actor, action="update", entity=entity,
                     key=_audit_key(key), before=before, after=after)
        self.report.count(kind, "updated")
        return existing

    def write(self) -> None:
        plan = self.plan
        for section in LIST_SECTIONS:
            if section in plan.sections:
                self.report.touch(section)
        for _, row in plan.rows.get("teams", []):
            self.team(row)
        for _, row in plan.rows.get("districts", []):
            self.district(row)
        for _, row in plan.rows.get("contacts", []):
            self.contact(row)
        for _, row in plan.rows.get("advisors", []):
            self.advisor(row)
        for _, row in plan.rows.get("engineers", []):
            self.engineer(row)
        for _, row in plan.rows.get("cases", []):
            self.case(row)
        if plan.hours is not None:
            self.hours(plan.hours)
        if plan.holidays is not None:
            self.holidays(plan.holidays)
        for _, row in plan.rows.get("rotations", []):
            self.rotation(row)

    def team(self, row: TeamRow) -> None:
        desired = {"name": row.name, "kind": row.kind, "route_order": row.route_order}

        def apply(t: Team) -> None:
            t.name, t.kind, t.route_order = row.name, row.kind, row.route_order

        self.plan.teams[row.name] = self._upsert(
            "teams", "team", row.name, self.plan.teams.get(row.name), desired, _team_snap, Team, apply
        )

    def district(self, row: DistrictRow) -> None:
        desired = {"name": row.name, "state": row.state, "hosted": row.hosted, "team": row.team, "active": row.active}

        def apply(d: District) -> None:
            d.name, d.state, d.hosted, d.active = row.name, row.state, row.hosted, row.active
            d.team = self.plan.teams[row.team] if row.team else None

        self.plan.districts[row.name] = self._upsert(
            "districts", "district", row.name, self.plan.districts.get(row.name), desired, _district_snap,
            lambda: District(created_at=self.now), apply,
        )

    def contact(self, row: ContactRow) -> None:
        existing = self.plan.contacts.get(row.contact_id)
        new_hash = self.plan.pin_hashes.get(row.contact_id)
        old_hash = existing.pin_hash if existing is not None else None
        pin_before = {"pin": "set" if old_hash else "not set"}
        if new_hash is None or new_hash == old_hash:
            pin_after = pin_before
        else:
            pin_after = {"pin": "changed" if old_hash else "set"}
        desired = {
            "contact_id": row.contact_id, "district": row.district, "name": row.name, "email": row.email,
            "phones": list(row.phones), "active": row.active,
        }

        def apply(c: Contact) -> None:
            c.contact_id, c.name, c.email, c.active = row.contact_id, row.name, row.email, row.active
            c.district = self.plan.districts[row.district]
            if new_hash is not None:
                c.pin_hash = new_hash
            reuse = {p.e164: p for p in c.phones}
            phones = []
            for position, number in enumerate(row.phones):
                phone = reuse.pop(number, None) or ContactPhone(e164=number)
                phone.position = position
                phones.append(phone)
            if [p.e164 for p in c.phones] != row.phones or reuse:
                c.phones = phones

        self.plan.contacts[row.contact_id] = self._upsert(
            "contacts", "contact", row.contact_id, existing, desired, _contact_snap,
            lambda: Contact(created_at=self.now), apply, extra_before=pin_before, extra_after=pin_after,
        )

    def advisor(self, row: AdvisorRow) -> None:
        skills = sorted(row.skills, key=_skill_order)
        desired = {"name": row.name, "reach": row.reach, "team": row.team, "skills": skills, "active": row.active}

        def apply(a: Advisor) -> None:
            a.name, a.reach, a.active = row.name, row.reach, row.active
            a.team = self.plan.teams[row.team] if row.team else None
            reuse = {s.skill: s for s in a.skill_rows}
            a.skill_rows = [reuse.get(skill) or AdvisorSkill(skill=skill) for skill in skills]

        self.plan.advisors[row.name] = self._upsert(
            "advisors", "advisor", row.name, self.plan.advisors.get(row.name), desired, _advisor_snap,
            lambda: Advisor(created_at=self.now), apply,
        )

    def engineer(self, row: EngineerRow) -> None:
        desired = {"name": row.name, "phone": row.phone, "sms": row.sms, "active": row.active}

        def apply(e: Engineer) -> None:
            e.name, e.phone, e.sms, e.active = row.name, row.phone, row.sms, row.active

        self.plan.engineers[row.name] = self._upsert(
            "engineers", "engineer", row.name, self.plan.engineers.get(row.name), desired, _engineer_snap,
            Engineer, apply,
        )

    def case(self, row: CaseRow) -> None:
        desired = {
            "number": row.number, "district": row.district, "contact": row.contact,
            "product_area": row.product_area, "priority": row.priority, "status": row.status,
            "owner": row.owner, "summary": row.summary, "is_outage": row.is_outage,
            "release_name": row.release_name, "created_at": row.created_at,
            "updated_at": row.updated_at or row.created_at, "closed_at": row.closed_at,
            "reopen_count": row.reopen_count,
        }

        def apply(c: Case) -> None:
            c.number, c.product_area, c.priority, c.status = row.number, row.product_area, row.priority, row.status
            c.district = self.plan.districts[row.district]
            c.contact = self.plan.contacts[row.contact] if row.contact else None
            c.owner = self.plan.advisors[row.owner] if row.owner else None
            c.summary, c.is_outage, c.release_name = row.summary, row.is_outage, row.release_name
            c.created_at, c.closed_at, c.reopen_count = row.created_at, row.closed_at, row.reopen_count
            c.updated_at = desired["updated_at"]
            if c.id is not None:
                # Write the file's updated_at even when unchanged, so the column's onupdate=utcnow
                # does not replace it when other columns change.
                flag_modified(c, "updated_at")

        self._upsert("cases", "case", row.number, self.plan.cases.get(row.number), desired, _case_snap, Case, apply)

    def hours(self, doc: HoursDoc) -> None:
        existing = self.session.scalars(select(BusinessHours)).all()
        by_day: dict[Weekday, list[BusinessHours]] = {}
        for bh in existing:
            by_day.setdefault(Weekday(bh.weekday), []).append(bh)
        self.report.touch("hours")
        for day in Weekday:
            wanted = sorted(getattr(doc, day.value) or [])
            rows = sorted(by_day.get(day, []), key=lambda b: (b.opens, b.closes))
            before = [_fmt_range(b.opens, b.closes) for b in rows]
            after = [_fmt_range(o, c) for o, c in wanted]
            if before == after:
                self.report.count("hours", "unchanged")
                continue
            reuse = {b.opens: b for b in rows}
            for opens, closes in wanted:
                bh = reuse.pop(opens, None)
                if bh is None:
                    self.session.add(BusinessHours(weekday=day, opens=opens, closes=closes))
                else:
                    bh.closes = closes
            for stale in reuse.values():
                self.session.delete(stale)
            audit.record(self.session, at=self.now, actor=self.actor, action="update", entity="business_hours",
                         key=day.value, before={"ranges": before}, after={"ranges": after})
            self.report.count("hours", "updated")

    def holidays(self, doc: HolidaysDoc) -> None:
        if doc.observe is not None:
            self.report.touch("holidays")
            observe = set(doc.observe)
            rules = {r.key: r for r in self.session.scalars(select(HolidayRule)).all()}
            for key in list(HOLIDAY_RULES) + sorted(set(rules) - set(HOLIDAY_RULES)):
                rule = rules.get(key)
                active = key in observe
                if rule is None and not active:
                    continue
                desired = {"key": key, "name": rule.name if rule else HOLIDAY_RULES[key], "active": active}

                def apply(r: HolidayRule, desired: dict[str, Any] = desired) -> None:
                    r.key, r.name, r.active = desired["key"], desired["name"], desired["active"]

                self._upsert("holidays", "holiday_rule", key, rule, desired,
                             lambda r: {"key": r.key, "name": r.name, "active": bool(r.active)}, HolidayRule, apply)
        if doc.closures is not None:
            self.report.touch("closures")
            for closure in doc.closures:
                desired = {"date": closure.date, "name": closure.name}

                def apply_closure(c: Closure, closure: ClosureRow = closure) -> None:
                    c.day, c.name = closure.date, closure.name

                self.plan.closures[closure.date] = self._upsert(
                    "closures", "closure", closure.date.isoformat(), self.plan.closures.get(closure.date), desired,
                    lambda c: {"date": c.day, "name": c.name}, Closure, apply_closure,
                )

    def rotation(self, row: RotationRow) -> None:
        overrides = sorted(
            ({"engineer": o.engineer, "starts_at": o.starts_at, "ends_at": o.ends_at} for o in row.overrides),
            key=_override_key,
        )
        desired = {
            "name": row.name, "layer": row.layer, "timezone": row.timezone, "handoff": row.handoff,
            "handoff_time": fmt_time(row.handoff_time), "handoff_weekday": row.handoff_weekday,
            "start_date": row.start_date, "members": list(row.members), "overrides": overrides,
        }
        engineers = self.plan.engineers

        def apply(r: Rotation) -> None:
            r.name, r.layer, r.timezone, r.handoff = row.name, row.layer, row.timezone, row.handoff
            r.handoff_time, r.handoff_weekday, r.start_date = row.handoff_time, row.handoff_weekday, row.start_date
            members = sorted(r.members, key=lambda m: m.position)
            for position, name in enumerate(row.members):
                if position < len(members):
                    members[position].engineer = engineers[name]
                else:
                    r.members.append(RotationMember(position=position, engineer=engineers[name]))
            for stale in members[len(row.members):]:
                r.members.remove(stale)
            current = sorted(r.overrides, key=lambda o: (o.starts_at, o.ends_at, o.engineer.name))
            for index, wanted in enumerate(overrides):
                if index < len(current):
                    target = current[index]
                else:
                    target = RotationOverride()
                    r.overrides.append(target)
                target.engineer = engineers[wanted["engineer"]]
                target.starts_at, target.ends_at = wanted["starts_at"], wanted["ends_at"]
            for stale in current[len(overrides):]:
                r.overrides.remove(stale)

        self.plan.rotations[row.name] = self._upsert(
            "rotations", "rotation", row.name, self.plan.rotations.get(row.name), desired, _rotation_snap,
            Rotation, apply,
        )


# --------------------------------------------------------------------------------------------
# Public API: load
# --------------------------------------------------------------------------------------------


def load_document(
    session: Session,
    doc: Any,
    *,
    lines: Optional[Mapping[str, int]] = None,
    source: str = "",
    hash_pin: Optional[PinHasher] = None,
    region: str = "US",
    actor: str,
    now: datetime,
    problems: Sequence[Problem] = (),
) -> LoadReport:
    """Validate `doc` (the parsed file) completely, then upsert it; raises LoadError on any problem.

    `lines` maps paths ("contacts[3].phones[1]") to lines for the messages. Only `flush()`es, inside
    a SAVEPOINT: the caller commits. Nothing is written when a problem is found.
    """
    found = _Problems(lines)
    found.items.extend(problems)
    plan = _validate(session, doc, found, hash_pin=hash_pin, region=region)
    if found:
        raise LoadError(found.sorted(), source)
    report = LoadReport(source=source)
    with session.begin_nested(), session.no_autoflush:
        _Writer(session, plan, report, actor, now).write()
    session.flush()
    return report


def load_text(
    session: Session,
    text: str,
    *,
    source: str,
    hash_pin: Optional[PinHasher],
    region: str = "US",
    actor: str,
    now: datetime,
) -> LoadReport:
    """Parse YAML (or JSON) `text` and load it; raises LoadError listing every problem."""
    data, lines, problems = parse_text(text)
    if problems and data is None:
        raise LoadError(problems, source)
    return load_document(
        session, data, lines=lines, source=source, hash_pin=hash_pin, region=region, actor=actor,
        now=now, problems=problems,
    )


# --------------------------------------------------------------------------------------------
# Public API: export and dump
# --------------------------------------------------------------------------------------------


def _contact_sort_key(contact_id: str) -> tuple[int, str]:
    return (len(contact_id), contact_id)


def export_document(session: Session) -> dict[str, Any]:
    """Everything the load format holds, in that format, sorted by natural key. No PINs.

    Datetimes are aware UTC `datetime`s, dates `date`s, times "HH:MM" text; `dump()` writes them.
    """
    teams = session.scalars(select(Team).order_by(Team.name)).all()
    districts = session.scalars(select(District).options(selectinload(District.team)).order_by(District.name)).all()
    contacts = session.scalars(
        select(Contact).options(selectinload(Contact.phones), selectinload(Contact.district))
    ).all()
    advisors = session.scalars(
        select(Advisor).options(selectinload(Advisor.team), selectinload(Advisor.skill_rows)).order_by(Advisor.name)
    ).all()
    engineers = session.scalars(select(Engineer).order_by(Engineer.name)).all()
    cases = session.scalars(
        select(Case)
        .options(selectinload(Case.district), selectinload(Case.contact), selectinload(Case.owner))
        .order_by(Case.number)
    ).all()
    hours = session.scalars(select(BusinessHours)).all()
    rules = session.scalars(select(HolidayRule)).all()
    closures = session.scalars(select(Closure).order_by(Closure.day)).all()
    rotations = session.scalars(
        select(Rotation)
        .options(
            selectinload(Rotation.members).selectinload(RotationMember.engineer),
            selectinload(Rotation.overrides).selectinload(RotationOverride.engineer),
        )
        .order_by(Rotation.name)
    ).all()

    def plain(snap: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in snap.items():
            if isinstance(value, (TeamKind, ProductArea, Priority, CaseStatus, RotationLayer, HandoffKind, Weekday)):
                value = value.value
            elif isinstance(value, list):
                value = [v.value if isinstance(v, ProductArea) else v for v in value]
            out[key] = value
        return out

    by_day: dict[Weekday, list[BusinessHours]] = {}
    for bh in hours:
        by_day.setdefault(Weekday(bh.weekday), []).append(bh)
    rule_order = {key: i for i, key in enumerate(HOLIDAY_RULES)}
    observed = sorted((r.key for r in rules if r.active), key=lambda k: (rule_order.get(k, len(rule_order)), k))
    return {
        "version": FORMAT_VERSION,
        "teams": [plain(_team_snap(t)) for t in teams],
        "districts": [plain(_district_snap(d)) for d in districts],
        "contacts": [
            plain(_contact_snap(c)) for c in sorted(contacts, key=lambda c: _contact_sort_key(c.contact_id))
        ],
        "advisors": [plain(_advisor_snap(a)) for a in advisors],
        "engineers": [plain(_engineer_snap(e)) for e in engineers],
        "cases": [plain(_case_snap(c)) for c in cases],
        "hours": {
            day.value: [_fmt_range(b.opens, b.closes) for b in sorted(by_day[day], key=lambda b: b.opens)]
            for day in Weekday
            if day in by_day
        },
        "holidays": {
            "observe": observed,
            "closures": [{"date": c.day, "name": c.name} for c in closures],
        },
        "rotations": [plain(_rotation_snap(r)) for r in rotations],
    }


def _iso(value: datetime) -> str:
    text = value.astimezone(timezone.utc).isoformat()
    return text.removesuffix("+00:00") + "Z"


class _Dumper(_SafeDumperBase):  # type: ignore[misc, valid-type]
    pass


def _represent_datetime(dumper: Any, value: datetime) -> yaml.Node:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} cannot be exported")
    return dumper.represent_scalar("tag:yaml.org,2002:timestamp", _iso(value))


def _represent_time(dumper: Any, value: time) -> yaml.Node:
    return dumper.represent_str(fmt_time(value))


_Dumper.add_representer(datetime, _represent_datetime)
_Dumper.add_representer(time, _represent_time)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return fmt_time(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dump(doc: Mapping[str, Any], fmt: str = "yaml") -> str:
    """Write an exported document as YAML (default) or JSON: datetimes ISO-8601 in UTC ("Z"),
    dates ISO, times "HH:MM". Either output loads back with `load_text`."""
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False, default=_json_default) + "\n"
    if fmt != "yaml":
        raise ValueError(f"unknown format {fmt!r} (yaml or json)")
    return yaml.dump(
        dict(doc), Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
