"""Advisor holds: the database's record of which call each advisor is ringing or talking with.

Redis presence (`routing.presence`) reserves whom `routing.decision` picked for a call; it is fast
but it can be lost. The `advisor_holds` table keeps one row per advisor, written when a call is put
through to them and given a `free_at` when that call ends (after wrap-up when they talked). It
serves two purposes:

* **degraded mode** (Redis unreachable): `claim` is the reservation. A compare-and-set on the
  advisor's row (it only replaces a hold that is over) lets one call at a time have an advisor,
  across every worker and machine, with nothing but the database;
* **after a Redis loss**: presence rebuilt from the database (`ivr.staffing.restore`) keeps an
  advisor with an open hold on that call (or in wrap-up until `free_at`) instead of offering a
  person who is still talking to the next caller.

In normal operation the Redis reservation comes first and `claim` confirms it against holds taken
in degraded mode that Redis does not know about. A hold nobody closed (its end callbacks were
lost) counts as over after `STALE_AFTER`.

Every function only flushes: the webhook commits once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from casestore.models import AdvisorHold, CallLog

# A call put through to an advisor rarely lasts this long; a hold still open after it is one whose
# end was never heard (lost callbacks) and no longer keeps the advisor busy.
STALE_AFTER = timedelta(hours=4)

_TABLE = cast(Table, AdvisorHold.__table__)

# What `claim` found.
TAKEN = "taken"  # this call holds the advisor now
HELD = "held"  # another call holds them (committed): they are busy
LOCKED = "locked"  # another transaction is changing their hold right now (PostgreSQL only)


def _over(table, now: datetime):
    """SQL: the hold in `table` (the row, or the conflicting row of an upsert) no longer holds."""
    return or_(and_(table.c.free_at.is_not(None), table.c.free_at <= now), table.c.since < now - STALE_AFTER)


def claim(session: Session, advisor_pk: int, sid: str, now: datetime) -> str:
    """Take the advisor for call `sid`: TAKEN when this call now holds them (a new hold, one that
    was over, or already this call's), HELD when another call does, LOCKED when another
    transaction is changing their hold at this moment. Concurrent claims on one advisor are
    serialised by the row, so exactly one of them wins.

    On PostgreSQL a claim never waits: an advisor whose row another transaction has locked (being
    claimed or released right now) is LOCKED (`FOR UPDATE SKIP LOCKED`). A webhook releases its
    own call's advisor and then claims the next one in one transaction; if claims waited, two
    such webhooks could each wait for the other's row (a deadlock). Every release changes the
    hold before it frees the advisor in Redis, so a Redis reservation that meets LOCKED has seen
    the release: the hold is not a reason to mark the advisor busy there."""
    pk = int(advisor_pk)
    dialect = session.get_bind().dialect.name
    conn = session.connection()
    if dialect == "postgresql":
        row = conn.execute(
            select(_TABLE.c.call_sid, _TABLE.c.free_at, _TABLE.c.since)
            .where(_TABLE.c.advisor_id == pk)
            .with_for_update(skip_locked=True)
        ).first()
        if row is not None:  # locked by us now: nobody can change it before we decide
            if not _is_over(row, now) and row.call_sid != sid:
                return HELD
            conn.execute(update(_TABLE).where(_TABLE.c.advisor_id == pk).values(call_sid=sid, since=now, free_at=None))
            return TAKEN
        if conn.execute(select(_TABLE.c.advisor_id).where(_TABLE.c.advisor_id == pk)).first() is not None:
            return LOCKED  # it exists, so the locking read skipped it
        # The advisor's first hold ever: only a concurrent first claim can make this one wait.
        inserted = pg_insert(_TABLE).values(advisor_id=pk, call_sid=sid, since=now, free_at=None)
        won = conn.execute(
            inserted.on_conflict_do_nothing(index_elements=["advisor_id"]).returning(_TABLE.c.advisor_id)
        ).first()
        return TAKEN if won is not None else HELD
    if dialect == "sqlite":  # one writer at a time: a plain compare-and-set upsert
        stmt = sqlite_insert(_TABLE).values(advisor_id=pk, call_sid=sid, since=now, free_at=None)
        stmt = stmt.on_conflict_do_update(
            index_elements=["advisor_id"],
            set_={"call_sid": stmt.excluded.call_sid, "since": stmt.excluded.since, "free_at": None},
            where=or_(_over(_TABLE, now), _TABLE.c.call_sid == sid),
        )
        # RETURNING, not rowcount: a skipped upsert returns no row on every driver.
        return TAKEN if conn.execute(stmt.returning(_TABLE.c.advisor_id)).first() is not None else HELD
    # Other databases: compare-and-set by hand (the primary key still stops two inserts).
    hold = session.get(AdvisorHold, pk, with_for_update=True)
    if hold is None:
        session.add(AdvisorHold(advisor_id=pk, call_sid=sid, since=now, free_at=None))
        session.flush()
        return TAKEN
    if hold.call_sid != sid and not _is_over(hold, now):
        return HELD
    hold.call_sid, hold.since, hold.free_at = sid, now, None
    return TAKEN


def _is_over(row, now: datetime) -> bool:
    """Python: the hold `row` (a model or a selected row) no longer holds (see `_over`)."""
    return (row.free_at is not None and row.free_at <= now) or row.since < now - STALE_AFTER


def end(session: Session, advisor_pk: int, sid: str, free_at: datetime) -> None:
    """Call `sid` no longer needs the advisor: free from `free_at` (the end of wrap-up after a
    talk, or now after a missed ring). Only this call's hold changes."""
    session.connection().execute(
        update(_TABLE).where(_TABLE.c.advisor_id == int(advisor_pk), _TABLE.c.call_sid == sid).values(free_at=free_at)
    )


def end_call(session: Session, sid: str, now: datetime) -> None:
    """The call is over (its final status): any advisor it still holds is free now."""
    session.connection().execute(
        update(_TABLE).where(_TABLE.c.call_sid == sid, _TABLE.c.free_at.is_(None)).values(free_at=now)
    )


def held_by(session: Session, sid: str) -> list[int]:
    """The advisors call `sid` holds open (ringing or talking)."""
    return list(
        session.scalars(
            select(AdvisorHold.advisor_id).where(AdvisorHold.call_sid == sid, AdvisorHold.free_at.is_(None))
        )
    )


def busy(session: Session, now: datetime, advisor_pks: Iterable[int] | None = None) -> dict[int, AdvisorHold]:
    """Holds still in force at `now`, by advisor: an open one whose call has not ended, or one
    whose wrap-up runs past `now`."""
    ended = select(CallLog.id).where(CallLog.call_sid == AdvisorHold.call_sid, CallLog.ended_at.is_not(None)).exists()
    stmt = select(AdvisorHold).where(~_over(_TABLE, now), or_(AdvisorHold.free_at.is_not(None), ~ended))
    if advisor_pks is not None:
        pks = [int(pk) for pk in advisor_pks]
        if not pks:
            return {}
        stmt = stmt.where(AdvisorHold.advisor_id.in_(pks))
    return {row.advisor_id: row for row in session.scalars(stmt)}
