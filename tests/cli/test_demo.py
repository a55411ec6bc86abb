"""`supportline demo --no-serve`: the demo data goes into a new database only (or with --reset), a
demo console account is made and printed, and the printed URLs follow PUBLIC_BASE_URL and the token."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from sqlalchemy import func, select

from casestore.db import make_engine, make_session_factory, session_scope
from casestore.models import AdminUser, CallLog, District, Incident
from cli.demo import DEMO_ADMIN_PASSWORD
from cli.main import main


def _demo(tmp_path, monkeypatch, *args: str):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    monkeypatch.setenv("SUPPORTLINE_INSTANCE", str(tmp_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    done = CliRunner().invoke(main, ["demo", "--no-serve", *args])
    assert done.exit_code == 0, done.output
    return done.output


def _sessions(tmp_path):
    return make_session_factory(make_engine(f"sqlite:///{tmp_path / 'demo.sqlite3'}"))


def test_a_new_database_gets_the_demo_and_a_console_login(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    out = _demo(tmp_path, monkeypatch)
    assert "loaded demo.yaml: " in out
    assert (
        f"Console:                                 http://127.0.0.1:5000/  (sign in as admin / {DEMO_ADMIN_PASSWORD})"
        in out
    )
    assert "POST http://127.0.0.1:5000/voice/incoming" in out
    assert "signed with the development auth token" in out
    with session_scope(_sessions(tmp_path)) as session:
        assert [u.username for u in session.scalars(select(AdminUser))] == ["admin"]


def test_running_it_again_keeps_an_admins_edits(tmp_path, monkeypatch) -> None:
    _demo(tmp_path, monkeypatch)
    with session_scope(_sessions(tmp_path)) as session:
        district = session.scalars(select(District).order_by(District.id)).first()
        district.name = "Renamed By An Admin"
    out = _demo(tmp_path, monkeypatch)
    assert "kept the data already there" in out and "--reset" in out
    with session_scope(_sessions(tmp_path)) as session:
        assert (
            session.scalar(select(func.count()).select_from(District).where(District.name == "Renamed By An Admin"))
            == 1
        )
    out = _demo(tmp_path, monkeypatch, "--reset")
    assert "loaded demo.yaml: " in out
    with session_scope(_sessions(tmp_path)) as session:
        assert not session.scalar(
            select(func.count()).select_from(District).where(District.name == "Renamed By An Admin")
        )


def test_a_new_demo_gets_a_week_of_history_once(tmp_path, monkeypatch) -> None:
    out = _demo(tmp_path, monkeypatch)
    (line,) = [x for x in out.splitlines() if x.startswith("seeded a week of history: ")]
    assert " calls on " in line and "1 incident (2 pages, acknowledged)" in line and " surveys" in line
    with session_scope(_sessions(tmp_path)) as session:
        calls = session.scalar(select(func.count()).select_from(CallLog))
        assert calls and f"{calls} calls" in line
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
    out = _demo(tmp_path, monkeypatch)
    assert "seeded a week" not in out and "kept the data already there" in out
    with session_scope(_sessions(tmp_path)) as session:
        assert session.scalar(select(func.count()).select_from(CallLog)) == calls
        assert session.scalar(select(func.count()).select_from(Incident)) == 1


def test_the_history_ends_at_the_services_clock(tmp_path, monkeypatch) -> None:
    """SUPPORTLINE_CLOCK_START (development) moves the service's 'now': the seeded week ends there."""
    start = datetime(2026, 11, 20, 15, 0, tzinfo=ZoneInfo("America/Chicago"))
    monkeypatch.setenv("SUPPORTLINE_CLOCK_START", start.isoformat())
    _demo(tmp_path, monkeypatch)
    with session_scope(_sessions(tmp_path)) as session:
        first, last = session.execute(select(func.min(CallLog.started_at), func.max(CallLog.started_at))).one()
    assert start - timedelta(days=7) <= first < last < start and last > start - timedelta(hours=3)


def test_urls_follow_the_public_address_and_the_real_token(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://line.example.org/")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "a-real-looking-token-0123456789abcdef")
    out = _demo(tmp_path, monkeypatch)
    assert "POST https://line.example.org/voice/incoming" in out
    assert "POST https://line.example.org/voice/fallback" in out
    assert "signed with your TWILIO_AUTH_TOKEN" in out


def test_someone_elses_accounts_are_not_printed(tmp_path, monkeypatch) -> None:
    _demo(tmp_path, monkeypatch)
    done = CliRunner().invoke(main, ["--dev", "admin", "create", "bea", "--password", "a-long-password-of-bea"])
    assert done.exit_code == 0, done.output
    out = _demo(tmp_path, monkeypatch)
    assert "sign in with your console account" in out
    assert DEMO_ADMIN_PASSWORD not in out
