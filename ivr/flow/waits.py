"""The expected wait on hold, gathered: the facts `routing.waitestimate` needs for one caller in the
line (their position, the eligible advisors' presence, the line's recent departures, the recent
handle time) read here, the number decided there.

Cost per hold round: the presence snapshot the hold already needed, one Redis read of the recent
departures, and the recent handle time (a Redis read; the database at most once a minute).
"""

from __future__ import annotations

from ivr import actions
from ivr.flow.env import CallEnv
from ivr.state import CallState
from routing.presence import PresenceState
from routing.selection import eligible
from routing.waitestimate import WaitFacts, expected_wait

SIGNED_IN_STATES = {"available", "on_call", "wrap_up"}  # staffing, for the expected wait


def wait_facts(env: CallEnv, state: CallState, position: int) -> WaitFacts:
    """What the estimate needs for this caller, at `env.now`."""
    pks = [a.pk for a in env.tables.advisors if eligible(a, state.skill)]
    signed_in = [p for p in env.presence.snapshot(pks, env.now).values() if p.state in SIGNED_IN_STATES]
    on_call = [p for p in signed_in if p.state == PresenceState.ON_CALL.value and p.since is not None]
    wrapping = [p for p in signed_in if p.state == PresenceState.WRAP_UP.value]
    now_ts = env.now.timestamp()
    return WaitFacts(
        position=position,
        staffed=len(signed_in),
        free=sum(p.available for p in signed_in),
        call_started=tuple(float(p.since) for p in on_call if p.since is not None),
        wrap_until=tuple(
            p.wrap_until if p.wrap_until is not None else max(now_ts, (p.since or now_ts) + env.wrap_seconds)
            for p in wrapping
        ),
        departures=env.queue.departures(state.skill, env.now),
        handle_seconds=actions.recent_handle_seconds(env.session, env.redis, state.skill, env.now, env.wrap_seconds),
        default_handle_seconds=env.default_handle_seconds,
    )


def expected_wait_for(env: CallEnv, state: CallState, position: int) -> float | None:
    """Seconds this caller, at `position` in the line, is likely to wait; None: nobody staffed."""
    return expected_wait(wait_facts(env, state, position), env.now)
