"""Scale-out: two separate web processes (gunicorn with gunicorn.conf.py, as deployed) and one
`supportline worker`, sharing one PostgreSQL database and one Redis, with a call's webhooks
alternating between the two web processes as a load balancer would send them.

Everything is set up the way an operator would: `supportline db upgrade`, `supportline load` of a
small routing-table file, `supportline presence set available --all`, all in production mode (real
secrets, signatures checked) with one PUBLIC_BASE_URL for both processes, since Twilio signs the
public address. Every request is signed with twilio's RequestValidator against that address.

What must hold across processes: verification by PIN; a lockout after three wrong PINs in three
different calls, seen by the other process; one advisor and two callers pressing 0 at the same
instant on different processes (only one gets the Dial); the other caller waits in the line and is
put through on a hold round once the advisor is free (no Twilio REST client here, so no
redirect); an outage incident opened on one process and joined on the other; and /readyz on both
seeing the worker's heartbeat.

Runs only with PostgreSQL (TEST_DATABASE_URL) and a real Redis (TEST_REDIS_URL), on a database of
its own (`<name>_scaleout`, created and dropped here). It flushes the TEST_REDIS_URL database.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib
import requests
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from twilio.request_validator import RequestValidator

from tests.conftest import AUTH_TOKEN, BASE_URL, PIN_PEPPER, TEST_DATABASE_URL, TEST_REDIS_URL

pytestmark = pytest.mark.skipif(
    not (TEST_DATABASE_URL.startswith("postgresql") and TEST_REDIS_URL),
    reason="needs PostgreSQL and a real Redis (TEST_DATABASE_URL, TEST_REDIS_URL), as in CI's second pass",
)

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OVERFLOW = "+16125550100"
OUTAGE_LINE = "+16125550199"
ADVISOR = "+16125550101"
DANA, DANA_PIN = "+16125550134", "4821"
MARCUS = "+16125550181"
JENNIFER, JENNIFER_PIN = "+19525550112", "0931"
FAULT = "trouble with our phone system"

ROUTING = """\
version: 1
teams:
  - {name: Campus Support, kind: campus, route_order: 10}
districts:
  - {name: Lakeview Public Schools, state: MN, hosted: true, team: Campus Support}
contacts:
  - {contact_id: "104233", district: Lakeview Public Schools, name: Dana Whitfield, phones: ["(612) 555-0134"], pin: "4821"}
  - {contact_id: "583324", district: Lakeview Public Schools, name: Marcus Bell, phones: ["+1 612-555-0181"], pin: "1876"}
  - {contact_id: "830633", district: Lakeview Public Schools, name: Jennifer Okafor, phones: ["+19525550112"], pin: "0931"}
advisors:
  - name: Priya Raman
    reach: "(612) 555-0101"
    team: Campus Support
    skills: [grade_book, scheduling, attendance, online_registration, point_of_sale, state_reporting]
hours:          # open around the clock (but the last second of the day), whenever the test runs
  mon: ["00:00-23:59:59"]
  tue: ["00:00-23:59:59"]
  wed: ["00:00-23:59:59"]
  thu: ["00:00-23:59:59"]
  fri: ["00:00-23:59:59"]
  sat: ["00:00-23:59:59"]
  sun: ["00:00-23:59:59"]
holidays:
  observe: []
"""  # noqa: E501  (the contacts are one line each, as an admin writes them)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _not_at_midnight() -> None:
    """The desk above closes for the last second of each Chicago day: do not start right on it."""
    now = datetime.now(ZoneInfo("America/Chicago"))
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    if (midnight - now).total_seconds() < 30:
        time.sleep((midnight - now).total_seconds() + 1)


@pytest.fixture
def scaleout_db():
    url = make_url(TEST_DATABASE_URL)
    name = f"{url.database}_scaleout"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def shared_redis():
    client = redis_lib.Redis.from_url(TEST_REDIS_URL, decode_responses=True)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


class Processes:
    """The processes this test started (and only those), stopped by their own pid at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: list[tuple[str, subprocess.Popen, Path]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:  # the child keeps its own descriptor
            proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.running.append((name, proc, log))
        return proc

    def log(self, name: str) -> str:
        return next(p.read_text(errors="replace") for n, _, p in self.running if n == name)

    def stop(self, name: str) -> int:
        for n, proc, _ in self.running:
            if n == name and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    return proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    return proc.wait(timeout=5)
        return 0

    def stop_all(self) -> None:
        for name, _proc, _ in self.running:
            self.stop(name)


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "supportline"), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"supportline {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


class Balancer:
    """Round-robin over the two web processes, signing each request for the shared public URL."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.http = [requests.Session() for _ in ports]
        self.turn = itertools.count()
        self.served = [0] * len(ports)
        self.validator = RequestValidator(AUTH_TOKEN)

    def post(self, path: str, params: dict[str, str], via: int | None = None) -> ET.Element:
        i = next(self.turn) % len(self.ports) if via is None else via
        signature = self.validator.compute_signature(BASE_URL + path, params)
        res = self.http[i].post(
            f"http://127.0.0.1:{self.ports[i]}{path}",
            data=params,
            headers={"X-Twilio-Signature": signature},
            timeout=15,
        )
        assert res.status_code == 200, (path, res.status_code, res.text[:300])
        root = ET.fromstring(res.text)
        assert FAULT not in said(root), (path, res.text)  # never the fault fallback
        self.served[i] += 1
        return root

    def get(self, i: int, path: str) -> requests.Response:
        return self.http[i].get(f"http://127.0.0.1:{self.ports[i]}{path}", timeout=5)


def said(root: ET.Element) -> str:
    return " ".join((e.text or "").strip() for e in root.iter("Say"))


class Call:
    def __init__(self, lb: Balancer, phone: str) -> None:
        self.lb = lb
        self.sid = "CA" + uuid.uuid4().hex
        self.base = {
            "CallSid": self.sid,
            "AccountSid": "AC" + "0" * 32,
            "From": phone,
            "To": "+18005550100",
            "Direction": "inbound",
            "CallStatus": "in-progress",
        }

    def post(self, path: str, via: int | None = None, **extra: str) -> ET.Element:
        return self.lb.post(path, dict(self.base, **extra), via=via)

    def leg(self, path: str, via: int | None = None, **extra: str) -> ET.Element:
        """A request on the advisor's leg of this call (whisper, accept)."""
        params = dict(self.base, CallSid=self.sid + "-leg", ParentCallSid=self.sid, **extra)
        return self.lb.post(path, params, via=via)

    def hang_up(self, via: int | None = None) -> None:
        self.post("/voice/status", via, CallStatus="completed", CallDuration="60")


def verify(lb: Balancer, phone: str, pin: str, via: tuple[int, int]) -> tuple[Call, ET.Element]:
    """Greeting on one process, the PIN on the other: the caller reaches the main menu."""
    call = Call(lb, phone)
    root = call.post("/voice/incoming", via[0], CallStatus="ringing")
    assert "enter your PIN" in said(root), said(root)
    root = call.post(root.find("Gather").get("action"), via[1], Digits=pin)
    assert "Thank you," in said(root) and "press 8" in said(root), said(root)
    return call, root


def talk_and_hang_up(lb: Balancer, call: Call, root: ET.Element, via: int) -> None:
    """The advisor answers and accepts (on both processes in turn), they talk, both hang up."""
    number = root.find("Dial").find("Number")
    whisper = call.leg(number.get("url"), via)
    assert "Press 1 to accept" in said(whisper)
    call.leg(whisper.find("Gather").get("action"), 1 - via, Digits="1")
    done = call.post(root.find("Dial").get("action"), via, DialCallStatus="completed", DialCallDuration="120")
    assert done.find("Hangup") is not None
    call.hang_up(1 - via)


def spoken_case(text_: str) -> str:
    match = re.search(r"case ((?:\d ?)+)", text_)
    assert match, text_
    return match.group(1).replace(" ", "")


def test_two_web_processes_share_one_call_flow(scaleout_db, shared_redis, tmp_path):
    started = time.monotonic()
    _not_at_midnight()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "LANG": "C.UTF-8",
        "USER": "scaleout-test",
        "DATABASE_URL": scaleout_db,
        "REDIS_URL": TEST_REDIS_URL,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "SECRET_KEY": "test-secret-key-0123456789abcdef",
        "PIN_PEPPER": PIN_PEPPER,
        "PUBLIC_BASE_URL": BASE_URL,  # one public address for both: what Twilio signs
        "OVERFLOW_NUMBER": OVERFLOW,
        "WRAP_UP_SECONDS": "0",
        "SUPPORTLINE_INSTANCE": str(tmp_path / "instance"),
        "WEB_CONCURRENCY": "1",
        "SUPPORTLINE_THREADS": "4",
        # The fallback URL's outage offer, with one hosted-contacts file for every process on this host.
        "FALLBACK_OUTAGE_LINE": OUTAGE_LINE,
        "FALLBACK_CONTACTS_FILE": str(tmp_path / "shared" / "fallback_contacts.json"),
    }
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING, encoding="utf-8")
    _cli(env, "db", "upgrade")
    assert "created" in _cli(env, "load", str(routing))
    assert "1 advisor(s) available" in _cli(env, "presence", "set", "available", "--all")

    procs = Processes(tmp_path)
    ports = [_free_port(), _free_port()]
    try:
        for i, port in enumerate(ports):
            procs.start(
                f"web-{'ab'[i]}",
                [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "webhooks:create_app()"],
                dict(
                    env,
                    SUPPORTLINE_BIND=f"127.0.0.1:{port}",
                    SUPPORTLINE_INSTANCE=str(tmp_path / f"instance-{'ab'[i]}"),
                ),
            )
        procs.start(
            "worker", [str(BIN / "supportline"), "worker"], dict(env, SUPPORTLINE_INSTANCE=str(tmp_path / "instance-w"))
        )
        lb = Balancer(ports)
        deadline = time.monotonic() + 30
        for i in range(2):
            while True:
                try:
                    if lb.get(i, "/readyz?strict=1").status_code == 200:
                        break  # database, migrations, Redis, and the worker's heartbeat
                except (requests.ConnectionError, requests.Timeout):
                    pass  # not listening yet, or its first answer is slow (a loaded machine): ask again
                assert time.monotonic() < deadline, procs.log(f"web-{'ab'[i]}") + procs.log("worker")
                time.sleep(0.1)
        ready_at = time.monotonic() - started

        # 1. Verification: the greeting on one process, the PIN on the other.
        dana, dana_menu = verify(lb, DANA, DANA_PIN, via=(0, 1))
        assert "Thank you, Dana" in said(dana_menu)

        # 2. Lockout: three wrong PINs in three calls, each on alternating processes...
        for attempt, via in enumerate([0, 1, 0]):
            call = Call(lb, MARCUS)
            root = call.post("/voice/incoming", 1 - via, CallStatus="ringing")
            assert "enter your PIN" in said(root)
            root = call.post(root.find("Gather").get("action"), via, Digits="1111")
            assert ("entry has been paused" in said(root)) == (attempt == 2), said(root)
            call.hang_up()
        # ... and a new call from that number is refused at once by the other process.
        call = Call(lb, MARCUS)
        root = call.post("/voice/incoming", 1, CallStatus="ringing")
        assert "entry has been paused" in said(root) and root.find("Gather") is None
        call.hang_up()

        # 3. Reservation: two callers press 0 at the same instant, on different processes; one advisor.
        jennifer, jennifer_menu = verify(lb, JENNIFER, JENNIFER_PIN, via=(1, 0))
        gate = threading.Barrier(2)
        answers: dict[str, ET.Element] = {}

        def press_0(call: Call, menu: ET.Element, via: int) -> None:
            # 0, then the new issue's area (not sure); the race is on its urgency answer (not urgent).
            for digits in ("0", "0"):
                menu = call.post(menu.find("Gather").get("action"), via, Digits=digits)
            gate.wait()
            answers[call.sid] = call.post(menu.find("Gather").get("action"), via, Digits="3")

        racers = [
            threading.Thread(target=press_0, args=(dana, dana_menu, 0)),
            threading.Thread(target=press_0, args=(jennifer, jennifer_menu, 1)),
        ]
        for t in racers:
            t.start()
        for t in racers:
            t.join(timeout=20)
        dialled = [c for c in (dana, jennifer) if answers[c.sid].find("Dial") is not None]
        assert len(dialled) == 1, {c.sid: ET.tostring(answers[c.sid], encoding="unicode") for c in (dana, jennifer)}
        winner = dialled[0]
        waiter = jennifer if winner is dana else dana
        assert answers[winner.sid].find("Dial").find("Number").text == ADVISOR
        hold = answers[waiter.sid]
        assert "You are number 1 in line" in said(hold) and hold.find("Redirect") is not None

        # 4. The line: while the advisor talks, the waiter's hold round (other process) holds on...
        winner_via = 0 if winner is dana else 1
        hold = waiter.post(hold.find("Redirect").text, winner_via)
        assert hold.find("Dial") is None and "in line" in said(hold)
        talk_and_hang_up(lb, winner, answers[winner.sid], winner_via)
        # ... and once they are free, the next hold round (on either process) puts the waiter through.
        root = waiter.post(hold.find("Redirect").text, 1 - winner_via)
        assert root.find("Dial") is not None and root.find("Dial").find("Number").text == ADVISOR, said(root)
        talk_and_hang_up(lb, waiter, root, 1 - winner_via)

        # 5. Outage: opened from one process, joined from the other: one incident, one case.
        first, menu = verify(lb, DANA, DANA_PIN, via=(0, 0))
        opened = first.post(menu.find("Gather").get("action"), 0, Digits="8")
        assert "We have opened outage case" in said(opened), said(opened)
        second, menu = verify(lb, JENNIFER, JENNIFER_PIN, via=(1, 1))
        joined = second.post(menu.find("Gather").get("action"), 1, Digits="8")
        assert "already being handled on case" in said(joined), said(joined)
        assert spoken_case(said(opened)) == spoken_case(said(joined))
        first.hang_up(1)
        second.hang_up(0)

        # 6. The fallback URL, on either process: the worker wrote the hosted-contacts file at its start.
        contacts = Path(env["FALLBACK_CONTACTS_FILE"])
        deadline = time.monotonic() + 10
        while not contacts.exists():
            assert time.monotonic() < deadline, procs.log("worker")
            time.sleep(0.05)
        assert DANA.lstrip("+") not in contacts.read_text()
        for i in range(2):
            call = Call(lb, DANA)  # (not lb.post: this answer is the apology it refuses elsewhere)
            signature = lb.validator.compute_signature(BASE_URL + "/voice/fallback", call.base)
            res = lb.http[i].post(
                f"http://127.0.0.1:{ports[i]}/voice/fallback",
                data=call.base,
                headers={"X-Twilio-Signature": signature},
                timeout=5,
            )
            root = ET.fromstring(res.text)
            assert "press 8" in said(root.find("Gather")) and root.find("Dial").text == OVERFLOW
            offer = root.find("Gather").get("action")
            root = lb.post(offer, dict(call.base, Digits="8"), via=1 - i)
            assert root.find("Dial").text == OUTAGE_LINE
            assert lb.get(i, "/readyz").json()["fallback_contacts"].startswith("3 numbers, ")

        # Both processes served, and both see the worker; a stopped worker is missed by both.
        assert min(lb.served) >= 10, lb.served
        for i in range(2):
            body = lb.get(i, "/readyz?strict=1").json()
            assert body["status"] == "ready" and body["workers"].startswith("1 seen"), body
        assert procs.stop("worker") == 0, procs.log("worker")
        for i in range(2):
            res = lb.get(i, "/readyz?strict=1")
            assert res.status_code == 503 and res.json()["checks"]["workers"] == "none seen in 30 s"
            assert lb.get(i, "/readyz").status_code == 200  # the web tier itself stays in service
        for name in ("web-a", "web-b"):
            assert "webhook fault" not in procs.log(name), procs.log(name)
            # Two masters on one host: each has its own control socket (gunicorn.conf.py).
            assert "Control server error" not in procs.log(name), procs.log(name)
    finally:
        procs.stop_all()

    from casestore.models import Case, Incident

    engine = create_engine(scaleout_db)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Incident)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(Case).where(Case.is_outage.is_(True))).scalar_one() == 1
    engine.dispose()
    elapsed = time.monotonic() - started
    print(f"scale-out: processes ready after {ready_at:.1f} s, whole test {elapsed:.1f} s, served {lb.served}")
