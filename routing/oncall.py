"""Who is on call: the hosting-engineer rotations that option 8 pages, as plain schedule math.

This module owns the on-call decision: turning rotations (ordered engineers handing off daily or
weekly at a local wall-clock time, plus one-off overrides) into shifts, answering "who is on call
for layer L at instant t" (`on_call`), the schedule for a range (`upcoming_shifts`) and the ordered
list option 8 dials (`on_call_chain`). It never reads the clock: every instant is passed in and
must be tz-aware (a naive datetime raises ValueError). Shifts come back in UTC. It imports only the
case store and the standard library; `spec_from_row`/`load_rotations` are the only functions that
touch the ORM, everything else works on the frozen dataclasses below.

Rotation math. Members[0] starts at local `start_date` + `handoff_time` (for a weekly rotation
whose start_date is not the handoff weekday, at the first handoff weekday on or after start_date).
Every handoff (each day, or each week on `handoff_weekday`) passes to the next member, wrapping
around. Handoffs are counted on LOCAL calendar dates, never by dividing elapsed seconds, so a
shift spanning a DST change is 23/25 (daily) or 167/169 (weekly) real hours. Before the first
start nobody is scheduled (None).

DST policy. Handoffs stay at local wall-clock time (`local_to_utc`):
  * a handoff time that does not exist (spring forward: 02:30 on 2026-03-08 in America/Chicago)
    happens at the first instant after the gap (03:00 CDT, 08:00 UTC);
  * an ambiguous handoff time (fall back: 01:30 on 2026-11-01 happens twice) happens at its first
    occurrence (fold=0: 01:30 CDT, 06:30 UTC); the repeated hour does not hand off again.

Overrides. An override covering an instant beats the schedule (even before the rotation's first
start, and even for a rotation with no members); if several cover it, the latest-starting one
wins (ties: the one listed last). Within a layer, the first rotation by name with someone on call
answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from casestore.models import Rotation
from casestore.types import HandoffKind, RotationLayer, Weekday

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_PERIOD_DAYS = {HandoffKind.DAILY.value: 1, HandoffKind.WEEKLY.value: 7}
_MICROSECOND = timedelta(microseconds=1)


def _utc(value: datetime, what: str = "at") -> datetime:
    """`value` as an aware UTC datetime; ValueError when it is naive.

    All arithmetic and comparisons here happen in UTC: two datetimes sharing a ZoneInfo compare
    and subtract by wall clock (ignoring fold), which is wrong across a fall-back hour.
    """
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r} for {what}; pass a tz-aware instant")
    return value.astimezone(UTC)


def _plain(value: object) -> object:
    """An enum member's value (RotationLayer.PRIMARY -> "primary"); anything else unchanged."""
    return getattr(value, "value", value)


@dataclass(frozen=True)
class Shift:
    """`engineer` is on call from `starts_at` (inclusive) to `ends_at` (exclusive), UTC."""

    engineer: str
    starts_at: datetime
    ends_at: datetime
    override: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "starts_at", _utc(self.starts_at, "starts_at"))
        object.__setattr__(self, "ends_at", _utc(self.ends_at, "ends_at"))
        if self.ends_at <= self.starts_at:
            raise ValueError(f"shift for {self.engineer!r} ends before it starts")

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= _utc(at) < self.ends_at


@dataclass(frozen=True)
class OverrideSpec:
    """`engineer` covers the rotation from `starts_at` to `ends_at`, whoever is scheduled."""

    engineer: str
    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "starts_at", _utc(self.starts_at, "starts_at"))
        object.__setattr__(self, "ends_at", _utc(self.ends_at, "ends_at"))
        if self.ends_at <= self.starts_at:
            raise ValueError(f"override for {self.engineer!r} ends before it starts")

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= _utc(at) < self.ends_at


@dataclass(frozen=True)
class RotationSpec:
    """A rotation as plain data. `handoff_weekday` counts Monday as 0 and matters only when weekly."""

    name: str
    layer: str
    tz: ZoneInfo
    handoff: str
    handoff_time: time
    handoff_weekday: int | None
    start_date: date
    members: tuple[str, ...] = ()
    overrides: tuple[OverrideSpec, ...] = ()

    def __post_init__(self) -> None:
        # Accept the casestore enums and a zone name for convenience; store plain values.
        object.__setattr__(self, "layer", _plain(self.layer))
        object.__setattr__(self, "handoff", _plain(self.handoff))
        if isinstance(self.tz, str):
            object.__setattr__(self, "tz", ZoneInfo(self.tz))
        if not isinstance(self.tz, tzinfo):
            raise TypeError(f"rotation {self.name!r}: tz must be a ZoneInfo")
        if self.handoff not in _PERIOD_DAYS:
            raise ValueError(f"rotation {self.name!r}: handoff must be 'daily' or 'weekly'")
        if self.handoff_time.tzinfo is not None:
            raise ValueError(f"rotation {self.name!r}: handoff_time is local wall-clock, no tzinfo")
        if isinstance(self.handoff_weekday, Weekday):
            object.__setattr__(self, "handoff_weekday", self.handoff_weekday.iso_index)
        if self.handoff == HandoffKind.WEEKLY.value and self.handoff_weekday not in range(7):
            raise ValueError(f"rotation {self.name!r}: a weekly handoff needs a weekday 0..6")
        object.__setattr__(self, "members", tuple(self.members))
        object.__setattr__(self, "overrides", tuple(self.overrides))

    @property
    def period_days(self) -> int:
        return _PERIOD_DAYS[self.handoff]

    @property
    def first_handoff_date(self) -> date:
        """The local date members[0] starts: start_date, or for weekly the next handoff weekday."""
        if self.handoff == HandoffKind.WEEKLY.value:
            assert self.handoff_weekday is not None
            return self.start_date + timedelta(days=(self.handoff_weekday - self.start_date.weekday()) % 7)
        return self.start_date


# --- loading from the case store -------------------------------------------------------------


def spec_from_row(row: Rotation) -> RotationSpec:
    """A `RotationSpec` from a `casestore.models.Rotation` row (members and overrides loaded)."""
    members = tuple(
        m.engineer.name
        for m in sorted(row.members, key=lambda m: m.position)
        # Inactive engineers are skipped, not kept as holes: the rotation closes up around them
        # (the next active member takes their turn), so a deactivated engineer is never paged.
        if m.engineer.active
    )
    overrides = tuple(
        OverrideSpec(o.engineer.name, o.starts_at, o.ends_at)
        for o in row.overrides
        # Same for overrides: an inactive engineer's override is ignored and the schedule applies.
        if o.engineer.active
    )
    weekday = row.handoff_weekday
    return RotationSpec(
        name=row.name,
        layer=_plain(row.layer),  # type: ignore[arg-type]
        tz=ZoneInfo(row.timezone),
        handoff=_plain(row.handoff),  # type: ignore[arg-type]
        handoff_time=row.handoff_time,
        handoff_weekday=weekday.iso_index if weekday is not None else None,
        start_date=row.start_date,
        members=members,
        overrides=overrides,
    )


def load_rotations(session: Session) -> list[RotationSpec]:
    """Every rotation in the case store, by name (`session` is a SQLAlchemy Session)."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from casestore.models import RotationMember, RotationOverride

    stmt = (
        select(Rotation)
        .options(
            selectinload(Rotation.members).selectinload(RotationMember.engineer),
            selectinload(Rotation.overrides).selectinload(RotationOverride.engineer),
        )
        .order_by(Rotation.name)
    )
    return [spec_from_row(row) for row in session.scalars(stmt)]


# --- local wall-clock time ---------------------------------------------------------------------


def local_to_utc(local: datetime, tz: tzinfo) -> datetime:
    """The UTC instant at which the naive wall-clock time `local` happens in `tz`.

    A nonexistent time (inside a spring-forward gap) maps to the first instant after the gap;
    an ambiguous time (inside a fall-back repeat) maps to its first occurrence (fold=0).
    """
    if local.tzinfo is not None:
        raise ValueError(f"local_to_utc takes a naive wall-clock time, got {local!r}")
    local = local.replace(fold=0)
    first = local.replace(tzinfo=tz).astimezone(UTC)  # fold=0: the first occurrence if ambiguous
    if first.astimezone(tz).replace(tzinfo=None) == local:
        return first
    # Nonexistent: zoneinfo maps it with the offset before the gap (fold=0) or after it (fold=1),
    # giving two instants on either side of the transition. Bisect for the first instant whose
    # wall clock is past `local`: that is the transition, i.e. the end of the gap.
    other = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
    lo, hi = min(first, other), max(first, other)  # wall(lo) < local < wall(hi)
    while hi - lo > _MICROSECOND:
        mid = lo + ((hi - lo) // _MICROSECOND // 2) * _MICROSECOND
        if mid.astimezone(tz).replace(tzinfo=None) > local:
            hi = mid
        else:
            lo = mid
    return hi


# --- the scheduled rotation --------------------------------------------------------------------


def _handoff(spec: RotationSpec, k: int) -> datetime:
    """Handoff number k (k=0 is members[0]'s start; negative k are the would-be earlier ones)."""
    day = spec.first_handoff_date + timedelta(days=k * spec.period_days)
    return local_to_utc(datetime.combine(day, spec.handoff_time), spec.tz)


def _index_at(spec: RotationSpec, at: datetime) -> int:
    """k with handoff(k) <= at < handoff(k+1), counted on local dates; -1 before the first start."""
    local_day = at.astimezone(spec.tz).date()
    k = (local_day - spec.first_handoff_date).days // spec.period_days  # floor: exact up to +-1
    while k >= 0 and _handoff(spec, k) > at:
        k -= 1
    while _handoff(spec, k + 1) <= at:
        k += 1
    return max(k, -1)


def handoff_instants(spec: RotationSpec, start: datetime, end: datetime) -> list[datetime]:
    """The rotation's handoffs (members[0]'s start included) in [start, end), UTC."""
    start, end = _utc(start, "start"), _utc(end, "end")
    k = max(_index_at(spec, start), 0)
    out: list[datetime] = []
    at = _handoff(spec, k)
    while at < end:
        if at >= start:
            out.append(at)
        k += 1
        at = _handoff(spec, k)
    return out


def scheduled_shift(spec: RotationSpec, at: datetime) -> Shift | None:
    """The scheduled (override-free) shift containing `at`; None before the start or with no members."""
    at = _utc(at)
    k = _index_at(spec, at)
    if k < 0 or not spec.members:
        return None
    return Shift(spec.members[k % len(spec.members)], _handoff(spec, k), _handoff(spec, k + 1), False)


# --- overrides cut into the schedule -----------------------------------------------------------


def _max(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _min(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _piece_at(spec: RotationSpec, at: datetime) -> tuple[Shift | None, datetime | None, datetime | None]:
    """What one rotation says at UTC instant `at`, with the extent over which that answer holds.

    Returns (shift, lo, hi): `shift` is the effective piece containing `at` (an override, or the
    scheduled shift cut by overrides) or None when nobody is on call; [lo, hi) is the interval
    around `at` over which the answer stays the same (None = unbounded), equal to the shift's
    bounds when there is one.
    """
    covering = [(o.starts_at, i) for i, o in enumerate(spec.overrides) if o.covers(at)]
    if covering:
        key = max(covering)
        winner = spec.overrides[key[1]]
        later = [o for i, o in enumerate(spec.overrides) if (o.starts_at, i) > key]
        # A later-starting override takes over where it starts and hands back where it ends.
        start = max([winner.starts_at] + [o.ends_at for o in later if o.ends_at <= at])
        end = min([winner.ends_at] + [o.starts_at for o in later if o.starts_at > at])
        return Shift(winner.engineer, start, end, True), start, end

    k = _index_at(spec, at)
    engineer: str | None = None
    base_lo: datetime | None = None
    base_hi: datetime | None = None
    if not spec.members:
        pass  # nobody, ever (outside overrides)
    elif k < 0:
        base_hi = _handoff(spec, 0)  # nobody until the first start
    else:
        engineer = spec.members[k % len(spec.members)]
        base_lo, base_hi = _handoff(spec, k), _handoff(spec, k + 1)
    # No override covers `at`, so the latest one ending by `at` and the first one starting after
    # it bound the piece.
    lo = _max(base_lo, *(o.ends_at for o in spec.overrides if o.ends_at <= at))
    hi = _min(base_hi, *(o.starts_at for o in spec.overrides if o.starts_at > at))
    if engineer is None:
        return None, lo, hi
    assert lo is not None and hi is not None
    return Shift(engineer, lo, hi, False), lo, hi


def _layer_piece(
    specs: list[RotationSpec] | tuple[RotationSpec, ...], layer: str, at: datetime
) -> tuple[Shift | None, datetime | None, datetime | None]:
    """`_piece_at` for a layer: the first rotation by name with someone on call answers."""
    layer = _plain(layer)  # type: ignore[assignment]
    lo: datetime | None = None
    hi: datetime | None = None
    for spec in sorted((s for s in specs if s.layer == layer), key=lambda s: s.name):
        shift, spec_lo, spec_hi = _piece_at(spec, at)
        # The answer also changes when an earlier-named rotation stops being empty.
        lo, hi = _max(lo, spec_lo), _min(hi, spec_hi)
        if shift is not None:
            assert lo is not None and hi is not None
            if (lo, hi) != (shift.starts_at, shift.ends_at):
                shift = Shift(shift.engineer, lo, hi, shift.override)
            return shift, lo, hi
    return None, lo, hi


def on_call(specs: list[RotationSpec] | tuple[RotationSpec, ...], layer: str, at: datetime) -> Shift | None:
    """Who is on call for `layer` at instant `at`: the covering override, else the scheduled member.

    The returned shift is the effective piece containing `at` (starts_at <= at < ends_at): a
    scheduled shift is cut where overrides begin and end. None when nobody is on call.
    """
    return _layer_piece(specs, layer, _utc(at))[0]


def upcoming_shifts(
    specs: list[RotationSpec] | tuple[RotationSpec, ...], layer: str, start: datetime, end: datetime
) -> list[Shift]:
    """The layer's schedule over [start, end): consecutive effective pieces, overrides cut in.

    Pieces keep their real bounds (the first may start before `start`, the last end after `end`);
    gaps where nobody is on call are simply absent. Adjacent pieces for the same engineer (an
    override for the scheduled engineer, say) are not merged.
    """
    start, end = _utc(start, "start"), _utc(end, "end")
    out: list[Shift] = []
    at = start
    while at < end:
        shift, _lo, hi = _layer_piece(specs, layer, at)
        if shift is not None:
            out.append(shift)
            at = shift.ends_at
        elif hi is None:
            break  # nobody, for good
        else:
            at = hi
    return out


def on_call_chain(specs: list[RotationSpec] | tuple[RotationSpec, ...], at: datetime) -> list[Shift]:
    """What option 8 dials, in order: the primary's shift, then the secondary's.

    A layer with nobody on call is left out; when the same engineer is on call for both layers
    they appear once (dialling them twice would only make the caller wait through two timeouts).
    """
    at = _utc(at)
    chain: list[Shift] = []
    for layer in RotationLayer:
        shift = on_call(specs, layer.value, at)
        if shift is not None and all(s.engineer != shift.engineer for s in chain):
            chain.append(shift)
    return chain
