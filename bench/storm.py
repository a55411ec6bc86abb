#!/usr/bin/env python
"""Outage storm: 1,000 calls arriving within 60 s on 50 advisors, through the real waiting line.

What it measures. Every caller is the demo contact (PIN, then 0: "next available advisor"), so
nearly everyone lands in the one general line at once. The script runs the service as it runs in
production: `gunicorn --workers 2` on PostgreSQL and Redis, the `supportline dispatcher` loop as
its own process, and the carrier's REST API played by `tests/fake_twilio.py` (the service's
`TwilioTelephony` points at it through TWILIO_API_BASE). Each call is one thread that behaves as
Twilio and the caller would together: it posts signed webhooks and follows their TwiML; on a hold
answer it waits (on an event, real time) for the hold round to end (the Pause, 30 s) and posts the
Redirect, unless the dispatcher redirects the call first (REST update to /voice/connect), which it
follows at once; once put through it accepts the whisper as the advisor, talks for `--talk`
seconds (+/-50 %), then posts the Dial result and the status callback. A small share of callers
give up after a while in line: some press 1 then 2 (callback request), some hang up.

It prints:
  * errors (target 0): non-200 answers, transport errors, the service's fault fallback TwiML, and
    TwiML the caller did not expect at that point;
  * double bookings (target 0): an advisor put through to a call while the bench still has them
    talking on another (the bench frees an advisor before it posts the Dial result);
  * webhook latency, p50/p90/p99/max overall and p50/p99/max by step;
  * the wait distribution the line produced: per caller put through, seconds from joining the line
    (the first hold answer) to being put through (the Dial answer); p50/p90/p99/max and a
    histogram (answered without waiting, < 15 s, 15-30, 30-60, 60-120, > 120 s); how many callers
    left with a callback request and how many hung up; whether the line was first come, first
    served; the expected wait the first hold prompt announced against the wait that followed;
  * redirects the carrier accepted for a caller who was not waiting (being put through, talking,
    gone): not followed, counted, and shown with what the advisor they name was doing;
  * latency by the length of the line when the request was sent (hold webhooks read the line);
  * the service's side: its call log for these calls (does it agree with the callers?), the line,
    offers and advisors' presence once every call ended, and what the service and dispatcher
    logged (faults, tracebacks, warnings).

Operations (issue #8):
  * `--processes N` runs N gunicorn services on ports PORT..PORT+N-1 against the same database and
    Redis, behind one PUBLIC_BASE_URL (http://127.0.0.1:PORT, "the load balancer"): the client sends
    each request, carrier redirects included, to the next process in turn (round-robin).
  * `--restart-redis-at S` runs the storm on a private `redis-server` (a free port, no persistence;
    never the shared 6379; `--private-redis` does that without a restart), and S seconds into the
    storm kills it (SIGKILL) and starts it again, empty, `--redis-downtime` seconds later. The
    services, the dispatcher and a `supportline worker` (always started: it replays the call-log
    records spooled while the database was down) all use it.
  * It then also prints: errors split into hard errors (non-200, transport), fallback TwiML and
    unexpected TwiML, and the faults the service logged by step; call-log rows lost (calls placed
    with no row once the worker had time to replay the spool; target 0); callers sent back to the
    greeting (their state was lost) and callers dropped (the call ended on an error); double
    bookings before, during and after the outage; p99 webhook latency overall and in the window
    around the restart. An advisor the bench has talking answers a second Dial busy, as a phone
    on a call does (the Dial still counts as a double booking). A caller sent back to the greeting
    goes through it again (PIN, 0), unless their conversation was over: then they hang up.

How to run (PostgreSQL at 127.0.0.1:5432, user postgres, trust auth; Redis at 127.0.0.1:6379):

    . .venv/bin/activate
    python bench/storm.py                        # 1000 calls in 60 s, 50 advisors: about 8 minutes
    python bench/storm.py --calls 200 --arrival-seconds 20 --advisors 20 --talk 8   # a short one
    python bench/storm.py --skip-setup --json /tmp/storm.json
    python bench/storm.py --processes 2 --restart-redis-at 30   # two services, Redis killed at 30 s

Setup (skipped with --skip-setup, except the advisors' sign-in): drops and recreates its own
database `supportline_storm`, runs `supportline db upgrade` and loads casestore/demo/demo.yaml, then
adds "Storm Advisor NNN" advisors (an interchange file) until `--advisors` are active, and signs
exactly those in (`supportline presence set available ...`). It always flushes Redis db 13 (only).
Secrets are random per setup and kept in $TMPDIR/supportline_storm/, with the logs of the service
(service.log; service-1.log, service-2.log ... with --processes), the dispatcher (dispatcher.log),
the worker (worker.log) and the private redis-server (redis.log); the services' instance folder
(the call-log spool file) is $TMPDIR/supportline_storm/instance. The service runs in development mode for
its clock only (SUPPORTLINE_CLOCK_START: a Tuesday 10:00 in Chicago, open hours), as bench/calls.py
does; its setup helpers, servers, signed transport and percentiles are reused from there.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

import redis
import yaml

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
for _path in (ROOT, BENCH_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import calls as base  # noqa: E402  (bench/calls.py: setup, servers, signed transport, figures)
from tests.fake_twilio import FakeTwilio, Posted  # noqa: E402

DB_NAME = "supportline_storm"
REDIS_DB = 13
STORM_DIR = Path(tempfile.gettempdir()) / "supportline_storm"
DEMO_CONTACT_ID = "104233"  # Dana Whitfield: her number and PIN are read from the demo file
STORM_ADVISOR = "Storm Advisor {:03d}"
STORM_TEAM = "Campus Support"

HOLD_SECONDS = 30.0  # a hold round when the TwiML has no Pause to go by
CALLBACK_PATIENCE = (60.0, 240.0)  # seconds in line before pressing 1, 2 (uniform)
HANGUP_PATIENCE = (20.0, 180.0)  # seconds in line before hanging up (uniform)
CHOOSE_SECONDS = 4.0  # listening to "1 for a message, 2 for a call back" before pressing 2
WAIT_BUCKETS = ((15.0, "< 15 s"), (30.0, "15-30 s"), (60.0, "30-60 s"), (120.0, "60-120 s"),
                (math.inf, "> 120 s"))
NO_WAIT = "answered without waiting"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
              "TWILIO_EDGE", "TWILIO_REGION")

MAX_RESTARTS = 3  # times a caller goes back through the greeting; the next time they hang up
DROPPED = ("error", "unexpected", "greeting loop")  # outcomes of calls that ended on a failure
AFTER_TALKING = "sent back to the greeting after talking"  # a CallRecord note: the caller hung up
RESTART_WINDOW = (5.0, 15.0)  # the latency window: from 5 s before the kill to 15 s after Redis is back
BREAKER_COOLDOWN = 5.0  # casestore.redisguard.COOLDOWN_SECONDS: degraded mode outlasts the outage this long
_FAULT = re.compile(r"webhook fault step=([\w-]+)")
_REPLAYED = re.compile(r"replayed (\d+) call-log record")

LINE_KEY = "{sl:queue}:line"
OFFER_KEYS = "{sl:queue}:offer:*"
PRESENCE_KEY = "{{sl:presence}}:advisor:{}"
PRESENCE_REGISTRY = "{sl:presence}:advisors"  # advisors with a presence record (routing.presence)

# What the caller's outcome should be in the service's call log.
SERVICE_OUTCOME = {"connected": "connected", "callback": "callback_requested", "hung up": "abandoned",
                   "message": "message_recorded"}

BenchError = base.BenchError


# =========================================================================== setup


def use_storm_database(redis_port: int = 6379) -> None:
    """Point bench/calls.py's setup helpers at the storm's own database, Redis db and secrets."""
    base.DB_NAME = DB_NAME
    base.DATABASE_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
    base.REDIS_URL = f"redis://127.0.0.1:{redis_port}/{REDIS_DB}"
    base.SECRETS_FILE = STORM_DIR / "secrets.json"


def storm_env(port: int, secret: dict[str, str], fake_base: str, wrap_up: float) -> dict[str, str]:
    """calls.py's environment (database, Redis, secrets, public URL, clock) plus the REST client
    pointed at the fake carrier, a short wrap-up and the storm's own instance folder (where the
    call-log spool file goes). `port` makes PUBLIC_BASE_URL: with --processes, every process gets
    the first one's, as they would all sit behind one load balancer."""
    env = base.child_env(port, secret)
    for var in PROXY_VARS:  # the REST client must reach 127.0.0.1 directly
        env.pop(var, None)
    env.update(TWILIO_ACCOUNT_SID=base.ACCOUNT_SID, TWILIO_API_BASE=fake_base,
               WRAP_UP_SECONDS=f"{wrap_up:g}", SUPPORTLINE_INSTANCE=str(STORM_DIR / "instance"))
    return env


@dataclass(frozen=True)
class AdvisorRow:
    pk: int
    name: str
    reach: str


def active_advisors() -> list[AdvisorRow]:
    from sqlalchemy import select

    from casestore.db import make_engine
    from casestore.models import Advisor

    engine = make_engine(base.DATABASE_URL)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Advisor.id, Advisor.name, Advisor.reach)
                                .where(Advisor.active.is_(True)).order_by(Advisor.id)).all()
    finally:
        engine.dispose()
    return [AdvisorRow(int(pk), name, reach) for pk, name, reach in rows]


def load_storm_advisors(env: dict[str, str], count: int) -> None:
    """"Storm Advisor 001".."NNN" through `supportline load` (upserts by name: idempotent)."""
    doc = {"version": 1, "advisors": [
        {"name": STORM_ADVISOR.format(i), "reach": f"+1612556{i:04d}", "team": STORM_TEAM,
         "skills": ["grade_book"], "active": True}
        for i in range(1, count + 1)]}
    path = STORM_DIR / "advisors.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    res = base.run_cli(["load", str(path)], env)
    if res.returncode != 0:
        raise BenchError(f"`supportline load {path}` failed:\n" + base._tail(res.stderr + res.stdout))


def staff_advisors(env: dict[str, str], wanted: int) -> dict[int, str]:
    """At least `wanted` active advisors (the demo's, then storm advisors); the first `wanted` by
    id signed in, any others signed out. Returns {pk: reach} of the advisors signed in."""
    rows = active_advisors()
    if len(rows) < wanted:
        demo = sum(1 for r in rows if not r.name.startswith(STORM_ADVISOR.split("{")[0]))
        load_storm_advisors(env, wanted - demo)
        rows = active_advisors()
    if len(rows) < wanted:
        raise BenchError(f"only {len(rows)} active advisors after loading storm advisors")
    on, off = rows[:wanted], rows[wanted:]
    for state, group in (("available", on), ("offline", off)):
        if group:
            res = base.run_cli(["presence", "set", state, *(str(r.pk) for r in group)], env)
            if res.returncode != 0:
                raise BenchError(f"`supportline presence set {state}` failed:\n"
                                 + base._tail(res.stderr + res.stdout))
    return {r.pk: r.reach for r in on}


def demo_caller() -> tuple[str, str]:
    """(E.164 number, PIN) of the demo contact every storm caller is."""
    from casestore.phones import caller_e164

    doc = yaml.safe_load(base.DEMO_FILE.read_text(encoding="utf-8"))
    contact = next((c for c in doc["contacts"] if str(c["contact_id"]) == DEMO_CONTACT_ID), None)
    number = caller_e164(str(contact["phones"][0])) if contact and contact.get("phones") else None
    if not number:
        raise BenchError(f"{base.DEMO_FILE}: no contact {DEMO_CONTACT_ID} with a phone number")
    return number, str(contact["pin"])


# =========================================================================== processes


class CliProcess:
    """A `supportline ...` command as a child process (its own session), stopped with SIGTERM."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.args, self.env, self.log = name, args, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = [str(base.VENV_BIN / "supportline"), *self.args]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, cwd=ROOT, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(f"the {self.name} exited with status {self.proc.returncode}:\n"
                             + base._tail(self.log.read_text(errors="replace")))

    def stop(self) -> None:
        base.terminate(self.proc)


class DispatcherProcess(CliProcess):
    """`supportline dispatcher --interval S`: serves the line, reconciles presence every 30 s."""

    def __init__(self, env: dict[str, str], interval: float, log: Path) -> None:
        super().__init__("dispatcher", ["dispatcher", "--interval", f"{interval:g}"], env, log)


class WorkerProcess(CliProcess):
    """`supportline worker`: RQ jobs, and every 30 s the sweeps, among them the replay of the
    call-log records spooled while the database was down (webhooks/worker.py)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        super().__init__("worker", ["worker"], env, log)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A private `redis-server` on a free port of 127.0.0.1, without persistence, so that a
    restart starts empty (as a crashed Redis without AOF/RDB does). Never the shared 6379."""

    def __init__(self, log: Path) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise BenchError("redis-server not found on PATH (needed by --restart-redis-at / --private-redis)")
        self.exe, self.log, self.port = exe, log, free_port()
        self.proc: subprocess.Popen | None = None
        self.pids: list[int] = []

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 15.0) -> None:
        workdir = self.log.parent / "redis-data"
        workdir.mkdir(parents=True, exist_ok=True)
        cmd = [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(workdir), "--daemonize", "no"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self.pids.append(self.proc.pid)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.proc.poll() is not None:
                    raise BenchError(f"redis-server exited with status {self.proc.returncode}:\n"
                                     + base._tail(self.log.read_text(errors="replace")))
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    pass
                if time.monotonic() >= deadline:
                    raise BenchError(f"redis-server not answering on port {self.port} (log: {self.log})")
                time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no save; clients see their connections reset."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        base.terminate(self.proc)


@dataclass
class Outage:
    """The Redis restart: planned at `at` seconds into the storm; what happened, on the storm clock."""

    at: float
    downtime: float
    port: int
    killed: float | None = None
    back: float | None = None  # the new, empty server answered PING
    presence_back: float | None = None  # every signed-in advisor has a presence record again


def restart_redis(server: RedisServer, outage: Outage, board: Board, advisors: int) -> None:
    """At `outage.at`: SIGKILL the private Redis, wait `outage.downtime`, start it again (empty);
    then watch for the service to restore the advisors' presence (no record reads as offline)."""
    if board.finished.wait(max(0.0, outage.at - board.now())):
        return  # the storm ended first
    server.kill()
    outage.killed = board.now()
    print(f"  t={outage.killed:5.1f}s  redis-server on port {server.port} killed (SIGKILL)", flush=True)
    time.sleep(outage.downtime)
    try:
        server.start()
    except BenchError as exc:
        print(f"  redis-server did not come back: {exc}", flush=True)
        return
    outage.back = board.now()
    print(f"  t={outage.back:5.1f}s  redis-server back, empty, on port {server.port}", flush=True)
    client = redis.Redis(host="127.0.0.1", port=server.port, db=REDIS_DB, socket_timeout=2.0)
    try:
        while not board.finished.wait(0.25):
            try:
                if client.scard(PRESENCE_REGISTRY) >= advisors:
                    outage.presence_back = board.now()
                    print(f"  t={outage.presence_back:5.1f}s  presence restored: {advisors} advisors have a "
                          f"record again", flush=True)
                    return
            except redis.RedisError:
                pass
    finally:
        client.close()


class ConnectionPool:
    """Keep-alive connections (calls.py's KeepAlive) shared by every caller thread: a request
    borrows an idle one or opens one, so there are as many connections as requests in flight,
    not one per waiting caller. Quacks like KeepAlive for calls.py's Transport. With several
    ports (--processes), each request goes to the next port in turn, as a round-robin load
    balancer in front of the processes would send it."""

    def __init__(self, ports: int | list[int]) -> None:
        self.ports = [ports] if isinstance(ports, int) else list(ports)
        self._idle: dict[int, list[base.KeepAlive]] = {port: [] for port in self.ports}
        self._all: list[base.KeepAlive] = []
        self._turn = itertools.count()
        self.sent: Counter[int] = Counter()  # requests per port
        self._lock = threading.Lock()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        with self._lock:
            port = self.ports[next(self._turn) % len(self.ports)]
            self.sent[port] += 1
            idle = self._idle[port]
            conn = idle.pop() if idle else None
            if conn is None:
                conn = base.KeepAlive(port)
                self._all.append(conn)
        try:
            return conn.post(path, body, headers)
        except BaseException:
            conn.close()  # a timed-out http.client connection cannot be reused
            raise
        finally:
            with self._lock:
                self._idle[port].append(conn)

    @property
    def opened(self) -> int:
        return len(self._all)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()


# =========================================================================== the callers


@dataclass(frozen=True)
class CallPlan:
    index: int
    arrive_at: float  # seconds after the storm starts
    talk: float  # seconds talking once put through
    leaves: str  # "" waits as long as it takes; "callback" presses 1 then 2; "hangup"
    patience: float  # seconds in line before leaving (inf when leaves == "")


def make_plans(calls: int, arrival_seconds: float, talk: float, callback_share: float,
               hangup_share: float, seed: int) -> list[CallPlan]:
    """Arrivals uniform over the window (a Poisson storm of that many calls), talk +/-50 %."""
    rng = random.Random(seed)
    arrivals = sorted(rng.uniform(0.0, arrival_seconds) for _ in range(calls))
    plans = []
    for i, at in enumerate(arrivals):
        talk_s = talk * rng.uniform(0.5, 1.5)
        roll = rng.random()
        if roll < callback_share:
            leaves, patience = "callback", rng.uniform(*CALLBACK_PATIENCE)
        elif roll < callback_share + hangup_share:
            leaves, patience = "hangup", rng.uniform(*HANGUP_PATIENCE)
        else:
            leaves, patience = "", math.inf
        plans.append(CallPlan(i, at, talk_s, leaves, patience))
    return plans


@dataclass
class CallRecord:
    """What happened to one call. Times are seconds on the storm's clock."""

    sid: str
    plan: CallPlan
    # connected | callback | hung up | message | error | unexpected | greeting loop |
    # still waiting at the cap | interrupted
    outcome: str = ""
    arrived: float | None = None
    joined: float | None = None  # the first hold answer: in the line
    put_through: float | None = None  # the Dial answer of the call that was then bridged
    left: float | None = None  # left the line (callback request or hang-up)
    ended: float | None = None
    hold_rounds: int = 0  # hold Redirects posted after a full round
    redirects: int = 0  # dispatcher redirects followed
    missed_dials: int = 0
    requests: int = 0
    errors: int = 0
    note: str = ""
    cut_off: str = ""  # why an "error" call ended: fallback, http, transport, twiml, bench
    restarts: int = 0  # times the service sent the call back to the greeting (its state was lost)
    restarted_at: list[float] = field(default_factory=list)
    busy_dials: int = 0  # Dials to an advisor the bench had talking: answered busy
    announced_position: int | None = None  # what the first hold prompt said
    announced_wait: float | None = None  # seconds ("less than a minute": 30); None: no estimate
    dials: list[str] = field(default_factory=list)  # "t=..s adv=N via <step>" per Dial answer
    strays: list[str] = field(default_factory=list)  # redirects not followed, with the evidence

    @property
    def waited(self) -> float | None:
        """Seconds from joining the line to being put through; 0 when never in line; None when
        not put through."""
        if self.put_through is None:
            return None
        return 0.0 if self.joined is None else max(0.0, self.put_through - self.joined)


class Board:
    """What the bench knows across calls: who holds which advisor (double bookings), how many
    callers are in each phase (progress, queue peak), and carrier redirects routed to their call."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.wall0 = time.time()  # the storm clock's zero on the wall clock
        self.callers: dict[str, Caller] = {}
        self.holding: dict[int, str] = {}  # advisor pk -> the call the bench has them talking to
        self.double_bookings: list[str] = []
        self.double_booking_at: list[float] = []
        self.phases: Counter[str] = Counter()
        self.stray: Counter[str] = Counter()  # redirects not followed, by the caller's phase
        self.peak_waiting, self.peak_at = 0, 0.0
        self.stop = threading.Event()  # Ctrl-C or the deadline: every caller hangs up
        self.finished = threading.Event()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def register(self, caller: Caller) -> None:
        with self.lock:
            self.callers[caller.sid] = caller

    def move(self, old: str, new: str) -> None:
        with self.lock:
            if old:
                self.phases[old] -= 1
            self.phases[new] += 1
            waiting = self.waiting_count()
            if waiting > self.peak_waiting:
                self.peak_waiting, self.peak_at = waiting, self.now()

    def waiting_count(self) -> int:
        return self.phases["waiting"] + self.phases["choosing"]

    def take_advisor(self, pk: int, sid: str) -> bool:
        """The advisor takes this call; False (a double booking) when the bench has them on
        another call, which they keep."""
        with self.lock:
            other = self.holding.get(pk)
            if other is not None and other != sid:
                at = self.now()
                self.double_bookings.append(
                    f"t={at:.1f}s advisor {pk} put through to {sid} while talking to {other}")
                self.double_booking_at.append(at)
                return False
            self.holding[pk] = sid
            return True

    def free_advisor(self, pk: int, sid: str) -> None:
        with self.lock:
            if self.holding.get(pk) == sid:
                del self.holding[pk]

    def note_stray(self, label: str, n: int = 1) -> None:
        if n:
            with self.lock:
                self.stray[label] += n

    def hear_update(self, update: Posted) -> None:
        """FakeTwilio's hook: a REST update of a call (on the fake's request thread)."""
        with self.lock:
            caller = self.callers.get(update.sid)
        url = update.get("Url")
        if caller is None or not url:
            self.note_stray("not a storm call, or not a redirect")
            return
        caller.redirected(url)


@dataclass
class Storm:
    """What every caller shares."""

    board: Board
    pool: ConnectionPool
    public: str
    token: str
    fallback: str
    fake: FakeTwilio
    roster: dict[int, str]  # signed-in advisor pk -> reach
    phone: str
    pin: str
    max_wait: float
    redis: object  # a client on the service's Redis db: evidence for stray redirects
    samples: list = field(default_factory=list)  # calls.Sample, appended by every thread
    errors: list[str] = field(default_factory=list)
    # What each error was: transport, http, twiml, fallback (calls.Transport), unexpected, roster,
    # bench; one entry per entry of `errors`.
    error_kinds: list[str] = field(default_factory=list)
    # step, ms, line length, sent at (storm clock), what went wrong (None: nothing)
    timeline: list[tuple[str, float, int, float, str | None]] = field(default_factory=list)


STRAY_LABEL = {"": "before the first webhook", "menus": "in the menus",
               "talking": "while being put through or talking", "leaving": "while leaving (callback)",
               "done": "after the caller hung up"}


def step_of(url: str | None) -> str:
    return urlsplit(url or "").path.rsplit("/", 1)[-1]


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def describe(root: ET.Element) -> str:
    """A short picture of a TwiML answer for error messages: verbs and where they lead."""
    out = []
    for verb in root:
        target = verb.get("action") or (verb.text or "").strip() if verb.tag in ("Gather", "Redirect") else ""
        out.append(f"{verb.tag}({step_of(target)})" if target else verb.tag)
    return " ".join(out) or "empty Response"


def restart_target(root: ET.Element) -> str | None:
    """The greeting's URL when the answer does nothing but send the call back to it (the service
    found no state for the call: lost with Redis), else None."""
    if root.find("Gather") is not None or root.find("Dial") is not None:
        return None
    redirect = root.find("Redirect")
    target = (redirect.text or "").strip() if redirect is not None else ""
    return target if step_of(target) == "incoming" else None


def is_hold(root: ET.Element) -> bool:
    gather = root.find("Gather")
    return (gather is not None and step_of(gather.get("action")) == "queue-menu"
            and root.find("Redirect") is not None)


_POSITION = re.compile(r"You are number (\d+) in line")
_EXPECTED = re.compile(r"expected wait is about (less than a minute|(\d+) minutes?)")


def announcement(gather: ET.Element) -> tuple[int | None, float | None]:
    """(position, expected wait in seconds) as the hold prompt says them."""
    text = " ".join(say.text or "" for say in gather.iter("Say"))
    position, expected = _POSITION.search(text), _EXPECTED.search(text)
    wait = None
    if expected:
        wait = 30.0 if expected.group(2) is None else 60.0 * int(expected.group(2))
    return (int(position.group(1)) if position else None), wait


def reach_of(endpoint: ET.Element) -> str:
    text = (endpoint.text or "").strip()
    return f"client:{text}" if endpoint.tag == "Client" else text


class Caller:
    """One call, on its own thread: the caller, and Twilio around them. Only this thread posts
    the call's webhooks, so they never overlap (as with Twilio); a redirect the carrier accepts
    while the caller is waiting is followed as soon as the current request has its answer."""

    FOLLOWS = frozenset({"waiting", "choosing"})  # phases in which a redirect takes the call

    def __init__(self, plan: CallPlan, storm: Storm) -> None:
        self.plan, self.storm, self.board = plan, storm, storm.board
        self.sid = "CA" + uuid.uuid4().hex
        self.record = CallRecord(self.sid, plan)
        self.base = {"CallSid": self.sid, "AccountSid": base.ACCOUNT_SID, "From": storm.phone,
                     "To": base.TO_NUMBER, "Direction": "inbound", "ApiVersion": "2010-04-01",
                     "CallStatus": "in-progress"}
        self.tx = base.Transport(storm.pool, storm.public, storm.token, storm.samples,
                                 storm.errors, storm.fallback)
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.pending: list[str] = []
        self.phase = ""
        self.holding: int | None = None
        self.legs = 0
        self.last_step = ""

    # -- the carrier side ---------------------------------------------------------------------

    def redirected(self, url: str) -> None:
        """The carrier accepted a redirect of this call (the fake's thread)."""
        with self.lock:
            if self.phase in self.FOLLOWS:
                self.pending.append(url)
                self.wake.set()
                return
            phase = self.phase
        self.stray(STRAY_LABEL.get(phase, phase), url)

    def stray(self, label: str, url: str) -> None:
        """A redirect the call does not follow: counted, and kept with what the advisor it
        names is doing (in the service's presence) at this moment."""
        adv = parse_qs(urlsplit(url).query).get("adv", ["?"])[0]
        try:
            state, sid = self.storm.redis.hmget(PRESENCE_KEY.format(adv), "state", "call_sid")
        except redis.RedisError:
            state, sid = "unknown (Redis unreachable)", None
        holds = "this call" if sid == self.sid else (sid or "-")
        self.record.strays.append(f"t={self.board.now():.2f}s redirect to advisor {adv} {label} "
                                  f"(advisor {adv}: {state} for {holds})")
        self.board.note_stray(label)

    def take_redirect(self) -> str | None:
        """The latest pending redirect (it supersedes any earlier one), or None."""
        with self.lock:
            urls, self.pending = self.pending, []
            self.wake.clear()
        for url in urls[:-1]:
            self.stray("superseded by a later redirect", url)
        return local(urls[-1]) if urls else None

    def drop_redirects(self, label: str) -> None:
        with self.lock:
            urls, self.pending = self.pending, []
            self.wake.clear()
        for url in urls:
            self.stray(label, url)

    def set_phase(self, phase: str) -> None:
        with self.lock:
            old, self.phase = self.phase, phase
        self.board.move(old, phase)

    # -- the call -----------------------------------------------------------------------------

    def run(self) -> None:
        self.record.arrived = self.board.now()
        self.set_phase("menus")
        self.storm.fake.inbound(self.sid)
        try:
            self.follow(self.arrive())
        except Exception as exc:  # a bench bug must show, not end the thread silently
            self.record.outcome, self.record.cut_off = "error", "bench"
            self.problem("bench", f"bench: {type(exc).__name__}: {exc}")
        finally:
            self.hang_up()

    def post(self, path: str, params: dict[str, str]) -> ET.Element | None:
        self.record.requests += 1
        self.last_step = step_of(path)
        line = self.board.waiting_count()
        sent = self.board.now()
        root = self.tx.post(local(path), params)  # appends its own problem to storm.errors
        kind = self.tx.last_kind
        self.storm.timeline.append((step_of(path), self.tx.last_ms, line, sent, kind))
        if root is None:
            self.record.errors += 1
            self.storm.error_kinds.append(kind or "?")
        return root

    def problem(self, kind: str, text: str) -> None:
        self.storm.error_kinds.append(kind)
        self.storm.errors.append(text)

    def unexpected(self, root: ET.Element | None, why: str) -> None:
        self.record.outcome = "unexpected"
        self.record.errors += 1
        self.problem("unexpected", f"{why}: got {describe(root) if root is not None else 'nothing'}")
        return None

    def arrive(self) -> ET.Element | None:
        root = self.post("/voice/incoming", dict(self.base, CallStatus="ringing"))
        root = self.key_in(root, "pin", self.storm.pin)
        return self.key_in(root, "menu", "0")  # 0: the next available advisor

    def key_in(self, root: ET.Element | None, step: str, digits: str) -> ET.Element | None:
        if root is None or restart_target(root) is not None:
            return root  # nothing, or back to the greeting (follow() goes there)
        gather = root.find("Gather")
        action = gather.get("action") if gather is not None else None
        if step_of(action) != step:
            return self.unexpected(root, f"expected the {step} prompt")
        return self.post(action, dict(self.base, Digits=digits))

    def follow(self, root: ET.Element | None) -> None:
        while root is not None:
            if root.find("Dial") is not None:
                root = self.put_through(root)
            elif is_hold(root):
                root = self.hold(root)
            elif (target := restart_target(root)) is not None:
                root = self.restart(target)
            elif root.find("Record") is not None:
                root = self.leave_message(root)
            elif root.find("Hangup") is not None:
                if not self.record.outcome:
                    self.unexpected(root, "the line hung up")
                return
            else:
                self.unexpected(root, "expected a Dial, a hold or a Hangup")
                return
        if not self.record.outcome:
            # Dropped: the last answer was an error (non-200, no answer, fallback TwiML).
            self.record.outcome, self.record.cut_off = "error", self.tx.last_kind or "?"

    def restart(self, target: str) -> ET.Element | None:
        """The service found no state for the call (lost with Redis) and sent it back to the
        greeting: Twilio follows the Redirect, and the caller goes through it again (PIN, 0)."""
        self.record.restarts += 1
        self.record.restarted_at.append(round(self.board.now(), 2))
        if self.record.restarts > MAX_RESTARTS:  # the caller gives up
            self.record.outcome, self.record.cut_off = "greeting loop", "greeting loop"
            self.record.errors += 1
            self.problem("greeting loop", f"sent back to the greeting more than {MAX_RESTARTS} times")
            return None
        self.set_phase("menus")
        self.drop_redirects("while sent back to the greeting")
        root = self.post(target, self.base)
        root = self.key_in(root, "pin", self.storm.pin)
        return self.key_in(root, "menu", "0")

    def leave_message(self, root: ET.Element) -> ET.Element | None:
        """No advisor could be reached and the service offers to record a message (degraded
        mode: advisors rung in order, no line): the caller leaves one."""
        record = root.find("Record")
        if self.record.joined is not None and self.record.left is None:
            self.record.left = self.board.now()
        self.set_phase("leaving")
        self.drop_redirects("while leaving a message")
        answer = self.post(record.get("action") or "", dict(
            self.base, RecordingUrl="https://api.twilio.com/recordings/RE-storm",
            RecordingDuration="15", RecordingSid="RE" + uuid.uuid4().hex))
        if answer is not None and answer.find("Hangup") is not None and answer.find("Dial") is None:
            self.record.outcome = "message"
        return answer

    def put_through(self, root: ET.Element) -> ET.Element | None:
        """The Dial: the advisor's leg hears the whisper and presses 1, they talk, then the Dial
        result (the advisor is freed on the bench's side first)."""
        dialled_at = self.board.now()
        self.set_phase("talking")
        self.drop_redirects("while being put through")
        dial = root.find("Dial")
        endpoint = dial[0] if len(dial) else None
        whisper = endpoint.get("url") if endpoint is not None else None
        if whisper is None:
            return self.unexpected(root, "a Dial that is not to an advisor")
        pk = int(parse_qs(urlsplit(whisper).query).get("adv", ["0"])[0])
        reach = reach_of(endpoint)
        if self.storm.roster.get(pk) != reach:
            self.problem("roster", f"dialled advisor {pk} at {reach}, not a signed-in advisor "
                                   f"(roster: {self.storm.roster.get(pk)})")
            self.record.errors += 1
        self.record.dials.append(f"t={dialled_at:.2f}s advisor {pk} via {self.last_step}")
        self.legs += 1
        leg_sid = f"{self.sid}-leg{self.legs}"
        if not self.board.take_advisor(pk, self.sid):
            # A double booking: the advisor is talking to another caller, so their phone answers
            # busy (no whisper), as a real one would; the service tries someone else.
            self.record.missed_dials += 1
            self.record.busy_dials += 1
            self.drop_redirects("while being put through")
            return self.post(dial.get("action") or "", dict(
                self.base, DialCallStatus="busy", DialCallSid=leg_sid, DialCallDuration="0"))
        self.holding = pk
        leg = {"CallSid": leg_sid, "ParentCallSid": self.sid, "AccountSid": base.ACCOUNT_SID,
               "From": base.TO_NUMBER, "To": reach, "CallStatus": "in-progress",
               "Direction": "outbound-api", "ApiVersion": "2010-04-01"}
        heard = self.post(whisper, leg)
        gather = heard.find("Gather") if heard is not None else None
        bridged = False
        if gather is not None:
            accepted = self.post(gather.get("action") or "", dict(leg, Digits="1"))
            bridged = accepted is not None and accepted.find("Hangup") is None
        talked = 0
        if bridged:
            if self.record.put_through is None:
                self.record.put_through = dialled_at
            talked = round(self.plan.talk)
            self.board.stop.wait(self.plan.talk)  # talking (cut short by Ctrl-C)
        else:
            self.record.missed_dials += 1
        self.board.free_advisor(pk, self.sid)  # before the line can give them to anyone else
        self.holding = None
        self.drop_redirects("while talking")
        result = self.post(dial.get("action") or "", dict(
            self.base, DialCallStatus="completed" if bridged else "no-answer",
            DialCallSid=leg_sid, DialCallDuration=str(talked)))
        if bridged and result is not None and result.find("Hangup") is not None:
            self.record.outcome = "connected"
        elif bridged and result is not None and restart_target(result) is not None:
            # The conversation is over and the service sends the caller back to the greeting
            # (their state was lost meanwhile): they got what they called for, so they hang up.
            self.record.restarts += 1
            self.record.restarted_at.append(round(self.board.now(), 2))
            self.record.outcome, self.record.note = "connected", AFTER_TALKING
            return None
        return result

    def hold(self, root: ET.Element) -> ET.Element | None:
        """In line: wait for the round to end (then post the Redirect) or for the dispatcher's
        redirect (post it at once); leave when patience or the bench's cap runs out."""
        now = self.board.now()
        gather, redirect = root.find("Gather"), root.find("Redirect")
        if self.record.joined is None:
            self.record.joined = now
            self.record.announced_position, self.record.announced_wait = announcement(gather)
        self.set_phase("waiting")
        pause = sum(float(p.get("length", "1")) for p in gather.iter("Pause")) or HOLD_SECONDS
        round_ends = now + pause
        give_up_at = self.record.joined + self.plan.patience
        cap_at = self.record.joined + self.storm.max_wait
        while True:
            url = self.take_redirect()
            if url is not None:
                self.record.redirects += 1
                return self.post(url, self.base)
            now = self.board.now()
            if self.board.stop.is_set():
                self.record.outcome = "interrupted"
                return None
            if now >= cap_at:
                self.record.outcome = "still waiting at the cap"
                return None
            if now >= give_up_at:
                return self.give_up(gather)
            if now >= round_ends:
                self.record.hold_rounds += 1
                return self.post((redirect.text or "").strip(), self.base)
            self.wake.wait(min(round_ends, give_up_at, cap_at) - now)

    def give_up(self, gather: ET.Element) -> ET.Element | None:
        self.record.left = self.board.now()
        if self.plan.leaves == "hangup":
            self.record.outcome = "hung up"
            return None
        self.set_phase("choosing")
        menu = self.post(gather.get("action") or "", dict(self.base, Digits="1"))
        if menu is not None and not self.board.stop.is_set():
            self.wake.wait(CHOOSE_SECONDS)  # the choices are read out; a redirect cuts them short
        url = self.take_redirect()
        if url is not None:  # an advisor came free while the choices were read out
            self.record.redirects += 1
            self.record.left, self.record.note = None, "put through while choosing"
            return self.post(url, self.base)
        if menu is None:
            return None
        choose = menu.find("Gather")
        if choose is None or step_of(choose.get("action")) != "queue-menu":
            return self.unexpected(menu, "expected the message/callback choice")
        self.set_phase("leaving")
        answer = self.post(choose.get("action") or "", dict(self.base, Digits="2"))
        if answer is not None and answer.find("Hangup") is not None:
            self.record.outcome = "callback"
        return answer

    def hang_up(self) -> None:
        """The call ends: the carrier refuses redirects from now on, then the status callback."""
        self.set_phase("done")
        if self.holding is not None:
            self.board.free_advisor(self.holding, self.sid)
        self.storm.fake.end_call(self.sid)
        self.drop_redirects("after the caller hung up")
        self.record.ended = self.board.now()
        duration = int(self.record.ended - (self.record.arrived or 0.0))
        self.post("/voice/status", dict(self.base, CallStatus="completed", CallDuration=str(duration)))


# =========================================================================== running the storm


def run_storm(storm: Storm, plans: list[CallPlan], deadline: float) -> list[CallRecord]:
    """Start each caller at its arrival time; wait for all (hang up whoever is left at the
    deadline)."""
    board = storm.board
    threads: list[threading.Thread] = []
    callers: list[Caller] = []
    try:
        for plan in plans:
            if board.stop.wait(max(0.0, plan.arrive_at - board.now())):
                break
            caller = Caller(plan, storm)
            board.register(caller)
            thread = threading.Thread(target=caller.run, name=f"call-{plan.index}", daemon=True)
            thread.start()
            callers.append(caller)
            threads.append(thread)
        for thread in threads:
            thread.join(max(0.0, deadline - board.now()))
    finally:
        if any(t.is_alive() for t in threads):  # deadline or Ctrl-C: everyone hangs up
            board.stop.set()
            for caller in callers:
                caller.wake.set()
            for thread in threads:
                thread.join(timeout=40)
        board.finished.set()
    return [c.record for c in callers]


def progress(storm: Storm, every: float, total: int) -> None:
    board = storm.board
    while not board.finished.wait(every):
        with board.lock:
            p = dict(board.phases)
            arrived = len(board.callers)
        print(f"  t={board.now():5.0f}s  arrived {arrived:>5}/{total}  in menus {p.get('menus', 0):>4}"
              f"  waiting {p.get('waiting', 0) + p.get('choosing', 0):>4}  talking {p.get('talking', 0):>3}"
              f"  done {p.get('done', 0):>5}  redirects {len(storm.fake.updates):>5}"
              f"  errors {len(storm.errors)}", flush=True)


# =========================================================================== figures


def wait_figures(records: list[CallRecord]) -> dict[str, object]:
    waits = sorted(r.waited for r in records if r.waited is not None)
    histogram = Counter()
    for r in records:
        if r.waited is None:
            continue
        if r.joined is None:
            histogram[NO_WAIT] += 1
        else:
            histogram[next(label for edge, label in WAIT_BUCKETS if r.waited < edge)] += 1
    return {
        "put_through": len(waits),
        "p50_s": base.pct(waits, 50), "p90_s": base.pct(waits, 90), "p99_s": base.pct(waits, 99),
        "max_s": round(waits[-1], 2) if waits else 0.0,
        "histogram": {label: histogram[label] for label in [NO_WAIT] + [l for _, l in WAIT_BUCKETS]},
    }


LINE_BUCKETS = ((100, "< 100"), (400, "100-399"), (700, "400-699"), (math.inf, ">= 700"))


def line_latency(timeline: list[tuple]) -> dict[str, dict[str, object]]:
    """Webhook latency by how many callers were in line when the request was sent, for every
    request and for the steps that read the line (queue, menu)."""
    out: dict[str, dict[str, object]] = {}
    for edge, label in LINE_BUCKETS:
        lower = max([0] + [e for e, _ in LINE_BUCKETS if e < edge])
        rows = [(step, ms) for step, ms, line, *_ in timeline if lower <= line < edge]
        entry: dict[str, object] = {}
        for name, keep in (("all", None), ("queue", "queue"), ("menu", "menu")):
            ms = sorted(m for step, m in rows if keep is None or step == keep)
            entry[name] = {"requests": len(ms), "p50_ms": base.pct(ms, 50), "p99_ms": base.pct(ms, 99)}
        out[label] = entry
    return out


def announcement_figures(records: list[CallRecord]) -> dict[str, object]:
    """The expected wait the first hold prompt announced, against the wait that followed."""
    pairs = [(r.announced_wait, r.waited, r.joined) for r in records
             if r.announced_wait is not None and r.joined is not None and r.waited is not None]
    ratios = sorted(a / max(w, 1.0) for a, w, _ in pairs)
    first = sorted(a / max(w, 1.0) for a, w, j in pairs if j < 60.0)
    later = sorted(a / max(w, 1.0) for a, w, j in pairs if j >= 60.0)  # history by then
    return {
        "with_estimate": len(pairs),
        "without_estimate": sum(r.joined is not None and r.announced_wait is None for r in records),
        "ratio_p50": base.pct(ratios, 50), "ratio_p90": base.pct(ratios, 90),
        "ratio_max": round(ratios[-1], 2) if ratios else 0.0,
        "within_half": sum(0.5 <= x <= 1.5 for x in ratios),
        "over_2x": sum(x > 2.0 for x in ratios),
        "ratio_p50_joined_first_60s": base.pct(first, 50) if first else None,
        "ratio_p50_joined_later": base.pct(later, 50) if later else None,
        "max_announced_s": max((a for a, _, _ in pairs), default=0.0),
    }


def order_figures(records: list[CallRecord], slack: float = 1.0) -> dict[str, object]:
    """First come, first served? Callers put through after someone who joined the line more than
    `slack` seconds after them (closer joins may be stamped in either order by the two workers)."""
    queued = sorted((r for r in records if r.joined is not None and r.put_through is not None),
                    key=lambda r: r.joined)
    joins = [r.joined for r in queued]
    later_min = [math.inf] * (len(queued) + 1)  # earliest put-through among queued[i:]
    for i in range(len(queued) - 1, -1, -1):
        later_min[i] = min(later_min[i + 1], queued[i].put_through)
    overtaken, worst = 0, 0.0
    for r in queued:
        lag = r.put_through - later_min[bisect.bisect_right(joins, r.joined + slack)]
        if lag > 0:
            overtaken += 1
            worst = max(worst, lag)
    return {"queued_and_put_through": len(queued), "overtaken": overtaken,
            "worst_lag_s": round(worst, 1), "slack_s": slack}


def left_figures(records: list[CallRecord]) -> dict[str, dict[str, float | int]]:
    out = {}
    for outcome in ("callback", "hung up", "message"):
        waited = sorted(r.left - r.joined for r in records
                        if r.outcome == outcome and r.left is not None and r.joined is not None)
        out[outcome] = {"calls": sum(r.outcome == outcome for r in records),
                        "p50_s_in_line": base.pct(waited, 50), "max_s_in_line": round(waited[-1], 1) if waited else 0.0}
    return out


def service_side(records: list[CallRecord], roster: dict[int, str], wall0: float) -> dict[str, object]:
    """The service's own view once every call ended: call log, callback tasks, line, presence."""
    from sqlalchemy import select

    from casestore.db import make_engine
    from casestore.models import CallbackTask, CallLog
    from routing.presence import Presence

    sids = [r.sid for r in records]
    arrived = {r.sid: wall0 + r.arrived for r in records if r.arrived is not None}
    engine = make_engine(base.DATABASE_URL)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(CallLog.call_sid, CallLog.outcome, CallLog.wait_seconds, CallLog.started_at)
                .where(CallLog.call_sid.in_(sids))).all()
            tasks = set(conn.execute(select(CallbackTask.call_sid)
                                     .where(CallbackTask.call_sid.in_(sids))).scalars())
    finally:
        engine.dispose()
    logs = {sid: (outcome, wait) for sid, outcome, wait, _ in rows}
    # The service runs on a shifted development clock: its offset from the wall clock, from when
    # each call's log row says it started and when the bench sent /voice/incoming.
    offsets = sorted(started.timestamp() - arrived[sid] for sid, _, _, started in rows
                     if started is not None and sid in arrived)
    offset = offsets[len(offsets) // 2] if offsets else 0.0
    mismatches = []
    for r in records:
        want = SERVICE_OUTCOME.get(r.outcome)
        got = logs.get(r.sid, ("(no call log row)", 0))[0]
        if want is not None and got != want:
            mismatches.append(f"{r.sid}: caller {r.outcome}, call log {got}")
    # Calls the bench placed (it posted /voice/incoming) that left no row at all.
    lost = [r for r in records if r.requests and r.sid not in logs]
    served_waits = sorted(float(w) for sid, (o, w) in logs.items() if o == "connected")

    client = redis.Redis.from_url(base.REDIS_URL, decode_responses=True)
    service_now = datetime.fromtimestamp(time.time() + offset, timezone.utc)
    views = Presence(client).snapshot(list(roster), service_now)
    states = Counter(v.state for v in views.values())
    on_call = [f"advisor {pk} on_call for {v.call_sid}" for pk, v in views.items() if v.state == "on_call"]
    result = {
        "call_log_outcomes": dict(Counter(o for o, _ in logs.values())),
        "call_log_rows": len(logs),
        "lost_call_log_rows": len(lost),
        "lost_examples": [f"{r.sid}: caller {r.outcome or '?'}"
                          + (f" ({r.cut_off})" if r.cut_off else "")
                          + f", arrived t={r.arrived or 0:.1f}s, {r.requests} requests" for r in lost[:5]],
        "callback_tasks": len(tasks),
        "outcome_mismatches": len(mismatches),
        "mismatch_examples": mismatches[:5],
        "service_wait_s": {"p50": base.pct(served_waits, 50), "p90": base.pct(served_waits, 90),
                           "max": served_waits[-1] if served_waits else 0},
        "line_waiting_after": int(client.zcard(LINE_KEY)),
        # Offers not taken (a "taken:" marker is a consumed offer kept briefly against stale passes).
        "offers_left": sum(1 for key in client.scan_iter(match=OFFER_KEYS, count=500)
                           if not str(client.get(key) or "").startswith("taken:")),
        "presence_after": dict(states),
        "service_clock_offset_s": round(offset, 3),
        "advisors_stuck_on_call": on_call,
    }
    client.close()
    return result


_SID = re.compile(r"CA[0-9a-f]{32}(-leg\d+)?")
_NUMBER = re.compile(r"\b\d+(\.\d+)?\b")
_GUNICORN_PREFIX = re.compile(r"^\[[^\]]+\] \[\d+\] ")
# webhooks/logs.py's text lines: time, level, logger, [request id], message.
_TEXT_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d+ (?P<level>[A-Z]+)\s+(?P<logger>\S+) (?:\[[^\]]*\] )?")
_QUIET_LEVELS = {"DEBUG", "INFO"}  # every webhook is logged at INFO: not counted among the lines
_PUT_THROUGH = re.compile(r"put through (\d+) waiting call")  # the dispatcher loop's echo


def scan_log(path: Path) -> dict[str, object]:
    """Tracebacks (by their last line) and other lines (numbers and sids blanked), counted."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {"log": str(path), "missing": True}
    exceptions: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    faults: Counter[str] = Counter()  # "webhook fault step=X": answered with the fallback TwiML
    example: dict[str, str] = {}
    passes = put_through = replayed = 0
    i = 0
    while i < len(lines):
        fault = _FAULT.search(lines[i])
        if fault:
            faults[fault.group(1)] += 1
        done = _REPLAYED.search(lines[i])
        if done:
            replayed += int(done.group(1))
        if lines[i].startswith("Traceback"):
            start = i
            i += 1
            while True:  # to the exception line; a chained one ("During handling ...") goes on
                while i < len(lines) and (lines[i].startswith((" ", "Traceback")) or not lines[i]):
                    i += 1
                j = i + 1
                while j < len(lines) and not lines[j]:
                    j += 1
                if j < len(lines) and lines[j].startswith(("During handling", "The above exception")):
                    i = j + 1
                    continue
                break
            last = _SID.sub("CA…", lines[i]) if i < len(lines) else "(truncated)"
            exceptions[last] += 1
            example.setdefault(last, "\n".join(lines[max(0, start - 1):i + 1]))
            i += 1
            continue
        match = _PUT_THROUGH.search(lines[i])
        if match:
            passes, put_through = passes + 1, put_through + int(match.group(1))
            i += 1
            continue
        line, level = lines[i], ""
        if line.startswith("{"):  # LOG_FORMAT=json
            try:
                doc = json.loads(line)
                level, line = str(doc.get("level", "")), f"{doc.get('logger', '')}: {doc.get('message', '')}"
            except ValueError:
                pass
        else:
            prefix = _TEXT_PREFIX.match(line)
            if prefix:
                level, line = prefix["level"], f"{prefix['logger']}: {line[prefix.end():]}"
        if level in _QUIET_LEVELS:
            i += 1
            continue
        text = _NUMBER.sub("N", _SID.sub("CA…", _GUNICORN_PREFIX.sub("", line))).strip()
        if text:
            messages[f"{level} {text}" if level else text] += 1
        i += 1
    return {"log": str(path), "tracebacks": dict(exceptions.most_common()),
            "traceback_examples": example, "lines": dict(messages.most_common(12)),
            "passes_putting_calls_through": passes, "calls_put_through": put_through,
            "faults_by_step": dict(faults.most_common()), "replayed_records": replayed}


def latency_window(timeline: list[tuple], start: float, end: float) -> dict[str, object]:
    """Webhook latency of the requests sent in [start, end) on the storm clock."""
    rows = [(ms, kind) for _, ms, _, sent, kind in timeline if start <= sent < end]
    ms = sorted(m for m, _ in rows)
    return {"from_s": round(start, 1), "to_s": None if math.isinf(end) else round(end, 1),
            "requests": len(ms), "errors": sum(1 for _, kind in rows if kind),
            "p50_ms": base.pct(ms, 50), "p99_ms": base.pct(ms, 99),
            "max_ms": round(ms[-1], 2) if ms else 0.0}


def ops_figures(records: list[CallRecord], board: Board, storm: Storm, outage: Outage | None,
                pool: ConnectionPool, logs: dict[str, dict[str, object]],
                processes: dict[str, object]) -> dict[str, object]:
    """What the operations options add: errors by kind, callers sent back to the greeting or
    dropped, double bookings and latency around the Redis restart, requests per process."""
    kinds = Counter(storm.error_kinds)
    faults: Counter[str] = Counter()
    for name, scan in logs.items():
        if name.startswith("service"):
            faults.update(scan.get("faults_by_step", {}))
    restarted = [r for r in records if r.restarts]
    dropped = [r for r in records if r.outcome in DROPPED]
    out: dict[str, object] = {
        "processes": processes,
        "errors": {
            "hard": kinds["http"] + kinds["transport"] + kinds["twiml"],
            "non_200": kinds["http"], "transport": kinds["transport"], "not_twiml": kinds["twiml"],
            "fallback_twiml": kinds["fallback"], "unexpected_twiml": kinds["unexpected"],
            "greeting_loop": kinds["greeting loop"],
            "roster": kinds["roster"], "bench": kinds["bench"],
            "service_faults_by_step": dict(faults.most_common()),
        },
        "sent_back_to_greeting": {
            "callers": len(restarted), "times": sum(r.restarts for r in restarted),
            "first_s": min((t for r in restarted for t in r.restarted_at), default=None),
            "last_s": max((t for r in restarted for t in r.restarted_at), default=None),
            "outcomes": dict(Counter(r.outcome for r in restarted).most_common()),
            "after_talking": sum(r.note == AFTER_TALKING for r in restarted),
        },
        "dropped": {"callers": len(dropped),
                    "by_cause": dict(Counter("unexpected TwiML" if r.outcome == "unexpected"
                                             else (r.cut_off or "?") for r in dropped).most_common())},
        "messages_left": sum(r.outcome == "message" for r in records),
        "busy_dials": sum(r.busy_dials for r in records),
        "latency_overall": latency_window(storm.timeline, -math.inf, math.inf),
        "redis_restart": None,
    }
    if outage is not None:
        dialled = sorted(float(m.group(1)) for r in records for d in r.dials
                         if (m := re.match(r"t=([\d.]+)s", d)))
        restart: dict[str, object] = {"planned_at_s": outage.at, "downtime_s": outage.downtime,
                                      "port": outage.port, "killed_at_s": outage.killed,
                                      "back_at_s": outage.back, "presence_back_at_s": outage.presence_back,
                                      # degraded mode (ringing in order) lasts until the breakers close
                                      "first_dial_after_degraded_s": next(
                                          (t for t in dialled if outage.back is not None
                                           and t >= outage.back + BREAKER_COOLDOWN), None)}
        if outage.killed is not None:
            back = outage.back if outage.back is not None else board.now()
            degraded_until = back + BREAKER_COOLDOWN
            times = board.double_booking_at
            restart["double_bookings"] = {
                "before": sum(t < outage.killed for t in times),
                "during": sum(outage.killed <= t < degraded_until for t in times),
                "after": sum(t >= degraded_until for t in times),
                "during_window_s": [round(outage.killed, 1), round(degraded_until, 1)],
            }
            tl = storm.timeline
            restart["latency"] = {
                "window": latency_window(tl, outage.killed - RESTART_WINDOW[0], back + RESTART_WINDOW[1]),
                "before_kill": latency_window(tl, -math.inf, outage.killed),
                "redis_down": latency_window(tl, outage.killed, back),
                "first_30s_after": latency_window(tl, back, back + 30.0),
                "later": latency_window(tl, back + 30.0, math.inf),
            }
        out["redis_restart"] = restart
    return out


def print_ops(report: dict[str, object]) -> None:
    ops, svc = report["ops"], report["service"]
    pr = ops["processes"]
    print()
    print("operations:")
    print(f"  processes: {len(pr['ports'])} gunicorn service(s) on port(s) "
          f"{', '.join(map(str, pr['ports']))} behind PUBLIC_BASE_URL {pr['public_base_url']}, "
          f"round-robin; requests per process " + " / ".join(str(pr["requests"].get(str(p), 0))
                                                              for p in pr["ports"]))
    print(f"  Redis: {pr['redis']}")
    e = ops["errors"]
    print(f"  errors by kind: hard {e['hard']} (non-200 {e['non_200']}, transport {e['transport']}, "
          f"not TwiML {e['not_twiml']}); fallback TwiML {e['fallback_twiml']}; unexpected TwiML "
          f"{e['unexpected_twiml']}; sent back to the greeting more than {MAX_RESTARTS} times "
          f"{e['greeting_loop']}; other {e['roster'] + e['bench']}")
    faults = e["service_faults_by_step"]
    print("  faults the services logged (each answered with the fallback; on status and whisper legs "
          "the caller hears nothing of it): "
          + (", ".join(f"{step} {n}" for step, n in faults.items()) if faults else "none"))
    sb, dr = ops["sent_back_to_greeting"], ops["dropped"]
    when = (f" between t={sb['first_s']:.1f} s and t={sb['last_s']:.1f} s" if sb["callers"] else "")
    print(f"  callers sent back to the greeting (state lost): {sb['callers']} ({sb['times']} times){when}"
          + (", then " + ", ".join(f"{k} {v}" for k, v in sb["outcomes"].items()) if sb["callers"] else ""))
    if sb["after_talking"]:
        print(f"    {sb['after_talking']} of them after their conversation had ended (the Dial result "
              f"found no state); they hung up")
    print(f"  callers dropped (the call ended on an error): {dr['callers']}"
          + (": " + ", ".join(f"{k} {v}" for k, v in dr["by_cause"].items()) if dr["callers"] else ""))
    print(f"  messages left instead of reaching an advisor: {ops['messages_left']}; Dials answered busy "
          f"(advisor already talking): {ops['busy_dials']}")
    lat = ops["latency_overall"]
    print(f"  webhook latency p99 overall: {lat['p99_ms']:.1f} ms over {lat['requests']} requests "
          f"(max {lat['max_ms']:.1f} ms)")
    rr = ops["redis_restart"]
    if rr is not None:
        if rr["killed_at_s"] is None:
            print(f"  Redis restart planned at t={rr['planned_at_s']:g} s: not reached (the storm ended first)")
        else:
            back = f"t={rr['back_at_s']:.1f} s" if rr["back_at_s"] is not None else "never"
            print(f"  Redis restart: SIGKILL at t={rr['killed_at_s']:.1f} s, back (empty) at {back}; "
                  f"presence of every advisor restored at {_at(rr['presence_back_at_s'])}; first Dial "
                  f"to an advisor once degraded mode was over (Redis back + {BREAKER_COOLDOWN:g} s "
                  f"breaker) at {_at(rr['first_dial_after_degraded_s'])}")
            db = rr["double_bookings"]
            lo, hi = db["during_window_s"]
            print(f"  double bookings: before the kill {db['before']}, during the outage (Redis down or "
                  f"breakers open, t={lo:.1f}-{hi:.1f} s) {db['during']}, after {db['after']}")
            names = {"window": f"around the restart ({RESTART_WINDOW[0]:g} s before the kill to "
                               f"{RESTART_WINDOW[1]:g} s after Redis was back)",
                     "before_kill": "before the kill", "redis_down": "while Redis was down",
                     "first_30s_after": "first 30 s after it was back", "later": "later"}
            for key, label in names.items():
                w = rr["latency"][key]
                span = f"t={w['from_s']:.1f}-" + (f"{w['to_s']:.1f}" if w["to_s"] is not None else "end")
                if math.isinf(w["from_s"]):
                    span = "t<" + f"{w['to_s']:.1f}"
                print(f"    p99 {label} [{span} s]: {w['p99_ms']:.1f} ms (p50 {w['p50_ms']:.1f}, max "
                      f"{w['max_ms']:.1f}) over {w['requests']} requests, {w['errors']} errors")
    print(f"  lost call-log rows: {svc['lost_call_log_rows']} (target 0) of {len(report['calls'])} calls placed")
    for line in svc["lost_examples"]:
        print(f"    {line}")
    sp = pr["spool"]
    by_worker = report["logs"].get("worker", {}).get("replayed_records", 0)
    by_services = sum(v.get("replayed_records", 0) for k, v in report["logs"].items() if k.startswith("service"))
    print(f"  spool after the storm: {sp['left_in_files']} record(s) in the spool files (waited "
          f"{sp['waited_s']:.0f} s); replayed by the worker {by_worker}, by the services {by_services}")
    for name, state in pr["helpers"].items():
        print(f"  {name}: {state}")


# =========================================================================== output


def print_figures(report: dict[str, object], args: argparse.Namespace) -> None:
    o, w, left, svc = report["outcomes"], report["wait"], report["left"], report["service"]
    print()
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(o.items(), key=lambda kv: -kv[1])))
    print(f"errors: {report['errors']} (target 0)")
    print(f"double bookings: {len(report['double_bookings'])} (target 0)")
    for line in report["double_bookings"][:5]:
        print(f"  {line}")
    print()
    print(f"wait in line (joining the line -> put through), {w['put_through']} callers put through:")
    print(f"  p50 {w['p50_s']:.1f} s   p90 {w['p90_s']:.1f} s   p99 {w['p99_s']:.1f} s   max {w['max_s']:.1f} s")
    for label, n in w["histogram"].items():
        share = 100.0 * n / w["put_through"] if w["put_through"] else 0.0
        print(f"  {label:<26}{n:>6}  {share:5.1f}%")
    q = report["queue"]
    print(f"  line peak: {q['peak_waiting']} waiting at t={q['peak_at_s']:.0f} s; dispatcher redirects "
          f"followed {q['redirects_followed']}, hold rounds posted {q['hold_rounds']}, "
          f"dials not bridged {q['missed_dials']}")
    o2 = report["order"]
    print(f"  first come, first served: {o2['overtaken']} of {o2['queued_and_put_through']} callers "
          f"were put through after someone who joined the line more than {o2['slack_s']:g} s "
          f"after them (worst by {o2['worst_lag_s']:.1f} s)")
    a = report["announced"]
    if a["with_estimate"]:
        print(f"  expected wait announced on joining / actual wait: p50 {a['ratio_p50']:.2f}x, "
              f"p90 {a['ratio_p90']:.2f}x, max {a['ratio_max']:.1f}x; within +/-50% "
              f"{a['within_half']} of {a['with_estimate']}, over 2x {a['over_2x']}; p50 for callers "
              f"who joined in the first 60 s {_ratio(a['ratio_p50_joined_first_60s'])}, later "
              f"{_ratio(a['ratio_p50_joined_later'])}; longest announced {a['max_announced_s'] / 60:.0f} min")
    print(f"left the line: {left['callback']['calls']} with a callback request "
          f"(after p50 {left['callback']['p50_s_in_line']:.0f} s in line), "
          f"{left['hung up']['calls']} hung up (after p50 {left['hung up']['p50_s_in_line']:.0f} s); "
          f"planned shares {args.callback_share:.0%} / {args.hangup_share:.0%}")
    if report["stray_redirects"]:
        print("redirects not followed: " + ", ".join(f"{n} {k}" for k, n in report["stray_redirects"].items()))
        for call in [c for c in report["calls"] if c["strays"]][:5]:
            print(f"  {call['sid']}: dialled {'; '.join(call['dials'])}; {'; '.join(call['strays'])}; "
                  f"hung up at t={call['ended']:.2f}s")
    print()
    print("webhook latency (whole storm):")
    base.print_table([report["_phase"]])
    print("by step:")
    print(f"  {'step':<15}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>10}")
    for step, v in report["latency_by_step"].items():
        print(f"  {step:<15}{v['requests']:>9}{v['p50_ms']:>9.1f}{v['p99_ms']:>9.1f}{v['max_ms']:>10.1f}")
    print("by line length (callers waiting when the request was sent):")
    print(f"  {'line':<9}{'requests':>9}{'p50 ms':>8}{'p99 ms':>8}   {'queue p50/p99':>15}   {'menu p50/p99':>14}")
    for label, e in report["latency_by_line"].items():
        if e["all"]["requests"]:
            print(f"  {label:<9}{e['all']['requests']:>9}{e['all']['p50_ms']:>8.1f}{e['all']['p99_ms']:>8.1f}"
                  f"   {e['queue']['p50_ms']:>7.1f}/{e['queue']['p99_ms']:<7.1f}"
                  f"   {e['menu']['p50_ms']:>6.1f}/{e['menu']['p99_ms']:<7.1f}")
    lat = report["latency"]
    if lat["server_cpu_ms_per_req"] is not None:
        print(f"CPU ms per request, server / client: {lat['server_cpu_ms_per_req']:.2f} / "
              f"{lat['client_cpu_ms_per_req']:.2f}; host CPU busy {100 * (lat['host_cpu_busy'] or 0):.0f}%")
    print()
    print(f"service side: call log rows {svc['call_log_rows']}: "
          + ", ".join(f"{k} {v}" for k, v in sorted(svc["call_log_outcomes"].items()))
          + f"; callback tasks {svc['callback_tasks']}; outcome mismatches {svc['outcome_mismatches']}")
    for line in svc["mismatch_examples"]:
        print(f"  {line}")
    print(f"  service's wait_seconds of connected calls: p50 {svc['service_wait_s']['p50']:.0f} s, "
          f"p90 {svc['service_wait_s']['p90']:.0f} s, max {svc['service_wait_s']['max']:.0f} s")
    print(f"  after the storm: {svc['line_waiting_after']} in line, {svc['offers_left']} offers left; "
          "advisors " + ", ".join(f"{k} {v}" for k, v in sorted(svc["presence_after"].items())))
    print(f"  carrier REST: {report['carrier']['requests']} requests, {report['carrier']['redirects']} "
          f"redirects accepted, {report['carrier']['refused']} refused (call ended or unknown)")
    for line in svc["advisors_stuck_on_call"][:5]:
        print(f"  stuck: {line}")
    for name, scan in report["logs"].items():
        tb = scan.get("tracebacks", {})
        print(f"{name} log {scan['log']}: {sum(tb.values())} tracebacks"
              + (", ".join([""] + [f"{n}x {k}" for k, n in tb.items()]) if tb else ""))
        if scan.get("missing"):
            print("  (no log)")
        if scan.get("passes_putting_calls_through"):
            print(f"  {scan['passes_putting_calls_through']} dispatcher passes put "
                  f"{scan['calls_put_through']} waiting calls through")
        for text, n in list(scan.get("lines", {}).items())[:8]:
            print(f"  {n}x {text[:160]}")
    problems = Counter(report["_error_list"])
    if problems:
        print("errors:")
        for text, n in problems.most_common(10):
            print(f"  {n}x {text[:200]}")


def _at(t: float | None) -> str:
    return "never" if t is None else f"t={t:.1f} s"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def targets(report: dict[str, object]) -> list[str]:
    missed = []
    if report["errors"]:
        missed.append(f"{report['errors']} errors")
    if report["double_bookings"]:
        missed.append(f"{len(report['double_bookings'])} double bookings")
    stuck = report["outcomes"].get("still waiting at the cap", 0) + report["outcomes"].get("interrupted", 0)
    if stuck:
        missed.append(f"{stuck} callers never put through nor left")
    svc = report["service"]
    if svc["line_waiting_after"] or svc["advisors_stuck_on_call"]:
        missed.append("line or advisors not clear after the storm")
    if svc["lost_call_log_rows"]:
        missed.append(f"{svc['lost_call_log_rows']} call-log rows lost")
    exited = [n for n, state in report["ops"]["processes"]["helpers"].items() if not state.startswith("running")]
    if exited:
        missed.append(f"{', '.join(exited)} exited during the storm")
    return missed


# =========================================================================== main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=1000, help="calls in the storm (default 1000)")
    p.add_argument("--advisors", type=int, default=50, help="advisors signed in (default 50)")
    p.add_argument("--arrival-seconds", type=float, default=60.0,
                   help="the calls arrive within this many seconds (default 60)")
    p.add_argument("--talk", type=float, default=20.0,
                   help="mean talk seconds per call, +/-50%% (default 20: a long line forms and "
                        "drains in about 8 minutes with the defaults)")
    p.add_argument("--wrap-up", type=float, default=2.0, help="advisors' wrap-up seconds (default 2)")
    p.add_argument("--callback-share", type=float, default=0.05,
                   help="share of callers who ask for a callback after 60-240 s in line (default 0.05)")
    p.add_argument("--hangup-share", type=float, default=0.05,
                   help="share of callers who hang up after 20-180 s in line (default 0.05)")
    p.add_argument("--max-wait", type=float, default=900.0,
                   help="a caller still in line after this many seconds hangs up and counts as "
                        "stuck (default 900)")
    p.add_argument("--seed", type=int, default=1, help="seed for arrivals, talk and patience (default 1)")
    p.add_argument("--port", type=int, default=5087,
                   help="service port (default 5087); with --processes N, PORT..PORT+N-1")
    p.add_argument("--processes", type=int, default=1,
                   help="gunicorn services (each --workers x --threads) on one database and Redis, "
                        "behind one PUBLIC_BASE_URL; requests go to them round-robin (default 1)")
    p.add_argument("--restart-redis-at", type=float, default=None, metavar="SECONDS",
                   help="run on a private redis-server, SIGKILL it SECONDS into the storm and start "
                        "it again, empty, --redis-downtime seconds later (default: no restart)")
    p.add_argument("--redis-downtime", type=float, default=3.0,
                   help="seconds Redis stays down with --restart-redis-at (default 3)")
    p.add_argument("--private-redis", action="store_true",
                   help="run on a private redis-server on a free port (implied by --restart-redis-at)")
    p.add_argument("--replay-wait", type=float, default=75.0,
                   help="after the storm, seconds to wait at most for the worker to replay spooled "
                        "call-log records (default 75: two of its 30 s sweeps)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    p.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker (default 8)")
    p.add_argument("--dispatch-interval", type=float, default=0.5,
                   help="seconds between dispatcher passes (default 0.5)")
    p.add_argument("--progress", type=float, default=15.0,
                   help="seconds between progress lines (default 15; 0: none)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures here")
    p.add_argument("--skip-setup", action="store_true",
                   help="reuse the storm database and secrets of an earlier run")
    p.add_argument("--strict", action="store_true",
                   help="exit 3 when a target is missed (errors, double bookings, stuck callers)")
    args = p.parse_args(argv)
    if args.calls < 1 or args.advisors < 1 or args.arrival_seconds < 0 or args.talk < 0:
        p.error("--calls and --advisors must be at least 1; --arrival-seconds and --talk not negative")
    if not 0 <= args.callback_share + args.hangup_share <= 1:
        p.error("--callback-share + --hangup-share must be between 0 and 1")
    if args.processes < 1 or (args.restart_redis_at is not None and args.restart_redis_at < 0) \
            or args.redis_downtime < 0:
        p.error("--processes must be at least 1; --restart-redis-at and --redis-downtime not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    signal.signal(signal.SIGTERM, base._interrupt)  # SIGTERM behaves like Ctrl-C
    use_storm_database()
    STORM_DIR.mkdir(parents=True, exist_ok=True)
    threading.stack_size(512 * 1024)  # up to --calls caller threads
    cleanup: list[Callable[[], None]] = []  # stops what was started, last first
    try:
        return _run(args, cleanup)
    except BenchError as exc:
        print(f"storm: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("storm: interrupted", file=sys.stderr)
        return 130
    finally:
        for stop in reversed(cleanup):
            stop()


def _run(args: argparse.Namespace, cleanup: list[Callable[[], None]]) -> int:
    from ivr.prompts import say

    redis_server: RedisServer | None = None
    if args.private_redis or args.restart_redis_at is not None:
        redis_server = RedisServer(STORM_DIR / "redis.log")
        redis_server.log.write_bytes(b"")
        cleanup.append(redis_server.stop)  # stopped last
        redis_server.start()
        use_storm_database(redis_server.port)
    secret = base.saved_secrets() if args.skip_setup else base.new_secrets()
    # One token signs the webhooks and authenticates the service's REST requests, as with Twilio.
    fake = FakeTwilio(base.ACCOUNT_SID, secret["auth_token"]).start()
    cleanup.append(fake.stop)
    env = storm_env(args.port, secret, fake.base_url, args.wrap_up)
    shutil.rmtree(STORM_DIR / "instance" / "spool", ignore_errors=True)  # no records of earlier runs
    base.flush_redis()
    if not args.skip_setup:
        base.setup(env)
    roster = staff_advisors(env, args.advisors)
    phone, pin = demo_caller()
    print(f"advisors: {len(roster)} signed in; callers: demo contact {DEMO_CONTACT_ID} "
          f"({phone}), PIN, then 0 (next available advisor)")

    # N processes behind one PUBLIC_BASE_URL (the first port's): env is the same for all of them.
    ports = [args.port + i for i in range(args.processes)]
    services = []
    for i, port in enumerate(ports):
        server = base.Server("service", "webhooks:create_app()", port, args.workers, args.threads, env, ROOT)
        server.log = STORM_DIR / ("service.log" if args.processes == 1 else f"service-{i + 1}.log")
        if _has_control_socket():  # gunicorn >= 24: one per master, not the shared ~/.gunicorn one
            server.extra_args = ["--control-socket", str(STORM_DIR / f"gunicorn-{port}.ctl")]
        services.append(server)
    dispatcher = DispatcherProcess(env, args.dispatch_interval, STORM_DIR / "dispatcher.log")
    worker = WorkerProcess(env, STORM_DIR / "worker.log")
    cleanup += [server.stop for server in services] + [dispatcher.stop, worker.stop]
    for server in services:
        server.start()
    dispatcher.start()  # at once, so that their development clocks start together
    worker.start()
    for server in services:
        server.wait_ready("GET", "/healthz")
        status, body = base.http_request(server.port, "GET", "/readyz")
        if status != 200:
            raise BenchError(f"service on port {server.port} not ready: {body.decode(errors='replace').strip()}")
    dispatcher.check()
    worker.check()

    plans = make_plans(args.calls, args.arrival_seconds, args.talk, args.callback_share,
                       args.hangup_share, args.seed)
    board = Board()
    pool = ConnectionPool(ports)
    cleanup.append(pool.close)
    client = redis.Redis.from_url(base.REDIS_URL, decode_responses=True, socket_timeout=2.0,
                                  socket_connect_timeout=1.0)
    cleanup.append(client.close)
    storm = Storm(board, pool, env["PUBLIC_BASE_URL"], secret["auth_token"], say("fault_apology"),
                  fake, roster, phone, pin, args.max_wait, client)
    fake.on_update(board.hear_update)
    load1 = os.getloadavg()[0]
    print(f"storm: {args.calls} calls within {args.arrival_seconds:g} s, {len(roster)} advisors, talk "
          f"{args.talk:g} s +/-50%, wrap-up {args.wrap_up:g} s; leave the line: "
          f"{args.callback_share:.0%} callback, {args.hangup_share:.0%} hang up")
    print(f"service: {args.processes} x gunicorn {args.workers} workers x {args.threads} threads on "
          f"{', '.join(s.url for s in services)} (PUBLIC_BASE_URL {env['PUBLIC_BASE_URL']}, "
          f"round-robin), dispatcher every {args.dispatch_interval:g} s, a worker, fake Twilio REST "
          f"on {fake.base_url}; host: {os.cpu_count()} CPUs, load average {load1:.2f}")
    redis_line = (f"private redis-server on port {redis_server.port} (no persistence, log "
                  f"{redis_server.log}), db {REDIS_DB}"
                  if redis_server else f"shared Redis at 127.0.0.1:6379, db {REDIS_DB}")
    outage = None
    if args.restart_redis_at is not None:
        outage = Outage(args.restart_redis_at, args.redis_downtime, redis_server.port)
        redis_line += (f"; SIGKILL at t={args.restart_redis_at:g} s, started again (empty) "
                       f"{args.redis_downtime:g} s later")
    print(f"redis: {redis_line}")

    deadline = args.arrival_seconds + args.max_wait + 3 * args.talk + 120.0
    helpers = [dispatcher, worker]
    pids = [p.proc.pid for p in (*services, *helpers) if p.proc is not None]
    cpu0, host0, own0 = _server_cpu(pids), base.host_cpu_ticks(), time.process_time()
    if args.progress > 0:
        threading.Thread(target=progress, args=(storm, args.progress, args.calls), daemon=True).start()
    if outage is not None:
        threading.Thread(target=restart_redis, args=(redis_server, outage, board, len(roster)),
                         name="redis-restart", daemon=True).start()
    records = run_storm(storm, plans, deadline)
    wall = board.now()
    cpu1, host1 = _server_cpu(pids), base.host_cpu_ticks()
    print(f"storm over after {wall:.0f} s; {pool.opened} keep-alive connections were opened")

    phase = base.Phase("storm", samples=list(storm.samples), results=list(records), wall=wall,
                       errors=list(storm.errors))
    phase.client_cpu = time.process_time() - own0
    if cpu0 is not None and cpu1 is not None:
        phase.server_cpu = cpu1 - cpu0
    if host0 and host1 and host1[1] > host0[1]:
        phase.host_busy = (host1[0] - host0[0]) / (host1[1] - host0[1])
    spool = wait_for_replay(worker, args.replay_wait)
    service_view = service_side(records, roster, board.wall0)
    states = {h.name: ("running" if h.alive() else f"EXITED with status {h.proc.returncode} "
                       f"(log {h.log})") for h in helpers}
    for server in services:
        server.stop()
    for helper in helpers:
        helper.stop()
    updates = fake.updates
    carrier = {"requests": fake.requests, "redirects": sum(1 for u in updates if u.get("Url")),
               "refused": fake.requests - len(updates) - len(fake.calls) - len(fake.messages)}
    logs = {(f"service {i + 1}" if len(services) > 1 else "service"): scan_log(server.log)
            for i, server in enumerate(services)}
    logs.update(dispatcher=scan_log(dispatcher.log), worker=scan_log(worker.log))
    processes = {"ports": ports, "public_base_url": env["PUBLIC_BASE_URL"], "redis": redis_line,
                 "requests": {str(port): pool.sent[port] for port in ports}, "spool": spool,
                 "helpers": states}
    ops = ops_figures(records, board, storm, outage, pool, logs, processes)
    report = build_report(args, records, board, storm, phase, service_view, logs, carrier, ops)
    print_figures(report, args)
    print_ops(report)
    missed = targets(report)
    print()
    print("targets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    if args.json:
        write_json(args.json, report)
        print(f"figures written to {args.json}")
    return 3 if args.strict and missed else 0


def _has_control_socket() -> bool:
    """Does this gunicorn have a control server (and so `--control-socket`)? By default every
    master on the host binds the same ~/.gunicorn/gunicorn.ctl, and all but the first fail."""
    try:
        res = subprocess.run([str(base.VENV_BIN / "gunicorn"), "--help"], capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return "--control-socket" in res.stdout


def spool_left() -> int:
    """Call-log records spooled (in the instance's spool files) and not yet replayed."""
    from ivr import spool

    return spool.pending(STORM_DIR / "instance" / "spool" / "call_log.jsonl")  # webhooks.voice.spool_path


def wait_for_replay(worker: WorkerProcess, limit: float) -> dict[str, object]:
    """Give the worker time (up to `limit` seconds) to replay what was spooled: it does every 30 s
    (and each service replays its own records once the database answers it again)."""
    started = time.monotonic()
    while True:
        in_files = spool_left()
        waited = time.monotonic() - started
        if in_files == 0 or waited >= limit or not worker.alive():
            return {"waited_s": round(waited, 1), "left_in_files": in_files}
        time.sleep(1.0)


def _server_cpu(pids: list[int]) -> float | None:
    values = [base.tree_cpu_seconds(pid) for pid in pids]
    return None if any(v is None for v in values) else sum(values)


def build_report(args: argparse.Namespace, records: list[CallRecord], board: Board, storm: Storm,
                 phase: base.Phase, service_view: dict[str, object],
                 logs: dict[str, dict[str, object]], carrier: dict[str, int],
                 ops: dict[str, object]) -> dict[str, object]:
    return {
        "ops": ops,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "cpus": os.cpu_count(),
        "outcomes": dict(Counter(r.outcome or "?" for r in records)),
        "errors": len(phase.errors),
        "double_bookings": list(board.double_bookings),
        "wait": wait_figures(records),
        "left": left_figures(records),
        "queue": {"peak_waiting": board.peak_waiting, "peak_at_s": round(board.peak_at, 1),
                  "redirects_followed": sum(r.redirects for r in records),
                  "hold_rounds": sum(r.hold_rounds for r in records),
                  "missed_dials": sum(r.missed_dials for r in records),
                  "put_through_while_choosing": sum(r.note == "put through while choosing" for r in records)},
        "order": order_figures(records),
        "announced": announcement_figures(records),
        "latency_by_line": line_latency(storm.timeline),
        "stray_redirects": dict(board.stray),
        "carrier": carrier,
        "latency": phase.figures(),
        "latency_by_step": base.step_figures(phase),
        "service": service_view,
        "logs": logs,
        "calls": [call_row(r) for r in records],
        "_phase": phase,
        "_error_list": list(phase.errors),
    }


def call_row(r: CallRecord) -> dict[str, object]:
    row = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in vars(r).items() if k != "plan"}
    row.update(arrive_at=round(r.plan.arrive_at, 3), talk=round(r.plan.talk, 1), leaves=r.plan.leaves,
               patience=None if math.isinf(r.plan.patience) else round(r.plan.patience, 1))
    return row


def write_json(path: Path, report: dict[str, object]) -> None:
    data = {k: v for k, v in report.items() if not k.startswith("_")}
    data["error_messages"] = dict(Counter(report["_error_list"]).most_common(20))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
