"""The shape of the file: its format version and sections, the pydantic row models
(`extra="forbid"`) for every section, and `validate_row`, which checks one row and reports every
field problem (with readable messages) instead of raising.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from casestore.interchange.fields import (
    NULL_IS_EMPTY,
    AwareDT,
    Bool,
    CaseNumberT,
    ContactIdT,
    DateT,
    EmailT,
    HandoffT,
    HolidayKeyT,
    LanguageT,
    LayerT,
    Name120,
    Name200,
    PhoneT,
    PinT,
    PriorityT,
    ProductAreaT,
    RangeT,
    ReachT,
    SkillT,
    StateT,
    StatusT,
    Summary,
    TeamKindT,
    TimeT,
    TimezoneT,
    WeekdayT,
    strict_int,
)
from casestore.interchange.problems import ProblemCollector, describe
from casestore.types import CaseStatus, Priority, TeamKind

FORMAT_VERSION = 1
SECTIONS = (
    "version",
    "teams",
    "districts",
    "contacts",
    "advisors",
    "engineers",
    "cases",
    "hours",
    "holidays",
    "rotations",
    "escalation_policies",
)
LIST_SECTIONS = ("teams", "districts", "contacts", "advisors", "engineers", "cases", "rotations", "escalation_policies")


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TeamRow(_Row):
    name: Name120
    kind: TeamKindT = TeamKind.CAMPUS
    route_order: Annotated[int, strict_int(0, 1_000_000)] = 100


class DistrictRow(_Row):
    name: Name200
    state: StateT
    hosted: Bool = False
    team: Name120 | None = None
    active: Bool = True


class ContactRow(_Row):
    contact_id: ContactIdT
    district: Name200
    name: Name200
    email: EmailT | None = None
    phones: Annotated[list[PhoneT], NULL_IS_EMPTY] = []
    pin: PinT | None = None
    language: LanguageT | None = None  # None: the contact keeps the language they chose on the line
    active: Bool = True


class AdvisorRow(_Row):
    name: Name200
    reach: ReachT
    team: Name120 | None = None
    skills: Annotated[list[SkillT], NULL_IS_EMPTY] = []
    active: Bool = True


class EngineerRow(_Row):
    name: Name200
    phone: PhoneT
    sms: Bool = True
    active: Bool = True


class CaseRow(_Row):
    number: CaseNumberT
    district: Name200
    contact: ContactIdT | None = None
    product_area: ProductAreaT
    priority: PriorityT = Priority.MEDIUM
    status: StatusT = CaseStatus.NEW
    owner: Name200 | None = None
    summary: Summary = ""
    is_outage: Bool = False
    release_name: Name120 | None = None
    created_at: AwareDT
    updated_at: AwareDT | None = None
    closed_at: AwareDT | None = None
    reopen_count: Annotated[int, strict_int(0, 1_000_000)] = 0


class HoursDoc(_Row):
    mon: list[RangeT] | None = None
    tue: list[RangeT] | None = None
    wed: list[RangeT] | None = None
    thu: list[RangeT] | None = None
    fri: list[RangeT] | None = None
    sat: list[RangeT] | None = None
    sun: list[RangeT] | None = None


class ClosureRow(_Row):
    date: DateT
    name: Name120


class HolidaysDoc(_Row):
    observe: list[HolidayKeyT] | None = None
    closures: list[ClosureRow] | None = None


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
    handoff_weekday: WeekdayT | None = None
    start_date: DateT
    members: Annotated[list[Name200], NULL_IS_EMPTY] = []
    overrides: Annotated[list[OverrideRow], NULL_IS_EMPTY] = []


class EscalationStepRow(_Row):
    layers: Annotated[list[LayerT], NULL_IS_EMPTY] = []
    engineers: Annotated[list[Name200], NULL_IS_EMPTY] = []
    delay_minutes: Annotated[int, strict_int(1, 240)] = 5


class EscalationPolicyRow(_Row):
    name: Name120
    default: Bool = False
    repeats: Annotated[int, strict_int(0, 5)] = 1
    manager: Name200 | None = None
    steps: Annotated[list[EscalationStepRow], NULL_IS_EMPTY] = []


ROW_MODELS: dict[str, type[_Row]] = {
    "teams": TeamRow,
    "districts": DistrictRow,
    "contacts": ContactRow,
    "advisors": AdvisorRow,
    "engineers": EngineerRow,
    "cases": CaseRow,
    "rotations": RotationRow,
    "escalation_policies": EscalationPolicyRow,
}


def _submodel(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _allowed_keys(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    current: type[BaseModel] | None = model
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
        return f"keys must be text, got {describe(value)}"
    if kind == "missing":
        return "required but missing"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping (key: value), got {describe(value)}"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list, got {describe(value)}"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return str(err["msg"])


def validate_row(
    model: type[_Row], raw: Any, loc: tuple[Any, ...], problems: ProblemCollector, region: str
) -> _Row | None:
    if not isinstance(raw, dict):
        problems.add(loc, f"expected a mapping (key: value), got {describe(raw)}")
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
