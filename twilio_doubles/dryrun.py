"""`supportline call`: the call simulator against the configured database and routing tables.

By default nothing the simulated call writes survives: the database work happens inside a
transaction that is rolled back, and Redis state (lockouts, queue places, presence) goes to a
private in-process stand-in in which every active advisor is signed in and available, so the
dry run shows where the routing tables send the call. No request reaches Twilio. `--commit` uses
the real database and Redis (and live presence) instead.

A dry run never checks a real PIN: its lockout counters are private, so it would be a PIN oracle.
The caller is simulated as verified: at each PIN prompt `SimulatedPin` gives the contact the line
is verifying (by caller ID, or the contact ID typed) a one-time PIN inside the rolled-back
transaction and types it; the key groups given serve the other prompts only. `wrong_pin` types a
PIN guaranteed wrong instead, to try the failure path. With `--commit` the call is real: the PIN
typed is checked against the real lockout, like any caller's.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import click
from sqlalchemy.orm import sessionmaker

from auth.callers import contact_by_contact_id, match_caller
from auth.pins import hash_pin
from casestore.db import make_engine
from casestore.models import Contact
from casestore.phones import caller_e164
from ivr.telephony import RecordingTelephony
from twilio_doubles.simulator import DIAL_OUTCOMES, CallSimulator, SimulatedEntry
from webhooks.app import create_app
from webhooks.config import ConfigurationError, Settings

PIN_DIGITS = 6


class SimClock:
    """Starts at the requested instant and moves on as the simulated caller holds or talks."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class SimulatedPin:
    """Answers a dry run's PIN prompts: sets the contact being verified a one-time PIN (its
    pin_hash, inside the transaction the dry run rolls back) and types it, or with `wrong`
    types another PIN than the one it set. A real PIN is never checked."""

    def __init__(self, app, from_number: str, *, wrong: bool = False) -> None:
        svc = app.extensions["supportline"]
        self.sessions = svc.sessions
        self.pepper = svc.settings.pin_pepper
        self.from_e164 = caller_e164(from_number, svc.settings.default_region)
        self.wrong = wrong

    def __call__(self, contact_id: str | None) -> SimulatedEntry:
        pin = _one_time_pin()
        stored = pin if not self.wrong else _one_time_pin(unlike=pin)
        with self.sessions() as session:
            if contact_id is not None:
                contact = contact_by_contact_id(session, contact_id)
            else:
                match = match_caller(session, self.from_e164)
                contact = session.get(Contact, match.contact_pk) if match.contact_pk is not None else None
            if contact is not None:
                contact.pin_hash = hash_pin(self.pepper, contact.contact_id, stored)
                session.commit()  # releases a savepoint: the dry run's transaction is rolled back
        return SimulatedEntry(digits=pin, shown="(a simulated wrong PIN)" if self.wrong else "(a simulated PIN)")


def _one_time_pin(unlike: str | None = None) -> str:
    while True:
        pin = f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"
        if pin != unlike:
            return pin


def parse_at(at: str | None, tz_name: str) -> datetime:
    if not at:
        return datetime.now(UTC)
    value = datetime.fromisoformat(at.strip().replace(" ", "T", 1) if " " in at.strip() else at.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz_name))
    return value


def run_call(
    settings: Settings,
    *,
    from_number: str,
    at: str | None,
    keys: str,
    dial: str,
    interactive: bool,
    commit: bool,
    wrong_pin: bool = False,
) -> None:
    try:
        start = parse_at(at, settings.support_timezone)
    except ValueError:
        raise click.BadParameter(f"cannot read --at {at!r}; use e.g. '2026-11-26 10:00'") from None
    with _transcript_only():
        _run_call(
            settings,
            start,
            from_number=from_number,
            keys=keys,
            dial=dial,
            interactive=interactive,
            commit=commit,
            wrong_pin=wrong_pin,
        )


@contextmanager
def _transcript_only() -> Iterator[None]:
    """The transcript is the output: the per-webhook log lines would only interleave with it. The
    level is put back afterwards (a test or a shell running several calls keeps its logging)."""
    logger = logging.getLogger("supportline")
    level = logger.level
    logger.setLevel(max(logging.WARNING, level))
    try:
        yield
    finally:
        logger.setLevel(level)


def _run_call(
    settings: Settings,
    start: datetime,
    *,
    from_number: str,
    keys: str,
    dial: str,
    interactive: bool,
    commit: bool,
    wrong_pin: bool,
) -> None:
    clock = SimClock(start)
    app, connection = _call_app(settings, clock, start, commit=commit)
    sim = _simulator(app, clock)
    local = start.astimezone(ZoneInfo(settings.support_timezone))
    click.echo(
        f"call from {from_number} at {local:%A %Y-%m-%d %H:%M %Z}"
        + ("" if commit else " (dry run: nothing is kept; the PIN is simulated)")
    )
    shown = [0]  # how many heard lines the interactive prompts have printed

    def prompt_keys(heard: list[str]) -> str | None:
        for line in heard[shown[0] :]:
            click.echo(f"line: {line}")
        shown[0] = len(heard)
        value = click.prompt("keys (empty = no input, say:<words> speaks, q = hang up)", default="", show_default=False)
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
            pin=None if commit else SimulatedPin(app, from_number, wrong=wrong_pin),
        )
    finally:
        if connection is not None:
            connection.rollback()
            connection.close()
    if interactive:
        for line in transcript.heard[shown[0] :]:
            click.echo(f"line: {line}")
        click.echo(f"-- {transcript.ended_by}")
    else:
        click.echo(transcript.text)
    click.echo(f"put through to: {transcript.connected_to or 'nobody'}")


def _call_app(settings: Settings, clock: SimClock, start: datetime, *, commit: bool):
    """The app the call runs on, and the connection whose transaction a dry run rolls back (None
    with `commit`: then the app uses the real database, Redis and presence)."""
    engine = make_engine(settings.database_url)
    connection = None
    try:
        if commit:
            config = {f.name: getattr(settings, f.name) for f in fields(Settings)} | {"routing_cache_seconds": 0}
            app = create_app(config, clock=clock, engine=engine, telephony=RecordingTelephony())
        else:
            connection = engine.connect()
            connection.begin()
            app = _dry_run_app({"routing_cache_seconds": 0}, connection, engine, clock, start)
    except ConfigurationError as exc:
        raise click.ClickException(f"{exc} (use `supportline --dev call ...` for a local try)") from None
    return app, connection


def dry_run_on(
    settings: Settings,
    connection,
    *,
    engine=None,
    from_number: str,
    start: datetime,
    keys: list[str],
    dial: list[str],
    wrong_pin: bool = False,
):
    """One simulated call as `supportline call` runs it without --commit, for callers that own the
    transaction (the admin console's test-call page).

    `connection` must already be inside a transaction that the caller rolls back afterwards: every
    database write of the call happens in savepoints on it. Redis is a private in-process stand-in
    in which every active advisor is available at `start`; no request reaches Twilio. Returns the
    simulator's Transcript; the clock starts at `start` and moves on as the caller holds or talks.
    The PIN is simulated (`SimulatedPin`): `keys` start after it.
    """
    clock = SimClock(start)
    config = {f.name: getattr(settings, f.name) for f in fields(Settings)}
    config["routing_cache_seconds"] = 0
    app = _dry_run_app(config, connection, engine if engine is not None else connection.engine, clock, start)
    return _simulator(app, clock).call(
        from_number, keys=list(keys), dial=list(dial), pin=SimulatedPin(app, from_number, wrong=wrong_pin)
    )


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
