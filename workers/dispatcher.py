"""`supportline dispatcher`: the loop that serves the waiting line between webhooks.

Every INTERVAL seconds one pass of the dispatcher (`ivr.dispatch.Dispatcher.run`) puts waiting
callers through to advisors who came free (wrap-ups ending, advisors signing in), and every 30 s
presence is reconciled (`ivr.staffing.reconcile`). A pass that fails (Redis or the database down)
is reported and the loop goes on; the first pass that works again reconciles. SIGTERM ends it
after the pass under way. Run one or more anywhere (a Redis lock keeps one pass at a time).
"""

from __future__ import annotations

import signal
import time
from datetime import timedelta

import click

from casestore.db import session_scope
from ivr import staffing


def run_dispatcher(svc, *, interval: float, once: bool) -> None:
    """The loop of `supportline dispatcher` on the service `svc` (one pass with `once`)."""
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    last_reconcile = 0.0
    while not stop["now"]:
        started = time.monotonic()
        try:
            now = svc.now()
            if started - last_reconcile >= 30:
                with session_scope(svc.sessions) as session:
                    staffing.reconcile(
                        session, svc.presence, svc.redis, now, svc.settings.wrap_up_seconds, **reconcile_options(svc)
                    )
                last_reconcile = started
            result = svc.dispatcher.run(roster(svc), now)
            if result.bridged:
                click.echo(f"{now:%H:%M:%S} put through {len(result.bridged)} waiting call(s)")
        except Exception as exc:  # keep serving: Redis or the database may be back next pass
            click.echo(f"dispatcher pass failed: {exc}", err=True)
            last_reconcile = 0.0  # reconcile (restore presence) on the first pass that works again
        if once:
            return
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def reconcile_options(svc) -> dict:
    """What reconcile needs beyond presence: the carrier (is a held call over?) and how long a
    call may plausibly last."""
    return {"telephony": svc.telephony, "longest_call": timedelta(seconds=svc.settings.longest_call_seconds)}


def roster(svc):
    """The active advisors of the routing tables (what a dispatcher pass may put callers through to)."""
    with session_scope(svc.sessions) as session:
        return svc.tables.get(session).advisors
