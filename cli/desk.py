"""`supportline presence ...`, `queue`, `report`, `worker` and `dispatcher`: the desk's staff and its
waiting line from the command line (the admin API and pages of #6 do the same through the same
functions). The worker and the dispatcher loop themselves live in `workers/`."""

from __future__ import annotations

import json

import click
from sqlalchemy import select

from casestore.db import session_scope
from casestore.models import Advisor
from cli.common import actor
from cli.localredis import shared_config
from cli.queue_text import queue_text
from ivr import staffing
from ivr.metrics import queue_metrics
from webhooks.app import create_app
from webhooks.config import ConfigurationError
from workers.dispatcher import reconcile_options, roster, run_dispatcher


def _services(ctx: click.Context, *, shared: bool = True):
    """The app's services on the shared state: REDIS_URL, or the running demo's (`cli.localredis`).
    `shared=False`: a command that reads only the database (reports) needs no running demo."""
    settings = ctx.obj["settings"]
    config = {"development": True} if settings.development else None
    if shared:
        config = shared_config(settings, config)
    try:
        app = create_app(config)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    return app.extensions["supportline"]


@click.group("presence")
def presence_group() -> None:
    """See and set advisors' presence (available, away, offline)."""


@presence_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def presence_list(ctx: click.Context, as_json: bool) -> None:
    """Every active advisor's live presence."""
    svc = _services(ctx)
    with session_scope(svc.sessions) as session:
        out = staffing.presence_rows(session, svc.presence, svc.now())
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    for row in out:
        why = f"  ({row['away_reason']})" if row["away_reason"] else ""
        click.echo(f"{row['name']:<28} {row['state']:<10} calls today {row['calls_today']}{why}")


@presence_group.command("set")
@click.argument("state", type=click.Choice(staffing.CHOOSABLE))
@click.argument("advisors", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every active advisor.")
@click.option("--reason", default=None, help="Why (for away).")
@click.pass_context
def presence_set(ctx: click.Context, state: str, advisors: tuple[str, ...], all_: bool, reason: str | None) -> None:
    """Set STATE for ADVISORS (names or ids), or --all. Audited."""
    svc = _services(ctx)
    now = svc.now()
    with session_scope(svc.sessions) as session:
        query = select(Advisor).where(Advisor.active.is_(True))
        rows = list(session.scalars(query))
        if not all_:
            wanted = {a.lower() for a in advisors}
            rows = [r for r in rows if r.name.lower() in wanted or str(r.id) in wanted]
            missing = wanted - {r.name.lower() for r in rows} - {str(r.id) for r in rows}
            if missing or not rows:
                raise click.ClickException(f"no active advisor: {', '.join(sorted(missing)) or '(none given)'}")
        for row in rows:
            staffing.set_presence(session, svc.presence, row.id, state, now, actor=actor(), reason=reason)
    svc.dispatcher.run(roster(svc), now)
    click.echo(f"{len(rows)} advisor(s) {state}")


@presence_group.command("reconcile")
@click.pass_context
def presence_reconcile(ctx: click.Context) -> None:
    """Bring live presence back to the truth (after a Redis restart, lost callbacks)."""
    svc = _services(ctx)
    with session_scope(svc.sessions) as session:
        changes = staffing.reconcile(
            session, svc.presence, svc.redis, svc.now(), svc.settings.wrap_up_seconds, **reconcile_options(svc)
        )
    click.echo(f"{len(changes)} advisor(s) changed" + "".join(f"\n  {pk}: {st}" for pk, st in sorted(changes.items())))


@click.command("dispatcher")
@click.option("--interval", default=1.0, show_default=True, type=float, help="Seconds between passes.")
@click.option("--once", is_flag=True, help="One pass, then exit.")
@click.pass_context
def dispatcher_cmd(ctx: click.Context, interval: float, once: bool) -> None:
    """Serve the waiting line: every INTERVAL put waiting callers through to advisors who came free
    (wrap-ups ending, advisors signing in), and every 30 s reconcile presence. Run one or more
    anywhere (a Redis lock keeps one pass at a time)."""
    run_dispatcher(_services(ctx), interval=interval, once=once)


@click.command("queue")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the same as GET /api/queue).")
@click.pass_context
def queue_cmd(ctx: click.Context, as_json: bool) -> None:
    """The waiting line, advisors by presence and today's queue figures."""
    svc = _services(ctx)
    with session_scope(svc.sessions) as session:
        data = queue_metrics(
            session, svc.redis, svc.presence, svc.tables.get(session).advisors, svc.now(), svc.settings.support_timezone
        )
    click.echo(json.dumps(data, indent=2) if as_json else queue_text(data, svc.settings.support_timezone))


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs due now, then exit.")
@click.pass_context
def worker_cmd(ctx: click.Context, burst: bool) -> None:
    """Run the background jobs on RQ. Run one or more, on any machine (jobs are idempotent).

    \b
    Jobs: outage paging (calls and SMS by escalation policy, the escalation timers, hanging up
    pages once acknowledged), follow-ups of resolved cases (3 x 10 calls and SMS, the automatic
    close), satisfaction surveys.
    Every second: due scheduled jobs onto the queue (on the service clock).
    Every 30 s: paging for an incident that missed its start, lost follow-up timers, response-due
    times for cases without one, call-log records spooled while the database was down.
    Every 10 s a heartbeat for GET /readyz; every 5 min the Fallback URL's hosted-contacts file.
    """
    from workers.worker import run_worker

    run_worker(_services(ctx), burst=burst)


def _day(text: str, option: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)", param_hint=option) from None


@click.command("report")
@click.argument("kind", type=click.Choice(["responses", "queue", "surveys"]))
@click.option("--since", "since", default=None, help="First local date (YYYY-MM-DD); default 30 days ago.")
@click.option("--until", "until", default=None, help="Last local date (YYYY-MM-DD), included; default today.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write the CSV here.")
@click.pass_context
def report_cmd(ctx: click.Context, kind: str, since: str | None, until: str | None, output: str | None) -> None:
    """Service reports as CSV: response targets by priority, the queue by day, surveys by area."""
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from ivr import reports

    svc = _services(ctx, shared=False)
    tz = ZoneInfo(svc.settings.support_timezone)
    now = svc.now()
    last = _day(until, "--until") if until else now.astimezone(tz).date()
    first = _day(since, "--since") if since else last - timedelta(days=29)
    if first > last:
        raise click.BadParameter(f"{first} is after --until {last}", param_hint="--since")
    start = datetime.combine(first, time(0), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    with session_scope(svc.sessions) as session:
        if kind == "responses":
            rows = reports.responses(session, start, end, now, svc.tables.get(session).calendar)
        elif kind == "queue":
            rows = reports.queue_by_day(session, first, last, svc.settings.support_timezone)
        else:
            rows = reports.surveys(session, start, end)
    text = reports.to_csv(rows, reports.COLUMNS[kind])
    if output:
        with open(output, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        click.echo(f"{len(rows)} row(s) written to {output}")
    else:
        click.echo(text, nl=False)
