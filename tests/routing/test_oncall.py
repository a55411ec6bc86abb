"""On-call rotations: handoffs, wrap-around, DST, overrides, layers, and the option 8 chain."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casestore.models import Engineer, Rotation, RotationMember, RotationOverride
from casestore.types import HandoffKind, RotationLayer, Weekday
from routing.oncall import (
    OverrideSpec,
    RotationSpec,
    Shift,
    handoff_instants,
    load_rotations,
    local_to_utc,
    on_call,
    on_call_chain,
    scheduled_shift,
    upcoming_shifts,
)

CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")
MON = 0


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def rotation(
    *,
    name: str = "hosting",
    layer: str = "primary",
    tz: ZoneInfo = CHICAGO,
    handoff: str = "weekly",
    at: time = time(9, 0),
    weekday: int | None = MON,
    start: date = date(2026, 1, 5),  # a Monday
    members: tuple[str, ...] = ("ana", "ben", "cai"),
    overrides: tuple[OverrideSpec, ...] = (),
) -> RotationSpec:
    return RotationSpec(name, layer, tz, handoff, at, weekday, start, members, overrides)


# Weekly, 3 members, Monday 09:00 Chicago from Monday 2026-01-05. January is CST (UTC-6), so the
# handoffs are at 15:00 UTC: ana from 01-05, ben from 01-12, cai from 01-19, ana again from 01-26.
WEEKLY = rotation()
# Daily 08:00 Chicago (14:00 UTC in January), 2 members from 2026-01-05.
DAILY = rotation(handoff="daily", at=time(8, 0), weekday=None, members=("ana", "ben"))
# Weekly Monday 09:00, but start_date is a Wednesday: the first handoff is the next Monday 01-12.
WEEKLY_MIDWEEK_START = rotation(start=date(2026, 1, 7))
# Daily at 02:30 from Sunday 2026-03-01: on 2026-03-08 (spring forward) 02:30 does not exist.
DAILY_0230 = rotation(handoff="daily", at=time(2, 30), weekday=None, start=date(2026, 3, 1), members=("ana", "ben"))
# Daily at 01:30 from Sunday 2026-10-25: on 2026-11-01 (fall back) 01:30 happens twice.
DAILY_0130 = rotation(handoff="daily", at=time(1, 30), weekday=None, start=date(2026, 10, 25), members=("ana", "ben"))
# Same as WEEKLY but in New York: 09:00 EST is 14:00 UTC, an hour before Chicago's handoff.
WEEKLY_NY = rotation(tz=NEW_YORK)

ROWS = [
    # weekly: one second before members[0]'s first start -> nobody yet
    (WEEKLY, utc(2026, 1, 5, 14, 59, 59), None, None, None),
    # weekly: at the very first start -> ana, for one week
    (WEEKLY, utc(2026, 1, 5, 15), "ana", utc(2026, 1, 5, 15), utc(2026, 1, 12, 15)),
    # weekly: just before the first handoff (08:59:59 CST Monday) -> still ana
    (WEEKLY, utc(2026, 1, 12, 14, 59, 59), "ana", utc(2026, 1, 5, 15), utc(2026, 1, 12, 15)),
    # weekly: exactly at the handoff -> ben (shifts are [start, end))
    (WEEKLY, utc(2026, 1, 12, 15), "ben", utc(2026, 1, 12, 15), utc(2026, 1, 19, 15)),
    # weekly: one second after the handoff -> ben
    (WEEKLY, utc(2026, 1, 12, 15, 0, 1), "ben", utc(2026, 1, 12, 15), utc(2026, 1, 19, 15)),
    # weekly: mid-week (Friday) of the third week -> cai, the last member
    (WEEKLY, utc(2026, 1, 23, 3), "cai", utc(2026, 1, 19, 15), utc(2026, 1, 26, 15)),
    # weekly: wrap-around, the handoff after the last member goes back to ana
    (WEEKLY, utc(2026, 1, 26, 15), "ana", utc(2026, 1, 26, 15), utc(2026, 2, 2, 15)),
    # weekly: start_date on a Wednesday -> nobody until the first Monday handoff
    (WEEKLY_MIDWEEK_START, utc(2026, 1, 12, 14, 59), None, None, None),
    # weekly: start_date on a Wednesday -> members[0] starts at the first Monday on/after it
    (WEEKLY_MIDWEEK_START, utc(2026, 1, 12, 15), "ana", utc(2026, 1, 12, 15), utc(2026, 1, 19, 15)),
    # daily: first day -> ana
    (DAILY, utc(2026, 1, 5, 14), "ana", utc(2026, 1, 5, 14), utc(2026, 1, 6, 14)),
    # daily: just before the next morning's handoff -> still ana
    (DAILY, utc(2026, 1, 6, 13, 59, 59), "ana", utc(2026, 1, 5, 14), utc(2026, 1, 6, 14)),
    # daily: at the handoff -> ben
    (DAILY, utc(2026, 1, 6, 14), "ben", utc(2026, 1, 6, 14), utc(2026, 1, 7, 14)),
    # daily: wrap-around after two days -> ana
    (DAILY, utc(2026, 1, 7, 14), "ana", utc(2026, 1, 7, 14), utc(2026, 1, 8, 14)),
    # spring forward, daily 02:30: at 01:59:59 CST ana's 03-07 shift is still running; it ends at
    # the first instant after the gap (03:00 CDT = 08:00 UTC), so it lasted only 23.5 hours
    (DAILY_0230, utc(2026, 3, 8, 7, 59, 59), "ana", utc(2026, 3, 7, 8, 30), utc(2026, 3, 8, 8)),
    # spring forward, daily 02:30: 02:30 does not exist on 03-08 -> ben takes over at 03:00 CDT
    # (08:00 UTC), until 02:30 CDT the next day (07:30 UTC)
    (DAILY_0230, utc(2026, 3, 8, 8), "ben", utc(2026, 3, 8, 8), utc(2026, 3, 9, 7, 30)),
    # spring forward, daily 02:30: the next day's 02:30 exists again (CDT) -> ana at 07:30 UTC
    (DAILY_0230, utc(2026, 3, 9, 7, 30), "ana", utc(2026, 3, 9, 7, 30), utc(2026, 3, 10, 7, 30)),
    # fall back, daily 01:30: just before the first 01:30 (CDT) -> ana, since 01:30 CDT on 10-31
    (DAILY_0130, utc(2026, 11, 1, 6, 29, 59), "ana", utc(2026, 10, 31, 6, 30), utc(2026, 11, 1, 6, 30)),
    # fall back, daily 01:30: the first occurrence (fold=0, 01:30 CDT = 06:30 UTC) hands off to ben,
    # whose shift runs 25 hours, to 01:30 CST on 11-02 (07:30 UTC)
    (DAILY_0130, utc(2026, 11, 1, 6, 30), "ben", utc(2026, 11, 1, 6, 30), utc(2026, 11, 2, 7, 30)),
    # fall back, daily 01:30: the second 01:30 (CST, 07:30 UTC) does not hand off again -> still ben
    (DAILY_0130, utc(2026, 11, 1, 7, 30), "ben", utc(2026, 11, 1, 6, 30), utc(2026, 11, 2, 7, 30)),
    # weekly Monday 09:00, the day after spring forward: 09:00 CDT is 14:00 UTC; one second before,
    # cai's week (from 09:00 CST = 15:00 UTC on 03-02) is still running: 167 real hours
    (WEEKLY, utc(2026, 3, 9, 13, 59, 59), "cai", utc(2026, 3, 2, 15), utc(2026, 3, 9, 14)),
    # weekly Monday 09:00, the day after spring forward: ana takes over at 14:00 UTC
    (WEEKLY, utc(2026, 3, 9, 14), "ana", utc(2026, 3, 9, 14), utc(2026, 3, 16, 14)),
    # weekly Monday 09:00, the day after fall back: 09:00 CST is 15:00 UTC; at 14:00 UTC (08:00 CST)
    # ana's week (from 09:00 CDT = 14:00 UTC on 10-26) is still running: 169 real hours
    (WEEKLY, utc(2026, 11, 2, 14), "ana", utc(2026, 10, 26, 14), utc(2026, 11, 2, 15)),
    # weekly Monday 09:00, the day after fall back: ben takes over at 15:00 UTC
    (WEEKLY, utc(2026, 11, 2, 15), "ben", utc(2026, 11, 2, 15), utc(2026, 11, 9, 15)),
    # another zone: New York's 09:00 EST is 14:00 UTC, so ben starts an hour before Chicago's ben
    (WEEKLY_NY, utc(2026, 1, 12, 14), "ben", utc(2026, 1, 12, 14), utc(2026, 1, 19, 14)),
    # another zone: one second before New York's handoff -> still ana
    (WEEKLY_NY, utc(2026, 1, 12, 13, 59, 59), "ana", utc(2026, 1, 5, 14), utc(2026, 1, 12, 14)),
    # another zone: at the same instant Chicago has not handed off yet -> ana there
    (WEEKLY, utc(2026, 1, 12, 14), "ana", utc(2026, 1, 5, 15), utc(2026, 1, 12, 15)),
]


@pytest.mark.parametrize("spec, at, engineer, starts_at, ends_at", ROWS)
def test_rotation_table(spec, at, engineer, starts_at, ends_at):
    shift = on_call([spec], "primary", at)
    if engineer is None:
        assert shift is None
        assert scheduled_shift(spec, at) is None
        return
    assert shift == Shift(engineer, starts_at, ends_at, override=False)
    assert scheduled_shift(spec, at) == shift  # no overrides: the schedule is the answer
    # The answer does not depend on the zone the instant is expressed in.
    assert on_call([spec], "primary", at.astimezone(CHICAGO)) == shift
    assert on_call([spec], "primary", at.astimezone(ZoneInfo("Asia/Tokyo"))) == shift


def test_local_to_utc_policy():
    # Plain time: 09:00 CST.
    assert local_to_utc(datetime(2026, 1, 12, 9, 0), CHICAGO) == utc(2026, 1, 12, 15)  # noqa: DTZ001
    # Nonexistent (spring forward gap 02:00-03:00): the first instant after the gap, 03:00 CDT.
    assert local_to_utc(datetime(2026, 3, 8, 2, 30), CHICAGO) == utc(2026, 3, 8, 8)  # noqa: DTZ001
    assert local_to_utc(datetime(2026, 3, 8, 2, 0), CHICAGO) == utc(2026, 3, 8, 8)  # noqa: DTZ001
    # Ambiguous (01:00-02:00 happens twice): the first occurrence, 01:30 CDT, even if fold=1 given.
    assert local_to_utc(datetime(2026, 11, 1, 1, 30), CHICAGO) == utc(2026, 11, 1, 6, 30)  # noqa: DTZ001
    assert local_to_utc(datetime(2026, 11, 1, 1, 30, fold=1), CHICAGO) == utc(2026, 11, 1, 6, 30)  # noqa: DTZ001
    # Boundaries of the gap and the repeat are ordinary times.
    assert local_to_utc(datetime(2026, 3, 8, 3, 0), CHICAGO) == utc(2026, 3, 8, 8)  # noqa: DTZ001
    assert local_to_utc(datetime(2026, 11, 1, 2, 0), CHICAGO) == utc(2026, 11, 1, 8)  # noqa: DTZ001
    with pytest.raises(ValueError):
        local_to_utc(datetime(2026, 1, 12, 9, 0, tzinfo=UTC), CHICAGO)


def test_handoff_instants_follow_local_wall_clock():
    got = handoff_instants(DAILY_0230, utc(2026, 3, 7), utc(2026, 3, 10))
    assert got == [utc(2026, 3, 7, 8, 30), utc(2026, 3, 8, 8), utc(2026, 3, 9, 7, 30)]
    got = handoff_instants(WEEKLY, utc(2026, 10, 20), utc(2026, 11, 10))
    assert got == [utc(2026, 10, 26, 14), utc(2026, 11, 2, 15), utc(2026, 11, 9, 15)]
    # [start, end): a handoff at `start` is included, one at `end` is not; none before the start.
    assert handoff_instants(WEEKLY, utc(2026, 1, 1), utc(2026, 1, 12, 15)) == [utc(2026, 1, 5, 15)]


# Overrides on WEEKLY (ben's week is 01-12 15:00 .. 01-19 15:00, cai's 01-19 .. 01-26).
INSIDE = OverrideSpec("dee", utc(2026, 1, 14), utc(2026, 1, 15))
CROSSING = OverrideSpec("dee", utc(2026, 1, 19, 12), utc(2026, 1, 19, 18))
LONG = OverrideSpec("dee", utc(2026, 1, 20), utc(2026, 1, 22))
SHORT = OverrideSpec("eve", utc(2026, 1, 21), utc(2026, 1, 21, 12))
EARLY = OverrideSpec("dee", utc(2026, 1, 1), utc(2026, 1, 2))

OVERRIDE_ROWS = [
    # inside a shift: before the override, ben's piece ends where the override starts
    ((INSIDE,), utc(2026, 1, 13), "ben", False, utc(2026, 1, 12, 15), utc(2026, 1, 14)),
    # inside a shift: during it, dee
    ((INSIDE,), utc(2026, 1, 14, 12), "dee", True, utc(2026, 1, 14), utc(2026, 1, 15)),
    # inside a shift: when it ends, ben resumes until his handoff
    ((INSIDE,), utc(2026, 1, 15), "ben", False, utc(2026, 1, 15), utc(2026, 1, 19, 15)),
    # crossing a handoff: before the override -> ben
    ((CROSSING,), utc(2026, 1, 19, 11, 59), "ben", False, utc(2026, 1, 12, 15), utc(2026, 1, 19, 12)),
    # crossing a handoff: dee covers the end of ben's week...
    ((CROSSING,), utc(2026, 1, 19, 14, 59), "dee", True, utc(2026, 1, 19, 12), utc(2026, 1, 19, 18)),
    # ...and the start of cai's, across the 15:00 UTC handoff
    ((CROSSING,), utc(2026, 1, 19, 15), "dee", True, utc(2026, 1, 19, 12), utc(2026, 1, 19, 18)),
    # crossing a handoff: when the override ends, the member scheduled after the handoff (cai) resumes
    ((CROSSING,), utc(2026, 1, 19, 18), "cai", False, utc(2026, 1, 19, 18), utc(2026, 1, 26, 15)),
    # overlapping: only the long override covers -> dee, until eve's starts
    ((LONG, SHORT), utc(2026, 1, 20, 12), "dee", True, utc(2026, 1, 20), utc(2026, 1, 21)),
    # overlapping: both cover -> the latest-starting one, eve
    ((LONG, SHORT), utc(2026, 1, 21, 6), "eve", True, utc(2026, 1, 21), utc(2026, 1, 21, 12)),
    # overlapping: same instant, overrides listed the other way round -> still eve
    ((SHORT, LONG), utc(2026, 1, 21, 6), "eve", True, utc(2026, 1, 21), utc(2026, 1, 21, 12)),
    # overlapping: after eve's ends, dee's long override resumes to its own end
    ((LONG, SHORT), utc(2026, 1, 21, 12), "dee", True, utc(2026, 1, 21, 12), utc(2026, 1, 22)),
    # overlapping: after both, the schedule (cai)
    ((LONG, SHORT), utc(2026, 1, 22), "cai", False, utc(2026, 1, 22), utc(2026, 1, 26, 15)),
    # an override before the rotation's first start still pages its engineer
    ((EARLY,), utc(2026, 1, 1, 12), "dee", True, utc(2026, 1, 1), utc(2026, 1, 2)),
]


@pytest.mark.parametrize("overrides, at, engineer, is_override, starts_at, ends_at", OVERRIDE_ROWS)
def test_overrides_table(overrides, at, engineer, is_override, starts_at, ends_at):
    spec = rotation(overrides=overrides)
    assert on_call([spec], "primary", at) == Shift(engineer, starts_at, ends_at, is_override)


def test_before_start_with_an_early_override_is_still_nobody_outside_it():
    spec = rotation(overrides=(EARLY,))
    assert on_call([spec], "primary", utc(2026, 1, 3)) is None
    assert on_call([spec], "primary", utc(2025, 12, 31)) is None


def test_naive_datetimes_are_refused():
    naive = datetime(2026, 1, 12, 15, 0)  # noqa: DTZ001
    with pytest.raises(ValueError, match="naive"):
        on_call([WEEKLY], "primary", naive)
    with pytest.raises(ValueError, match="naive"):
        scheduled_shift(WEEKLY, naive)
    with pytest.raises(ValueError, match="naive"):
        handoff_instants(WEEKLY, naive, utc(2026, 2, 1))
    with pytest.raises(ValueError, match="naive"):
        upcoming_shifts([WEEKLY], "primary", utc(2026, 1, 1), naive)
    with pytest.raises(ValueError, match="naive"):
        on_call_chain([WEEKLY], naive)
    with pytest.raises(ValueError, match="naive"):
        OverrideSpec("dee", naive, utc(2026, 2, 1))


def test_spec_validation():
    with pytest.raises(ValueError):
        rotation(handoff="monthly")
    with pytest.raises(ValueError):
        rotation(weekday=None)  # weekly needs a weekday
    with pytest.raises(ValueError):
        OverrideSpec("dee", utc(2026, 1, 2), utc(2026, 1, 1))
    # The casestore enums are accepted and stored as plain values.
    spec = rotation(layer=RotationLayer.SECONDARY, handoff=HandoffKind.WEEKLY)
    assert (spec.layer, spec.handoff) == ("secondary", "weekly")
    assert on_call([spec], RotationLayer.SECONDARY, utc(2026, 1, 6)).engineer == "ana"


def test_upcoming_shifts_cut_overrides_into_the_schedule():
    spec = rotation(overrides=(CROSSING,))
    got = upcoming_shifts([spec], "primary", utc(2026, 1, 14), utc(2026, 1, 27))
    assert got == [
        Shift("ben", utc(2026, 1, 12, 15), utc(2026, 1, 19, 12), False),  # real start kept
        Shift("dee", utc(2026, 1, 19, 12), utc(2026, 1, 19, 18), True),
        Shift("cai", utc(2026, 1, 19, 18), utc(2026, 1, 26, 15), False),
        Shift("ana", utc(2026, 1, 26, 15), utc(2026, 2, 2, 15), False),  # real end kept
    ]


def test_upcoming_shifts_skip_the_time_before_the_start_and_are_contiguous():
    got = upcoming_shifts([WEEKLY], "primary", utc(2025, 12, 1), utc(2026, 2, 2, 15))
    assert [s.engineer for s in got] == ["ana", "ben", "cai", "ana"]
    assert got[0].starts_at == utc(2026, 1, 5, 15)
    assert all(a.ends_at == b.starts_at for a, b in itertools.pairwise(got))
    # Four weeks across spring forward: still four contiguous local-week shifts.
    got = upcoming_shifts([WEEKLY], "primary", utc(2026, 3, 2, 15), utc(2026, 3, 30, 14))
    assert [(s.engineer, s.starts_at) for s in got] == [
        ("cai", utc(2026, 3, 2, 15)),
        ("ana", utc(2026, 3, 9, 14)),
        ("ben", utc(2026, 3, 16, 14)),
        ("cai", utc(2026, 3, 23, 14)),
    ]
    assert upcoming_shifts([WEEKLY], "primary", utc(2025, 1, 1), utc(2025, 2, 1)) == []
    assert upcoming_shifts([WEEKLY], "secondary", utc(2026, 1, 1), utc(2026, 2, 1)) == []


def test_first_rotation_by_name_with_someone_on_call_answers():
    later_start = rotation(name="a-hosting", start=date(2026, 2, 2), members=("zed",))
    running = rotation(name="b-hosting")
    at = utc(2026, 1, 13)
    # a-hosting sorts first but has nobody yet; b-hosting's piece is cut where a-hosting starts.
    assert on_call([running, later_start], "primary", at) == Shift(
        "ben", utc(2026, 1, 12, 15), utc(2026, 1, 19, 15), False
    )
    assert on_call([running, later_start], "primary", utc(2026, 2, 1)) == Shift(
        "ana", utc(2026, 1, 26, 15), utc(2026, 2, 2, 15), False
    )
    assert on_call([running, later_start], "primary", utc(2026, 2, 3)).engineer == "zed"


def test_on_call_chain_is_primary_then_secondary():
    primary = rotation(name="hosting-primary", layer="primary")
    secondary = rotation(name="hosting-secondary", layer="secondary", members=("xia", "yan"))
    at = utc(2026, 1, 13)
    chain = on_call_chain([secondary, primary], at)  # input order does not matter
    assert [s.engineer for s in chain] == ["ben", "yan"]
    # Nobody on the secondary layer: only the primary.
    assert [s.engineer for s in on_call_chain([primary], at)] == ["ben"]
    # Before any start: nobody to dial.
    assert on_call_chain([secondary, primary], utc(2025, 1, 1)) == []
    # The same engineer on both layers is dialled once.
    overlap = rotation(name="hosting-secondary", layer="secondary", members=("ben",))
    assert [s.engineer for s in on_call_chain([primary, overlap], at)] == ["ben"]


def test_load_rotations_from_the_case_store(session):
    ana = Engineer(name="Ana", phone="+16125550101")
    bob = Engineer(name="Bob", phone="+16125550102", active=False)
    cai = Engineer(name="Cai", phone="+16125550103")
    row = Rotation(
        name="hosting",
        layer=RotationLayer.PRIMARY,
        timezone="America/Chicago",
        handoff=HandoffKind.WEEKLY,
        handoff_time=time(9, 0),
        handoff_weekday=Weekday.MON,
        start_date=date(2026, 1, 5),
        members=[
            RotationMember(position=2, engineer=cai),
            RotationMember(position=0, engineer=ana),
            RotationMember(position=1, engineer=bob),
        ],
        overrides=[
            RotationOverride(engineer=cai, starts_at=utc(2026, 1, 6), ends_at=utc(2026, 1, 7)),
            RotationOverride(engineer=bob, starts_at=utc(2026, 1, 8), ends_at=utc(2026, 1, 9)),
        ],
    )
    session.add(row)
    session.flush()
    session.expire_all()

    [spec] = load_rotations(session)
    assert spec == RotationSpec(
        name="hosting",
        layer="primary",
        tz=CHICAGO,
        handoff="weekly",
        handoff_time=time(9, 0),
        handoff_weekday=0,
        start_date=date(2026, 1, 5),
        members=("Ana", "Cai"),  # Bob is inactive: skipped, the rotation closes up
        overrides=(OverrideSpec("Cai", utc(2026, 1, 6), utc(2026, 1, 7)),),  # Bob's is ignored
    )
    assert on_call([spec], "primary", utc(2026, 1, 12, 15)).engineer == "Cai"


# Two years of instants after the start, with handoff times outside the 02:00-03:00 hour (whose
# nonexistent spring-forward times shorten a week by the length of the skipped part).
WEEKLY_SPECS = st.builds(
    lambda tz, weekday, hour, minute, start, n: rotation(
        tz=ZoneInfo(tz), weekday=weekday, at=time(hour, minute), start=start, members=tuple(f"eng{i}" for i in range(n))
    ),
    tz=st.sampled_from(["America/Chicago", "America/New_York", "America/Denver"]),
    weekday=st.integers(0, 6),
    hour=st.integers(0, 23).filter(lambda h: h != 2),
    minute=st.sampled_from([0, 30, 59]),
    start=st.dates(date(2025, 1, 1), date(2027, 12, 31)),
    n=st.integers(1, 5),
)


@settings(max_examples=150, deadline=None, database=None)
@given(spec=WEEKLY_SPECS, offset=st.integers(0, 2 * 366 * 86400 - 1))
def test_weekly_shift_contains_the_instant_and_lasts_a_local_week(spec, offset):
    first = local_to_utc(datetime.combine(spec.first_handoff_date, spec.handoff_time), spec.tz)
    at = first + timedelta(seconds=offset)
    shift = on_call([spec], "primary", at)
    assert shift is not None and shift.engineer in spec.members
    assert shift.starts_at <= at < shift.ends_at
    assert shift.ends_at - shift.starts_at in {timedelta(hours=h) for h in (167, 168, 169)}
    for edge in (shift.starts_at, shift.ends_at):
        local = edge.astimezone(spec.tz)
        assert (local.weekday(), local.time()) == (spec.handoff_weekday, spec.handoff_time)
    # The member is the one the count of local weeks since the first start says.
    weeks = (shift.starts_at.astimezone(spec.tz).date() - spec.first_handoff_date).days // 7
    assert shift.engineer == spec.members[weeks % len(spec.members)]
