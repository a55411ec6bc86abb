"""The call flow's side effects, named: call-log rows, case-log entries, reopening a case, opening
or joining an outage case. Steps in `ivr.flow` call these; prompt building never writes.

Every function takes the caller's session and only flushes; the webhook commits once.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import cast

import redis
from sqlalchemy import Table, event, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from casestore import audit
from casestore.models import CallbackTask, CallLog, Case, CaseEvent, District, Incident
from casestore.phones import mask
from casestore.redisguard import ERRORS, Breaker
from casestore.types import CaseStatus, Priority, ProductArea
from ivr import incidents

_OUTAGE_LOCK_SPACE = 0x5350  # first key of pg_advisory_xact_lock(int, int): "outage per district"
# An outage is not about one product area, but every case needs one: outages are filed under the
# area every site uses first thing in the morning.
OUTAGE_AREA = ProductArea.ATTENDANCE


def ensure_call_log(session: Session, sid: str, from_e164: str | None, raw_from: str, now: datetime) -> None:
    """The call's one log row, created on first sight (a retried webhook finds the same row)."""
    values = dict(
        call_sid=sid,
        from_masked=mask(from_e164 or raw_from),
        started_at=now,
        path=[],
        outcome="in_progress",
        wait_seconds=0,
        talk_seconds=0,
        duration_seconds=0,
    )
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        session.execute(insert(CallLog).values(**values).on_conflict_do_nothing(index_elements=["call_sid"]))
        return
    if call_log(session, sid) is None:  # other databases: check, then insert in a savepoint
        try:
            with session.begin_nested():
                session.add(CallLog(**values))
        except IntegrityError:
            pass


def call_log(session: Session, sid: str) -> CallLog | None:
    return session.scalars(select(CallLog).where(CallLog.call_sid == sid)).first()


def update_call_log(
    session: Session,
    sid: str,
    *,
    only_if_in_progress: bool = False,
    only_if_outcome_in: tuple[str, ...] | None = None,
    **values,
) -> None:
    """One UPDATE by CallSid (no read first); `only_if_in_progress` keeps a final outcome,
    `only_if_outcome_in` all but those."""
    table = cast(Table, CallLog.__table__)
    stmt = update(table).where(table.c.call_sid == sid).values(**values)
    if only_if_in_progress:
        only_if_outcome_in = ("in_progress",)
    if only_if_outcome_in is not None:
        stmt = stmt.where(table.c.outcome.in_(only_if_outcome_in))
    # A Core statement on the session's connection: no ORM bookkeeping on the hot path.
    session.connection().execute(stmt)


def add_ring(session: Session, sid: str, ring: dict) -> None:
    """Append one ring (who, when it ended, how) to the call's log row. A call's Dial results come
    one after another (the caller is on one Dial at a time), so reading the list first is safe."""
    rings = session.scalar(select(CallLog.rings).where(CallLog.call_sid == sid))
    update_call_log(session, sid, rings=[*(rings or []), ring][-40:])


def log_case_event(
    session: Session,
    case: Case,
    *,
    at: datetime,
    kind: str,
    call_sid: str | None = None,
    contact_pk: int | None = None,
    advisor_pk: int | None = None,
    outcome: str | None = None,
    detail: str = "",
    direction: str | None = "inbound",
) -> CaseEvent:
    event = CaseEvent(
        case_id=case.id,
        at=at,
        kind=kind,
        direction=direction,
        call_sid=call_sid,
        contact_id=contact_pk,
        advisor_id=advisor_pk,
        outcome=outcome,
        detail=detail,
    )
    session.add(event)
    return event


def finish_call_event(session: Session, case_pk: int, sid: str, *, outcome: str, advisor_pk: int | None) -> None:
    """Set the outcome of this call's entry in the case's communication log (one UPDATE)."""
    table = cast(Table, CaseEvent.__table__)
    session.connection().execute(
        update(table)
        .where(table.c.case_id == case_pk, table.c.call_sid == sid, table.c.kind == "call")
        .values(outcome=outcome, advisor_id=advisor_pk)
    )


def set_queued_at(session: Session, sid: str, now: datetime) -> None:
    """The first time the call joined the line (a call restarted after a Redis loss keeps it)."""
    table = cast(Table, CallLog.__table__)
    session.connection().execute(
        update(table).where(table.c.call_sid == sid, table.c.queued_at.is_(None)).values(queued_at=now)
    )


def mark_responded(session: Session, case_pk: int, now: datetime) -> None:
    """The first answered call on a case marks it responded (one UPDATE; later calls change nothing)."""
    table = cast(Table, Case.__table__)
    session.connection().execute(
        update(table).where(table.c.id == case_pk, table.c.responded_at.is_(None)).values(responded_at=now)
    )


def case_for_district(session: Session, number: int, district_pk: int) -> Case | None:
    """The case with this number, only if it belongs to the caller's district."""
    case = session.scalars(select(Case).where(Case.number == number)).first()
    if case is None or case.district_id != district_pk:
        return None
    return case


def reopen_case(session: Session, case: Case, *, now: datetime, sid: str, contact_pk: int | None) -> None:
    """Reopen a closed case from the phone line: status, count, case log and audit log."""
    before = {"status": case.status, "closed_at": case.closed_at, "reopen_count": case.reopen_count}
    case.status = CaseStatus.IN_PROGRESS
    case.closed_at = None
    case.reopen_count += 1
    case.updated_at = now
    log_case_event(
        session,
        case,
        at=now,
        kind="reopen",
        call_sid=sid,
        contact_pk=contact_pk,
        outcome="reopened",
        detail="Reopened by the authorized contact from the support line.",
    )
    audit.record(
        session,
        at=now,
        actor=f"ivr:{sid}",
        action="reopen",
        entity="case",
        key=case.number,
        before=before,
        after={"status": case.status, "closed_at": None, "reopen_count": case.reopen_count},
    )


def _next_case_number(session: Session, client: redis.Redis, breaker: Breaker) -> int:
    """Allocate a case number: a Redis counter (atomic across workers), seeded from the database.
    While Redis is unreachable: the highest number in the database plus one (the outage lock
    serialises option-8 callers; the unique number column catches anything else)."""
    key = "sl:seq:case_number"
    if breaker.usable():
        try:
            if not client.exists(key):
                highest = session.scalar(select(func.max(Case.number)))
                client.set(key, max(int(highest or 0), 99999), nx=True)
            return int(client.incr(key))
        except ERRORS as exc:
            breaker.failed(exc)
    return max(int(session.scalar(select(func.max(Case.number))) or 0), 99999) + 1


def open_or_join_outage(
    session: Session,
    client: redis.Redis,
    *,
    district: District,
    now: datetime,
    sid: str,
    contact_pk: int | None,
    breaker: Breaker,
) -> tuple[Case, Incident, bool]:
    """The district's open outage incident (its own, or one it was linked to), or a new critical
    outage case with a new incident. Returns (case, incident, created).

    A lock per district (PostgreSQL advisory lock, else Redis) serialises concurrent option-8
    callers across workers and machines; it is held until this unit of work commits or rolls
    back, so the next caller sees the incident: two callers never open two incidents. `breaker`
    is the app's Redis breaker (`casestore.redisguard`).
    """
    _serialise_outage(session, client, district.id, breaker)
    existing = incidents.open_incident_for_district(session, district.id)
    if existing is not None:
        case = _join_outage(session, existing, district=district, now=now, sid=sid, contact_pk=contact_pk)
        return case, existing, False
    case = _open_outage_case(
        session, client, district=district, now=now, sid=sid, contact_pk=contact_pk, breaker=breaker
    )
    incident = incidents.trigger(session, case, district, now, policy_name=None, sid=sid)
    session.flush()
    return case, incident, True


def _join_outage(
    session: Session, incident: Incident, *, district: District, now: datetime, sid: str, contact_pk: int | None
) -> Case:
    """The caller joins the open `incident`: a case-log entry on its case, a note on its timeline."""
    case = incident.case
    log_case_event(
        session,
        case,
        at=now,
        kind="call",
        call_sid=sid,
        contact_pk=contact_pk,
        outcome="joined_outage",
        detail=f"Caller from {district.name} joined the open outage (option 8).",
    )
    incidents.joined(session, incident, district, now, sid)
    return case


def _open_outage_case(
    session: Session,
    client: redis.Redis,
    *,
    district: District,
    now: datetime,
    sid: str,
    contact_pk: int | None,
    breaker: Breaker,
) -> Case:
    """A new critical outage case for the district (flushed), with its case-log entry and audit row."""
    case = Case(
        number=_next_case_number(session, client, breaker),
        district_id=district.id,
        contact_id=contact_pk,
        product_area=OUTAGE_AREA,
        priority=Priority.CRITICAL,
        status=CaseStatus.NEW,
        summary=f"Hosted site outage reported by phone for {district.name}",
        is_outage=True,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    log_case_event(
        session,
        case,
        at=now,
        kind="call",
        call_sid=sid,
        contact_pk=contact_pk,
        outcome="outage_opened",
        detail="Outage reported by phone (option 8).",
    )
    audit.record(
        session,
        at=now,
        actor=f"ivr:{sid}",
        action="create",
        entity="case",
        key=case.number,
        after={"priority": "critical", "is_outage": True, "district": district.name},
    )
    return case


def _serialise_outage(session: Session, client: redis.Redis, district_pk: int, breaker: Breaker) -> None:
    """Let one option-8 caller per district at a time decide "open or join", until its unit of
    work ends. PostgreSQL: a transaction-scoped advisory lock (waiters wake the moment it is
    released). Elsewhere: a Redis lock released on commit or rollback."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_OUTAGE_LOCK_SPACE, district_pk)))
        return
    if not breaker.usable():
        return  # SQLite without Redis: SQLite itself lets one writer at a time through
    lock = client.lock(f"sl:lock:outage:{district_pk}", timeout=15, sleep=0.01, blocking_timeout=5)
    try:
        if not lock.acquire():
            raise TimeoutError("could not take the outage lock")
    except ERRORS as exc:
        breaker.failed(exc)
        return

    def release(*_args) -> None:
        with contextlib.suppress(redis.exceptions.LockError):  # expired already: nothing to release
            lock.release()

    event.listen(session, "after_commit", release, once=True)
    event.listen(session, "after_rollback", release, once=True)


def add_callback_task(
    session: Session,
    *,
    kind: str,
    sid: str,
    case_pk: int | None,
    district_pk: int | None,
    contact_pk: int | None,
    callback_e164: str | None,
    recording_url: str | None,
    skill: str | None,
    priority_rank: int,
    queued_at: datetime,
    now: datetime,
    not_before: datetime | None = None,
) -> CallbackTask:
    """A caller left the line with a message or a callback request: a task in the same place
    (priority, first queue time), on the case when there is one, with a case-log entry.
    `not_before`: left after hours, the task is for the desk's next opening (None: at once)."""
    task = CallbackTask(
        kind=kind,
        status="open",
        case_id=case_pk,
        district_id=district_pk,
        contact_id=contact_pk,
        call_sid=sid,
        callback_e164=callback_e164,
        recording_url=recording_url,
        skill=skill,
        priority_rank=priority_rank,
        queued_at=queued_at,
        not_before=not_before,
        created_at=now,
    )
    session.add(task)
    if case_pk is not None:
        source = "after hours" if not_before is not None else "from the queue"
        detail = (
            f"Voice message left {source}: {recording_url}"
            if kind == "message"
            else f"Callback requested {source} to {mask(callback_e164)}"
        )
        session.add(
            CaseEvent(
                case_id=case_pk,
                at=now,
                kind="task",
                direction="inbound",
                call_sid=sid,
                contact_id=contact_pk,
                outcome=f"{kind}_requested",
                detail=detail,
            )
        )
    session.flush()
    return task


HANDLE_SAMPLE = 50
HANDLE_WINDOW = timedelta(hours=8)
HANDLE_MIN_SAMPLE = 5
HANDLE_CACHE_SECONDS = 60
THIN_HISTORY_CACHE_SECONDS = 2  # no or little history yet is cached briefly: the first calls end soon


def recent_handle_seconds(
    session: Session, client: redis.Redis, skill: str | None, now: datetime, wrap_seconds: float
) -> float | None:
    """Average handle time (talk + wrap-up) of the last 50 connected calls of the last 8 hours for
    this skill (all skills for a general call, or when the skill has fewer than 5 such calls);
    None with no history (the estimate then falls back to its configured default). Cached in Redis
    for a minute, as it moves slowly; with fewer than 5 calls for 2 s only, so that at the start of
    the day or of a surge the first calls that end count at once."""
    key = f"sl:aht:{skill or '*'}"
    cached = client.get(key)
    if cached is not None:
        return float(cached) if cached not in (b"", "") else None
    talks = _recent_talks(session, skill, now)
    if skill is not None and len(talks) < HANDLE_MIN_SAMPLE:
        talks = _recent_talks(session, None, now)
    if not talks:
        client.set(key, "", ex=THIN_HISTORY_CACHE_SECONDS)
        return None
    value = sum(talks) / len(talks) + wrap_seconds
    thin = len(talks) < HANDLE_MIN_SAMPLE
    client.set(key, repr(float(value)), ex=THIN_HISTORY_CACHE_SECONDS if thin else HANDLE_CACHE_SECONDS)
    return float(value)


def _recent_talks(session: Session, skill: str | None, now: datetime) -> list[int]:
    stmt = (
        select(CallLog.talk_seconds)
        .where(CallLog.outcome == "connected", CallLog.started_at >= now - HANDLE_WINDOW, CallLog.started_at <= now)
        .order_by(CallLog.started_at.desc())
        .limit(HANDLE_SAMPLE)
    )
    if skill is not None:
        stmt = stmt.where(CallLog.skill == skill)
    return [int(t) for t in session.scalars(stmt)]
