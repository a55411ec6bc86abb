"""`supportline call`: the call simulator against the configured database and routing tables.

By default nothing the simulated call writes survives: the database work happens inside a
transaction that is rolled back, and Redis state (lockouts, queue places, presence) goes to a
private in-process stand-in in which every active advisor is signed in and available, so the
dry run shows where the routing tables send the call. No request reaches Twilio. `--commit` uses
the real database and Redis (and live presence) instead.
"""

from __future__ import annotations

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
    extra: dict = {"clock": clock, "engine": engine}
    if not commit:
        import fakeredis

        connection = engine.connect()
        connection.begin()
        extra["sessions"] = sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        extra["redis_client"] = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    extra["telephony"] = RecordingTelephony()
    try:
        # No routing-table cache: a dry run's sessions share one connection with no other thread.
        app = create_app({"routing_cache_seconds": 0}, **extra)
    except ConfigurationError as exc:
        raise click.ClickException(f"{exc} (use `supportline --dev call ...` for a local try)") from None
    svc = app.extensions["supportline"]
    if not commit:
        with svc.sessions() as session:
            for advisor in svc.tables.get(session).advisors:
                svc.presence.set_state(advisor.pk, "available", start)
    sim = CallSimulator(
        app.test_client(),
        base_url=svc.settings.public_base_url or "http://localhost",
        auth_token=svc.settings.twilio_auth_token,
        advance=lambda seconds: clock.advance(seconds=seconds),
    )
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
