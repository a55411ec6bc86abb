"""`supportline call` against a file database, in a dry run and with --commit."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import func, select

from casestore.db import make_engine, make_session_factory, session_scope, upgrade
from casestore.models import CallLog
from cli.main import main
from tests.factories import build_world
from webhooks.config import DEV_PIN_PEPPER


def _db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'sim.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SUPPORTLINE_INSTANCE", str(tmp_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(make_session_factory(engine)) as session:
        build_world(session, DEV_PIN_PEPPER)
    return engine


def test_call_command_dry_run(tmp_path, monkeypatch):
    engine = _db(tmp_path, monkeypatch)
    result = CliRunner().invoke(
        main,
        [
            "--dev",
            "call",
            "--from",
            "(612) 555-0134",
            "--at",
            "2026-11-24 10:00",
            "--keys",
            "240117#",
            "--dial",
            "no-answer,accept",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Tuesday 2026-11-24 10:00 CST" in result.output and "the PIN is simulated" in result.output
    assert "caller presses: (a simulated PIN)" in result.output and "Thank you, Dana" in result.output
    assert "ringing +16125550101: no-answer" in result.output
    assert "put through to: +16125550102" in result.output
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(CallLog)) == 0  # rolled back


def test_call_command_on_a_holiday(tmp_path, monkeypatch):
    _db(tmp_path, monkeypatch)
    result = CliRunner().invoke(main, ["--dev", "call", "--from", "+16515550111", "--at", "2026-11-26 10:00"])
    assert result.exit_code == 0, result.output
    assert "closed today for Thanksgiving" in result.output
    assert "put through to: nobody" in result.output


def test_call_command_commit_keeps_the_call_log(tmp_path, monkeypatch, shared_state):
    engine = _db(tmp_path, monkeypatch)
    result = CliRunner().invoke(
        main, ["--dev", "call", "--from", "+16515550111", "--at", "2026-11-24 10:00", "--keys", "1357#,0", "--commit"]
    )
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(CallLog)) == 1


def test_a_real_call_needs_the_shared_state(tmp_path, monkeypatch):
    """Without a running demo (or REDIS_URL) a --commit call would reach nobody on a private state."""
    engine = _db(tmp_path, monkeypatch)
    result = CliRunner().invoke(main, ["--dev", "call", "--from", "+16515550111", "--keys", "1357#,0", "--commit"])
    assert result.exit_code == 1
    assert "no shared state to reach" in result.output and "./dev demo" in result.output
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(CallLog)) == 0


def test_interactive_call(tmp_path, monkeypatch):
    _db(tmp_path, monkeypatch)
    result = CliRunner().invoke(
        main,
        ["--dev", "call", "--from", "+16515550111", "--at", "2026-11-24 10:00", "-i"],
        input="0\n0\n3\naccept\n",  # the PIN prompt is answered by the dry run; 0, area not sure, not urgent
    )
    assert result.exit_code == 0, result.output
    assert "Thank you, Omar" in result.output
    assert "put through to: +16125550101" in result.output


def test_a_dry_run_never_checks_the_pin_typed(tmp_path, monkeypatch):
    """Omar's PIN is 1357: in a dry run, typing it or any other guess makes the same call (the
    key groups start after the simulated PIN); --wrong-pin tries the failure path."""
    _db(tmp_path, monkeypatch)
    outputs = set()
    for guess in ("1357#", "1358#"):
        result = CliRunner().invoke(
            main, ["--dev", "call", "--from", "+16515550111", "--at", "2026-11-24 10:00", "--keys", guess]
        )
        assert result.exit_code == 0, result.output
        outputs.add(result.output.replace(guess, "GUESS"))
    assert len(outputs) == 1 and "Thank you, Omar" in outputs.pop()
    wrong = CliRunner().invoke(
        main, ["--dev", "call", "--from", "+16515550111", "--at", "2026-11-24 10:00", "--wrong-pin"]
    )
    assert wrong.exit_code == 0, wrong.output
    assert "That did not match our records" in wrong.output and "Thank you, Omar" not in wrong.output
    refused = CliRunner().invoke(main, ["--dev", "call", "--from", "+16515550111", "--wrong-pin", "--commit"])
    assert refused.exit_code == 2 and "--wrong-pin is for a dry run" in refused.output


def test_call_command_speaks_with_say_groups(tmp_path, monkeypatch):
    _db(tmp_path, monkeypatch)
    args = ["--dev", "call", "--from", "(612) 555-0134", "--at", "2026-11-24 10:00", "--dial", "accept"]
    result = CliRunner().invoke(
        main, [*args, "--keys", "say@0.3:two four oh one one seven,say:two four oh one one seven,say:yes"]
    )
    assert result.exit_code == 0, result.output
    assert 'caller says: "two four oh one one seven" (confidence 0.3)' in result.output
    assert "Sorry, I didn't catch that." in result.output
    assert 'caller says: "two four oh one one seven"\nline: I heard 2 4 0 1 1 7.' in result.output
    assert "put through to: +16125550101" in result.output


def test_call_command_refuses_speech_it_cannot_play(tmp_path, monkeypatch, shared_state):
    _db(tmp_path, monkeypatch)
    args = ["--dev", "call", "--from", "(612) 555-0134", "--at", "2026-11-24 10:00"]
    bad = CliRunner().invoke(main, [*args, "--keys", "say@loud:agent"])
    assert bad.exit_code == 2 and "confidence after say@ is a number from 0 to 1" in bad.output
    at_the_pin = CliRunner().invoke(main, [*args, "--commit", "--keys", "say:four eight two one"])
    assert at_the_pin.exit_code == 1
    assert "the prompt at /voice/pin takes keys only" in at_the_pin.output and "cannot speak there" in at_the_pin.output
