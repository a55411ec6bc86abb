"""`supportline demo`: a development desk from nothing. It creates the database, loads the demo data
set into a new database only (`--reset` starts over; otherwise an admin's edits are kept) and seeds
it with a week of history ending now (`casestore.demo.history`), creates a demo console account,
prints where everything is (the console, the webhook URLs from `PUBLIC_BASE_URL` when set, which
auth token signs Twilio's requests, a call to try), and serves: two web workers, the background
worker and the dispatcher, all on one shared Redis (`cli.localredis`) that every other command of
the instance finds."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy import func, select, update

from casestore.db import make_engine, make_session_factory, session_scope, upgrade, wipe
from casestore.models import AdminUser, Advisor, District
from casestore.types import AdminRole
from cli import localredis
from webhooks.config import DEV_AUTH_TOKEN, Settings, load_settings
from webhooks.services import system_clock

DEMO_FILE = Path(__file__).resolve().parent.parent / "casestore" / "demo" / "demo.yaml"
DEMO_WEB_WORKERS = 2
HELPERS = ("worker", "dispatcher")  # `supportline worker`, `supportline dispatcher`
DEMO_WEB_WORKERS = 2
HELPERS = ("worker", "dispatcher")  # `supportline worker`, `supportline dispatcher`
DEMO_ADMIN = "admin"
DEMO_ADMIN_PASSWORD = "demo-admin-password"  # development mode only, like the other demo secrets


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Create and load the demo database, then stop.")
@click.option("--reset", is_flag=True, help="Drop everything in the database and load the demo data again.")
def demo_cmd(host: str, port: int, no_serve: bool, reset: bool) -> None:
    """Create the database, load the demo data into a new one, print what to call, and serve."""
    from cli.main import _load_file, _safe_url, _serve

    os.environ.setdefault("SUPPORTLINE_DEV", "1")
    settings = load_settings({"development": True})
    engine = make_engine(settings.database_url)
    if reset:
        wipe(engine)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with session_scope(sessions) as session:
        fresh = not session.scalar(select(func.count()).select_from(District))
    if fresh:
        loaded = f"loaded {DEMO_FILE.name}: {_load_file(settings, DEMO_FILE, actor='cli:demo')}"
        _sign_in_everyone(sessions)
        loaded += "\n" + _seed_history(settings, sessions)
    else:
        loaded = f"kept the data already there (not reloading {DEMO_FILE.name}: `./dev demo --reset` starts over)"
    console_login = _demo_admin(sessions)
    head = [f"supportline demo: database {_safe_url(settings.database_url)}", loaded, ""]
    if no_serve:
        click.echo("\n".join([*head, *_banner(settings, host, port, console_login)]))
        return
    shared = localredis.serve(settings.instance_path) if settings.redis_embedded else None
    if shared is not None:  # every process of the demo, and every CLI command, on one state
        os.environ["REDIS_URL"] = shared.url
        settings = load_settings({"development": True})
    helpers = _start_helpers(settings)
    try:
        click.echo("\n".join([*head, *_state_lines(settings, shared), *_banner(settings, host, port, console_login)]))
        _serve(settings, host, port, workers=DEMO_WEB_WORKERS)
    finally:
        _stop(helpers, shared)


def _start_helpers(settings: Settings) -> list[subprocess.Popen]:
    """The background worker and the dispatcher, as in production, each logging to a file of the
    instance (their JSON lines would drown the banner)."""
    procs = []
    for name in HELPERS:
        with open(Path(settings.instance_path) / f"{name}.log", "ab") as log:
            cmd = [sys.executable, "-m", "cli.main", "--dev", name]
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ)))
    return procs


def _stop(helpers: list[subprocess.Popen], shared: localredis.LocalRedis | None) -> None:
    for proc in helpers:
        proc.terminate()
    for proc in helpers:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
    if shared is not None:
        shared.stop()


def _state_lines(settings: Settings, shared: localredis.LocalRedis | None) -> list[str]:
    folder = Path(settings.instance_path)
    where = f"{shared.kind} at {shared.url}" if shared is not None else settings.redis_url
    logs = ", ".join(str(folder / f"{name}.log") for name in HELPERS)
    return [
        f"  Shared state: {where} (every ./dev command on this instance finds it)",
        f"  Web workers: {DEMO_WEB_WORKERS}; worker and dispatcher running (logs: {logs})",
        "",
    ]


def _sign_in_everyone(sessions) -> None:
    """The demo desk is staffed: every active advisor's chosen presence is available (the server
    restores live presence from it when it starts)."""
    with session_scope(sessions) as session:
        session.execute(update(Advisor).where(Advisor.active.is_(True)).values(signed_in_state="available"))


def desk_rules(session, tz_name: str):
    """The demo calendar's rules for `casestore.demo.history` (the calendar lives in `routing`)."""
    from casestore.demo.history import DeskRules
    from routing.businesstime import add_business_days, response_due
    from routing.calendar import is_open, load_calendar

    cal = load_calendar(session, tz_name)
    return DeskRules(
        is_open=lambda at: is_open(at, cal),
        response_due=lambda at, priority: response_due(at, priority, cal),
        add_business_days=lambda at, days: add_business_days(at, days, cal),
        tz_name=tz_name,
    )


def _seed_history(settings: Settings, sessions) -> str:
    """A week of call history ending now, in one transaction, for a new demo database only."""
    from casestore.demo.history import seed_history

    with session_scope(sessions) as session:
        seeded = seed_history(session, _service_now(settings), desk_rules(session, settings.support_timezone))
    return seeded.line()


def _service_now(settings: Settings) -> datetime:
    """The service's 'now': SUPPORTLINE_CLOCK_START's instant when set (development), else the clock."""
    from webhooks.services import shifted_clock

    if settings.clock_start:
        return shifted_clock(datetime.fromisoformat(settings.clock_start), settings.clock_anchor)()
    return system_clock()


def _demo_admin(sessions) -> str:
    """The console login to print: the demo account, created when the database has no account yet;
    "" when someone else's accounts are there (their passwords are theirs)."""
    from auth.admins import set_password
    from casestore import audit

    now = system_clock()
    with session_scope(sessions) as session:
        users = list(session.scalars(select(AdminUser)))
        if users:
            return f"{DEMO_ADMIN} / {DEMO_ADMIN_PASSWORD}" if [u.username for u in users] == [DEMO_ADMIN] else ""
        user = AdminUser(username=DEMO_ADMIN, role=AdminRole.ADMIN, active=True, created_at=now)
        set_password(user, DEMO_ADMIN_PASSWORD)
        session.add(user)
        audit.record(
            session,
            at=now,
            actor="cli:demo",
            action="create",
            entity="admin_user",
            key=DEMO_ADMIN,
            after={"role": AdminRole.ADMIN.value, "active": True, "password": "(set)"},
        )
    return f"{DEMO_ADMIN} / {DEMO_ADMIN_PASSWORD}"


def _banner(settings: Settings, host: str, port: int, console_login: str) -> list[str]:
    local = f"http://{host}:{port}"
    public = settings.public_base_url or local
    at = _next_open_morning(settings)
    signed = (
        "the development auth token (set TWILIO_AUTH_TOKEN to take real Twilio calls)"
        if settings.twilio_auth_token == DEV_AUTH_TOKEN
        else "your TWILIO_AUTH_TOKEN"
    )
    login = f"sign in as {console_login}" if console_login else "sign in with your console account"
    return [
        f"  Console:                                 {local}/  ({login})",
        f"  Voice URL (point a Twilio number here): POST {public}/voice/incoming",
        f"  Fallback URL:                            POST {public}/voice/fallback",
        f"  Status callback:                         POST {public}/voice/status",
        f"  Health:                                  GET  {local}/healthz  {local}/readyz",
        "",
        "  Try a call without a phone (demo contact Dana Whitfield, PIN 4821, open case 241025):",
        f"    ./dev --dev call --from '(612) 555-0134' --at '{at}' --keys '4821#,241025#' --dial no-answer,accept",
        f"    ./dev --dev call --from '(612) 555-0134' --at '{at}' -i",
        "",
        f"  Development mode: demo secrets. Twilio's requests must be signed with {signed}.",
    ]


def _next_open_morning(settings: Settings) -> str:
    """A local '%Y-%m-%d 10:00' on the next day the desk is open, for the printed examples."""
    from routing.calendar import default_calendar, is_open

    tz = ZoneInfo(settings.support_timezone)
    day = system_clock().astimezone(tz).date()
    cal = default_calendar(settings.support_timezone)
    for _ in range(14):
        candidate = datetime.combine(day, time(10), tzinfo=tz)
        if is_open(candidate, cal):
            break
        day += timedelta(days=1)
    return f"{day:%Y-%m-%d} 10:00"
