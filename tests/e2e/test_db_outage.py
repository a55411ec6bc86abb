"""The database killed and restarted for real: a private PostgreSQL server (initdb + pg_ctl, on a
free port, never the shared one) is stopped with `-m immediate` (as a crash) in the middle of
calls. Every webhook answers the fallback within a second, the call log is spooled, and when the
server is back the service recovers on its own: the next call goes through and every call has its
call-log row (none lost).

Runs where PostgreSQL's server binaries are installed (CI's machines and the dev machine have
them); skipped elsewhere."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from casestore.db import make_engine, make_session_factory, upgrade
from casestore.models import CallLog
from tests.conftest import AUTH_TOKEN, BASE_URL, PIN_PEPPER
from tests.factories import World, build_world

INITDB = shutil.which("initdb")
PG_CTL = shutil.which("pg_ctl")
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

pytestmark = pytest.mark.skipif(not (INITDB and PG_CTL), reason="needs PostgreSQL's initdb and pg_ctl")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivatePostgres:
    """A throwaway server. PostgreSQL refuses to run as root, so as root it runs as `postgres`."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sl-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        if AS_ROOT:
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if AS_ROOT:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stdout + res.stderr

    def init(self) -> None:
        self._run(INITDB, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(PG_CTL, "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start")

    def crash(self) -> None:
        self._run(PG_CTL, "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(AssertionError):  # already stopped
            self.crash()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def private_postgres():
    pg = PrivatePostgres()
    try:
        pg.init()
        pg.start()
    except (AssertionError, OSError, subprocess.SubprocessError) as exc:
        pg.remove()
        pytest.skip(f"could not start a private PostgreSQL: {exc}")
    yield pg
    pg.remove()


def _said(root: ET.Element) -> str:
    return " ".join(s.text or "" for s in root.iter("Say"))


def test_the_database_killed_mid_call_and_restarted(
    private_postgres, settings_overrides, redis_client, clock, telephony, tmp_path
):
    from ivr import spool
    from twilio_doubles.simulator import CallSimulator
    from webhooks import create_app
    from webhooks.voice import spool_path

    engine = make_engine(private_postgres.url)
    upgrade(engine)
    with Session(engine) as s:
        build_world(s, PIN_PEPPER)
        s.commit()
    from routing.presence import Presence

    app = create_app(
        dict(settings_overrides, database_url=private_postgres.url, instance_path=tmp_path / "inst"),
        engine=engine,
        sessions=make_session_factory(engine),
        redis_client=redis_client,
        clock=clock,
        telephony=telephony,
    )
    svc = app.extensions["supportline"]
    with svc.sessions() as s:
        from casestore.models import Advisor

        for pk in s.scalars(select(Advisor.id)):
            Presence(redis_client).set_state(pk, "available", clock())
    sim = CallSimulator(app.test_client(), base_url=BASE_URL, auth_token=AUTH_TOKEN)
    base = {"CallSid": "CAbefore", "From": World.DANA_PHONE, "To": "+18005550100", "CallStatus": "in-progress"}
    root = ET.fromstring(sim.post("/voice/incoming", base))
    assert "enter your PIN" in _said(root)

    private_postgres.crash()
    # Mid-call and for a new caller: the fallback (apology, then the overflow number), each fast.
    for sid, path in (
        ("CAbefore", root.find("Gather").get("action")),
        ("CAduring", "/voice/incoming"),
        ("CAduring2", "/voice/incoming"),
    ):
        started = time.perf_counter()
        body = sim.post(path, dict(base, CallSid=sid, Digits="4821"))
        assert time.perf_counter() - started < 1.0
        assert "trouble with our phone system" in body and "+16125550100" in body, body
    assert not svc.breakers.db.usable()
    assert spool.pending(spool_path(svc)) == 3  # each call's trace, on this machine's disk

    private_postgres.start()
    svc.breakers.reset()  # the 5 s cooldown has passed (not waited for: the clock is injected elsewhere)
    # Recovery on its own: the next caller is verified and put through, and this web process
    # writes what it spooled into the call log (no worker needed).
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"], call_sid="CAafter")
    assert t.said("Thank you, Dana") and t.connected_to == "+16125550101"
    for thread in threading.enumerate():
        if thread.name == "spool-replay":
            thread.join(timeout=10)
    assert spool.pending(spool_path(svc)) == 0
    with Session(engine) as s:
        rows = {r.call_sid: r.outcome for r in s.scalars(select(CallLog))}
    assert rows == {"CAbefore": "fallback", "CAduring": "fallback", "CAduring2": "fallback", "CAafter": "connected"}
    engine.dispose()


def _put_through(sim, sid: str, keys: list[str]) -> tuple[str, dict]:
    """A call verified and put through to an advisor who accepts (the whisper's 1); the Dial's
    action URL and the call's parameters, for the Dial result still to come."""
    base = {"CallSid": sid, "From": World.DANA_PHONE, "To": "+18005550100", "CallStatus": "in-progress"}
    root = ET.fromstring(sim.post("/voice/incoming", base))
    for digits in keys:
        root = ET.fromstring(sim.post(root.find("Gather").get("action"), dict(base, Digits=digits)))
    dial = root.find("Dial")
    assert dial is not None, ET.tostring(root)
    leg = {
        "CallSid": f"{sid}-leg",
        "ParentCallSid": sid,
        "From": base["To"],
        "To": next(iter(dial)).text,
        "CallStatus": "in-progress",
    }
    whisper = ET.fromstring(sim.post(next(iter(dial)).get("url"), leg))
    assert ET.fromstring(sim.post(whisper.find("Gather").get("action"), dict(leg, Digits="1"))).find("Hangup") is None
    return dial.get("action"), base


def test_the_end_of_calls_heard_during_an_outage_closes_their_rows_and_frees_their_advisors(
    private_postgres, settings_overrides, redis_client, clock, telephony, tmp_path
):
    """Issue #13 item 5: three callers talking with three advisors when the database stops; their
    Dial results and final statuses arrive during the outage. Once it is back, one replay of the
    spool and one reconcile pass: every row closed with the right outcome, every advisor free."""
    from casestore.models import Advisor
    from ivr import spool, staffing
    from routing.presence import Presence
    from twilio_doubles.simulator import CallSimulator
    from webhooks import create_app
    from webhooks.voice import replay_spool_in_background, spool_path
    from workers.dispatcher import reconcile_options

    engine = make_engine(private_postgres.url)
    upgrade(engine)
    with Session(engine) as s:
        build_world(s, PIN_PEPPER)
        s.commit()
        advisors = list(s.scalars(select(Advisor.id)))
    app = create_app(
        dict(settings_overrides, database_url=private_postgres.url, instance_path=tmp_path / "inst"),
        engine=engine,
        sessions=make_session_factory(engine),
        redis_client=redis_client,
        clock=clock,
        telephony=telephony,
    )
    svc = app.extensions["supportline"]
    for pk in advisors:
        Presence(redis_client).set_state(pk, "available", clock())
    sim = CallSimulator(app.test_client(), base_url=BASE_URL, auth_token=AUTH_TOKEN)
    new_issue = ["4821", "0", "0", "3"]  # 0, area not sure, not urgent (ivr.flow.area)
    calls = [("CAtalk1", ["4821", "240117"]), ("CAtalk2", new_issue), ("CAtalk3", new_issue)]
    dials = {sid: _put_through(sim, sid, keys) for sid, keys in calls}
    assert {Presence(redis_client).get(pk, clock()).state for pk in advisors} == {"on_call"}

    clock.advance(seconds=180)
    private_postgres.crash()
    for action, base in dials.values():
        body = sim.post(action, dict(base, DialCallStatus="completed", DialCallDuration="180"))
        assert "trouble with our phone system" in body
        sim.post("/voice/status", dict(base, CallStatus="completed", CallDuration="200"))
    ended_at = clock()
    spooled = spool_path(svc).read_text()
    assert spool.pending(spool_path(svc)) == 6 and World.DANA_PHONE not in spooled and "0134" in spooled

    private_postgres.start()
    svc.breakers.reset()
    clock.advance(seconds=30)
    thread = replay_spool_in_background(svc)  # what the worker's timer, or the next webhook, does
    if thread is not None:
        thread.join(timeout=20)
    with Session(engine) as s:  # the dispatcher's reconcile pass
        staffing.reconcile(
            s, svc.presence, redis_client, clock(), svc.settings.wrap_up_seconds, **reconcile_options(svc)
        )
        s.commit()
    clock.advance(seconds=svc.settings.wrap_up_seconds)  # the wrap-up after the talk
    with Session(engine) as s:
        rows = {r.call_sid: r for r in s.scalars(select(CallLog))}
    open_rows = [sid for sid in dials if rows[sid].ended_at is None]
    stranded = [pk for pk in advisors if Presence(redis_client).get(pk, clock()).state == "on_call"]
    print(
        f"after the outage: {len(open_rows)} of {len(dials)} rows open, {len(stranded)} of {len(advisors)} "
        f"advisors stranded"
    )
    assert open_rows == [] and stranded == []
    for sid in dials:
        row = rows[sid]
        assert (row.outcome, row.talk_seconds, row.duration_seconds, row.status) == ("connected", 180, 200, "completed")
        assert row.ended_at == ended_at and row.advisor_id in advisors
    assert {Presence(redis_client).get(pk, clock()).state for pk in advisors} == {"available"}
    engine.dispose()
