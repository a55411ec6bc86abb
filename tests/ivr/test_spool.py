"""The call-log spool (`ivr.spool`): records written while the database is down reach the call log
exactly once, whatever writers and replayers do at the same time."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
from datetime import UTC, datetime

from sqlalchemy import func, select

from casestore.models import CallLog
from ivr import spool
from tests.conftest import AUTH_TOKEN, BASE_URL
from tests.factories import World

AT = datetime(2026, 11, 24, 16, tzinfo=UTC)


def _write(path, sid: str) -> bool:
    return spool.spool(path, sid=sid, from_masked="***0134", at=AT, step="incoming")


def _writer_process(path: str, prefix: str, count: int) -> None:
    from pathlib import Path

    for i in range(count):
        assert _write(Path(path), f"{prefix}{i}")


def test_records_written_by_several_processes_while_a_replayer_runs_are_each_replayed_once(tmp_path, session):
    """Two processes append while this one replays over and over: every record lands once, none
    is lost in a file renamed away between a writer's open and its write."""
    path = tmp_path / "spool" / "call_log.jsonl"
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_writer_process, args=(str(path), f"CAp{w}-", 150)) for w in range(2)]
    for p in writers:
        p.start()
    replayed = 0
    while any(p.is_alive() for p in writers):
        replayed += spool.replay(session, path)
    for p in writers:
        p.join(timeout=30)
        assert p.exitcode == 0
    replayed += spool.replay(session, path)
    assert replayed == 300
    assert session.scalar(select(func.count()).select_from(CallLog)) == 300
    assert spool.pending(path) == 0 and not list(path.parent.iterdir())


def test_replaying_a_record_twice_changes_nothing(tmp_path, session):
    path = tmp_path / "call_log.jsonl"
    session.add(CallLog(call_sid="CAlive", started_at=AT, outcome="connected", path=["menu"]))
    session.flush()
    _write(path, "CAlive")  # a later webhook of a call that was logged before the outage
    _write(path, "CAnew")
    _write(path, "CAnew")
    assert spool.replay(session, path) == 3
    rows = {r.call_sid: r for r in session.scalars(select(CallLog))}
    assert rows["CAlive"].outcome == "connected" and rows["CAlive"].path == ["menu"]
    assert rows["CAnew"].outcome == "fallback" and rows["CAnew"].path == ["incoming"]


def test_a_file_taken_by_a_replayer_that_died_is_taken_again_later(tmp_path, session):
    path = tmp_path / "call_log.jsonl"
    _write(path, "CAorphan")
    taken = path.with_name(f"{path.name}.dead{spool.TAKEN_SUFFIX}")
    os.rename(path, taken)  # as a replayer does before it died
    now = taken.stat().st_mtime
    assert spool.replay(session, path, now=now + 1) == 0  # may still be at work: left alone
    assert spool.pending(path) == 1
    assert spool.replay(session, path, now=now + spool.ORPHAN_SECONDS) == 1
    assert session.scalars(select(CallLog.call_sid)).all() == ["CAorphan"]


def test_a_torn_line_is_skipped_and_the_rest_is_kept(tmp_path, session):
    path = tmp_path / "call_log.jsonl"
    _write(path, "CAok")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"sid": "CAtorn"})[:10])  # the disk filled up mid-write
    assert spool.replay(session, path) == 2
    assert session.scalars(select(CallLog.call_sid)).all() == ["CAok"]


def test_an_unwritable_spool_is_logged_not_raised(tmp_path, caplog):
    blocker = tmp_path / "spool"
    blocker.write_text("a file where the folder should be")
    assert not _write(blocker / "call_log.jsonl", "CAx")
    assert "could not spool" in caplog.text


def test_concurrent_threads_of_one_process_write_whole_lines(tmp_path):
    path = tmp_path / "call_log.jsonl"
    threads = [threading.Thread(target=lambda i=i: [_write(path, f"CAt{i}-{j}") for j in range(50)]) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 200 and all(json.loads(line)["outcome"] == "fallback" for line in lines)


def test_a_web_process_replays_its_own_spool_once_the_database_answers(
    settings_overrides, engine, session_factory, redis_client, clock, telephony, world, session
):
    """No worker on this host: the web process that spooled replays its records itself, on its
    first webhook after the database is back."""
    from twilio_doubles.simulator import CallSimulator
    from webhooks import create_app
    from webhooks.voice import spool_path

    app = create_app(
        settings_overrides,
        engine=engine,
        sessions=session_factory,
        redis_client=redis_client,
        clock=clock,
        telephony=telephony,
    )
    svc = app.extensions["supportline"]
    path = spool_path(svc)
    _write(path, "CAduring")  # what the fallback wrote while the database was down
    svc.spooled.set()
    started = []
    original = svc.sessions

    def recording_sessions():  # see the replay's thread run, then join it
        started.append(threading.current_thread().name)
        return original()

    svc.sessions = recording_sessions
    sim = CallSimulator(app.test_client(), base_url=BASE_URL, auth_token=AUTH_TOKEN)
    sim.post("/voice/incoming", {"CallSid": "CAafter", "From": World.DANA_PHONE})
    for thread in threading.enumerate():
        if thread.name == "spool-replay":
            thread.join(timeout=10)
    assert "spool-replay" in started
    assert spool.pending(path) == 0 and not svc.spooled.is_set()
    assert session.scalars(select(CallLog.outcome).where(CallLog.call_sid == "CAduring")).one() == "fallback"


def test_one_bad_record_is_dead_lettered_and_never_blocks_the_others(tmp_path, session, engine):
    """Issue #13 item 6: a record the database refuses among ten good ones. Before, replay failed
    all-or-nothing forever (0 of 10 written); now each record is applied on its own, the bad one
    goes to the dead-letter file with the reason, and the ten are written."""
    path = tmp_path / "spool" / "call_log.jsonl"
    for i in range(5):
        _write(path, f"CAgood{i}")
    bad = [{"sid": None, "from": "***0134", "at": AT.isoformat(), "step": "incoming", "outcome": "fallback"}]
    if engine.dialect.name == "postgresql":  # NUL in text: DataError there (SQLite stores it)
        bad.append(dict(bad[0], sid="\x00"))
    with open(path, "a", encoding="utf-8") as fh:  # written directly: the edge cleaning would strip it
        for rec in bad:
            fh.write(json.dumps(rec) + "\n")
    for i in range(5, 10):
        _write(path, f"CAgood{i}")
    assert spool.replay(session, path) == 10 + len(bad)
    written = set(session.scalars(select(CallLog.call_sid)))
    assert written == {f"CAgood{i}" for i in range(10)}
    assert spool.pending(path) == 0 and spool.dead_letters(path) == len(bad)
    letters = [json.loads(line) for line in spool.dead_letter_path(path).read_text().splitlines()]
    assert [letter["record"] for letter in letters] == bad
    assert all(letter["reason"].startswith(("IntegrityError", "DataError")) for letter in letters)
    assert spool.replay(session, path) == 0  # nothing is retried every pass


def test_the_dead_letter_count_is_in_metrics(client, app, session):
    from webhooks.voice import spool_path

    path = spool_path(app.extensions["supportline"])
    _write(path, "CAfine")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(
            json.dumps({"sid": "CAbad", "from": "", "at": "not a time", "step": "incoming", "outcome": "fallback"})
            + "\n"
        )
    assert spool.replay(session, path) == 2
    body = client.get("/metrics").get_data(as_text=True)
    assert "supportline_spool_dead_letters 1.0" in body and "supportline_spool_pending 0.0" in body


def test_a_dial_result_replayed_after_the_live_final_status_still_records_the_talk(
    app, sim, world, session, clock, monkeypatch
):
    """The Dial result was spooled during the outage; the database came back before the caller's
    final status, which closed the row as hung up. Replaying the Dial result afterwards records
    the talk: the outcome is connected, not hung up."""
    from psycopg import OperationalError as PgOperationalError
    from sqlalchemy.exc import OperationalError

    from ivr import flow
    from routing.presence import Presence
    from tests.e2e.test_db_outage import _put_through
    from webhooks.voice import replay_spool

    svc = app.extensions["supportline"]
    action, base = _put_through(sim, "CAorder", ["4821", "240117"])
    real = flow.handle

    def database_gone(env, inp, state):
        if inp.step == "dial-result":
            raise OperationalError("UPDATE", {}, PgOperationalError("connection refused"))
        return real(env, inp, state)

    monkeypatch.setattr(flow, "handle", database_gone)
    assert "trouble with our phone system" in sim.post(
        action, dict(base, DialCallStatus="completed", DialCallDuration="180")
    )
    monkeypatch.setattr(flow, "handle", real)
    svc.breakers.db.reset()
    svc.spooled.clear()  # (replayed below, not in the background: this test's sessions share one connection)
    sim.post("/voice/status", dict(base, CallStatus="completed", CallDuration="200"))
    row = session.scalars(select(CallLog).where(CallLog.call_sid == "CAorder")).one()
    assert row.outcome == "hung_up" and row.ended_at is not None
    with svc.sessions() as s:
        assert replay_spool(svc, s) == 1
    session.expire_all()
    row = session.scalars(select(CallLog).where(CallLog.call_sid == "CAorder")).one()
    assert (row.outcome, row.talk_seconds, row.duration_seconds) == ("connected", 180, 200)
    assert Presence(svc.redis).get(world.priya.id, clock()).state != "on_call"
