"""`supportline call`: the call simulator against the configured database and routing tables.

By default nothing the simulated call writes survives: the database work happens inside a
transaction that is rolled back, and Redis state (lockouts, queue places, presence) goes to a
private in-process stand-in in which every active advisor is signed in and available, so the
dry run shows where the routing tables send the call. No request reaches Twilio. `--commit` uses
the real database and Redis (and live presence) instead.
"""

from __future__ import annotations

from dataclasses import fields
import logging
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import click
from sqlalchemy.orm import sessionmaker

from casestore.db import make_engine
from ivr.telephony import RecordingTelephony
from webhooks.app import create_app
from webhooks.config import ConfigurationError, Settings
from webhooks.simulator import DIAL_OUTCOMES, CallSimulator


class SimClock:
    """Starts at the requested instant and moves on as the simulated caller holds or talks."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def parse_at(at: str | None, tz_name: str) -> datetime:
    if not at:
        return datetime.now(timezone.utc)
    value = datetime.fromisoformat(at.strip().replace(" ", "T", 1) if " " in at.strip() else at.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz_name))
    return value


def run_call(
    settings: Settings, *, from_number: str, at: str | None, keys: str, dial: str,
    interactive: bool, commit: bool,
) -> None:
    try:
        start = parse_at(at, settings.support_timezone)
    except ValueError:
        raise click.BadParameter(f"cannot read --at {at!r}; use e.g. '2026-11-26 10:00'") from None
    clock = SimClock(start)
    engine = make_engine(settings.database_url)
    connection = None
    # The transcript is the output: the per-webhook log lines would only interleave with it.
    logging.getLogger("supportline").setLevel(max(logging.WARNING, logging.getLogger("supportline").level))
    try:
        if commit:
            app = create_app({"routing_cache_seconds": 0}, clock=clock, engine=engine, telephony=RecordingTelephony())
        else:
            connection = engine.connect()
            connection.begin()
            app = _dry_run_app({"routing_cache_seconds": 0}, connection, engine, clock, start)
    except ConfigurationError as exc:
        raise click.ClickException(f"{exc} (use `supportline --dev call ...` for a local try)") from None
    sim = _simulator(app, clock)
    local = start.astimezone(ZoneInfo(settings.support_timezone))
    click.echo(f"call from {from_number} at {local:%A %Y-%m-%d %H:%M %Z}"
               + ("" if commit else " (dry run: nothing is kept)"))
    shown = [0]  # how many heard lines the interactive prompts have printed

    def prompt_keys(heard: list[str]) -> str | None:
        for line in heard[shown[0]:]:
            click.echo(f"line: {line}")
        shown[0] = len(heard)
        value = click.prompt("keys (empty = no input, q = hang up)", default="", show_default=False)
        return None if value.strip().lower() == "q" else value.strip()

    def prompt_dial(target: str) -> str:
        return click.prompt(f"ringing {target}", type=click.Choice(DIAL_OUTCOMES), default="accept")

    try:
        transcript = sim.call(
            from_number,
            keys=[k.strip() for k in keys.split(",")] if keys else [],
            dial=[d.strip() for d in dial.split(",") if d.strip()],
            ask_keys=prompt_keys if interactive else None,
            ask_dial=prompt_dial if interactive else None,
        )
    finally:
        if connection is not None:
            connection.rollback()
            connection.close()
    if interactive:
        for line in transcript.heard[shown[0]:]:
            click.echo(f"line: {line}")
        click.echo(f"-- {transcript.ended_by}")
    else:
        click.echo(transcript.text)
    click.echo(f"put through to: {transcript.connected_to or 'nobody'}")


def dry_run_on(
    settings: Settings, connection, *, engine=None, from_number: str, start: datetime,
    keys: list[str], dial: list[str],
):
    """One simulated call as `supportline call` runs it without --commit, for callers that own the
    transaction (the admin console's test-call page).

    `connection` must already be inside a transaction that the caller rolls back afterwards: every
    database write of the call happens in savepoints on it. Redis is a private in-process stand-in
    in which every active advisor is available at `start`; no request reaches Twilio. Returns the
    simulator's Transcript; the clock starts at `start` and moves on as the caller holds or talks.
    """
    clock = SimClock(start)
    config = {f.name: getattr(settings, f.name) for f in fields(Settings)}
    config["routing_cache_seconds"] = 0
    app = _dry_run_app(config, connection, engine if engine is not None else connection.engine, clock, start)
    return _simulator(app, clock).call(from_number, keys=list(keys), dial=list(dial))


def _dry_run_app(config, connection, engine, clock: SimClock, start: datetime):
    """The app on `connection` (inside a transaction the caller rolls back: writes go to
    savepoints), a private in-process Redis in which every active advisor is available at
    `start`, no routing-table cache (the call must read its own connection) and no Twilio."""
    import fakeredis

    app = create_app(
        config,
        clock=clock,
        engine=engine,
        sessions=sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False),
        redis_client=fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True),
        telephony=RecordingTelephony(),
    )
    svc = app.extensions["supportline"]
    with svc.sessions() as session:
        for advisor in svc.tables.get(session).advisors:
            svc.presence.set_state(advisor.pk, "available", start)
    return app


def _simulator(app, clock: SimClock) -> CallSimulator:
    svc = app.extensions["supportline"]
    return CallSimulator(
        app.test_client(),
        base_url=svc.settings.public_base_url or "http://localhost",
        auth_token=svc.settings.twilio_auth_token,
        advance=lambda seconds: clock.advance(seconds=seconds),
    )
