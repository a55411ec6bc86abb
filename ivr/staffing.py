"""Advisor presence as people change it, and bringing it back to the truth.

Presence lives in Redis (`routing.presence`: shared by every worker, changed by calls on their
own). What a person chooses (an advisor signing in or out, a supervisor setting someone away, the
autopause after missed calls) is also written to the database (`Advisor.signed_in_state`,
`away_reason`) and audited, so that:

* `restore` puts every advisor whose Redis record is missing (Redis restarted or was flushed)
  back in the state last chosen (available advisors idle from `now`, unless `ivr.holds` says
  they are still on a call or wrapping up); the app runs it at start;
* `reconcile` does that, then `Presence.reconcile`: advisors no longer in the roster go offline,
  nobody stays "on a call" for a call that has ended, and no wrap-up outlasts the configured
  wrap-up time. A call has ended when its state is gone from Redis, when its call-log row is
  closed, when the carrier says it is over (`Telephony.call_status`: its end callbacks were lost,
  e.g. during a database outage), or when the advisor has been held on it with no webhook for
  longer than the longest plausible talk; its hold in the database ends too. The `supportline
  dispatcher` loop runs it every 30 s; `supportline presence reconcile` runs it once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from casestore import audit
from casestore.models import Advisor, AdvisorHold, CallLog
from ivr import holds
from ivr.state import call_key
from ivr.telephony import Telephony, TelephonyError
from routing.presence import AUTOPAUSE_REASON, STATES, Presence, PresenceState

log = logging.getLogger("supportline.staffing")

CHOOSABLE = ("available", "away", "offline")
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
MAX_STATUS_LOOKUPS = 50  # carrier look-ups per pass (one REST request each)


class PresenceError(ValueError):
    """A presence change that cannot be made (unknown advisor, state not choosable)."""


def set_presence(
    session: Session,
    presence: Presence,
    advisor_pk: int,
    state: str,
    now: datetime,
    *,
    actor: str,
    reason: str | None = None,
) -> bool:
    """A person sets an advisor's presence: Redis now, the durable copy and the audit entry in the
    caller's unit of work. True when the live state changed."""
    if state not in CHOOSABLE:
        raise PresenceError(f"state must be one of {', '.join(CHOOSABLE)} (not {state!r})")
    advisor = session.get(Advisor, advisor_pk)
    if advisor is None:
        raise PresenceError(f"no advisor {advisor_pk}")
    if state == "available" and not advisor.active:
        raise PresenceError(f"advisor {advisor.name} is inactive and cannot take calls")
    reason = (reason or "").strip()[:120] or None if state == "away" else None
    before = {"presence": advisor.signed_in_state, "away_reason": advisor.away_reason}
    advisor.signed_in_state = state
    advisor.away_reason = reason
    audit.record(
        session,
        at=now,
        actor=actor,
        action="update",
        entity="advisor_presence",
        key=advisor.name,
        before=before,
        after={"presence": state, "away_reason": reason},
    )
    session.flush()
    return presence.set_state(advisor_pk, state, now, reason)


def note_autopause(session: Session, advisor_pk: int, now: datetime, reason: str = AUTOPAUSE_REASON) -> None:
    """The advisor was set away for missed calls: keep that in the durable copy too."""
    advisor = session.get(Advisor, advisor_pk)
    if advisor is None:
        return
    before = {"presence": advisor.signed_in_state, "away_reason": advisor.away_reason}
    advisor.signed_in_state = PresenceState.AWAY.value
    advisor.away_reason = reason
    audit.record(
        session,
        at=now,
        actor="ivr:autopause",
        action="update",
        entity="advisor_presence",
        key=advisor.name,
        before=before,
        after={"presence": "away", "away_reason": reason},
    )


def restore(session: Session, presence: Presence, now: datetime) -> dict[int, str]:
    """Advisors with no live record get the state last chosen for them; returns {pk: state}.
    A signed-in advisor still ringing or talking with a call the database knows of (`ivr.holds`:
    put through before the loss, or while Redis was down) comes back on that call, or in wrap-up
    until its end, not free for the next caller."""
    rows = session.execute(
        select(Advisor.id, Advisor.signed_in_state, Advisor.away_reason).where(Advisor.active.is_(True))
    ).all()
    known = {int(pk) for pk in presence.redis.smembers(presence.registry_key)}
    missing = [
        (pk, state, reason)
        for pk, state, reason in rows
        if pk not in known and state in STATES and state != PresenceState.OFFLINE.value
    ]
    busy = holds.busy(session, now, [pk for pk, _, _ in missing]) if missing else {}
    restored: dict[int, str] = {}
    for pk, state, reason in missing:
        if state in (PresenceState.ON_CALL.value, PresenceState.WRAP_UP.value):
            state = PresenceState.AVAILABLE.value
        hold = busy.get(pk)
        if state == PresenceState.AVAILABLE.value and hold is not None:
            if adopt_hold(presence, hold, now):
                restored[pk] = PresenceState.ON_CALL.value if hold.free_at is None else PresenceState.WRAP_UP.value
            continue
        presence.set_state(pk, state, now, reason)
        restored[pk] = state
    return restored


def adopt_hold(presence: Presence, hold: AdvisorHold, now: datetime, *, replacing: str | None = None) -> bool:
    """Presence follows the database's hold (`ivr.holds`): on that call while it is open, else in
    wrap-up until its `free_at`. See `Presence.adopt` for when it is written; True when it was."""
    if hold.free_at is None:
        return presence.adopt(hold.advisor_id, since=hold.since, call_sid=hold.call_sid, replacing=replacing)
    return presence.adopt(hold.advisor_id, since=now, call_sid=None, wrap_until=hold.free_at, replacing=replacing)


def reconcile(
    session: Session,
    presence: Presence,
    client: redis.Redis,
    now: datetime,
    wrap_seconds: float,
    *,
    telephony: Telephony | None = None,
    longest_call: timedelta = holds.STALE_AFTER,
) -> dict[int, str]:
    """`restore`, then converge live presence on the roster and on the calls still alive."""
    changes = restore(session, presence, now)
    roster = dict(session.execute(select(Advisor.id, Advisor.active)).all())
    views = presence.snapshot(roster, now)
    held = {v.call_sid for v in views.values() if v.state == PresenceState.ON_CALL.value and v.call_sid}
    # A call is alive while Redis has its state, or while the database holds an advisor for it
    # (its state may have been lost with Redis while the advisor still talks), unless its call-log
    # row says it has ended (its final status came while Redis was unreachable, so the state left
    # in Redis is stale and nobody freed the advisor there).
    open_holds = {h.call_sid for h in holds.busy(session, now).values() if h.free_at is None}
    ended = (
        set(session.scalars(select(CallLog.call_sid).where(CallLog.call_sid.in_(held), CallLog.ended_at.is_not(None))))
        if held
        else set()
    )
    live = {sid for sid in held if sid not in ended and (sid in open_holds or client.exists(call_key(sid)))}
    over = _calls_over(views.values(), live, now, telephony, longest_call)
    for sid in over:
        holds.end_call(session, sid, now)
    live -= over
    changes.update(presence.reconcile(roster, live, now, max_wrap_seconds=wrap_seconds))
    return changes


def _calls_over(views, live: set[str], now: datetime, telephony: Telephony | None, longest_call: timedelta) -> set[str]:
    """Calls that look alive but are over: held with no webhook for longer than `longest_call`
    (presence's `since` is the last change a webhook made), or over by the carrier's word."""
    limit = now.timestamp() - longest_call.total_seconds()
    over = {
        v.call_sid
        for v in views
        if v.call_sid in live and v.state == PresenceState.ON_CALL.value and (v.since or 0) < limit
    }
    if telephony is not None:
        for sid in sorted(live - over)[:MAX_STATUS_LOOKUPS]:
            try:
                status = telephony.call_status(sid)
            except TelephonyError:
                continue  # the carrier cannot say now: the next pass asks again
            if status in FINAL_CALL_STATUSES:
                over.add(sid)
    if over:
        log.warning("reconcile: %d call(s) over without their end heard; freeing their advisors", len(over))
    return over


def presence_rows(session: Session, presence: Presence, now: datetime) -> list[dict]:
    """Every active advisor's live presence, by name (the API, the CLI and the console list it)."""
    rows = session.execute(
        select(Advisor.id, Advisor.name).where(Advisor.active.is_(True)).order_by(Advisor.name)
    ).all()
    views = presence.snapshot([pk for pk, _ in rows], now)
    return [
        {
            "advisor": pk,
            "name": name,
            "state": views[pk].state,
            "calls_today": views[pk].calls_today,
            "missed_in_a_row": views[pk].missed_in_a_row,
            "away_reason": views[pk].away_reason,
        }
        for pk, name in rows
    ]
