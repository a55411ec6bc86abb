#!/usr/bin/env python
"""Webhook latency and throughput under concurrent calls, against a floor.

Starts the service under gunicorn (gthread) on PostgreSQL and Redis, drives N complete calls
concurrently over real HTTP with signed requests (following every TwiML action, Dial and Redirect
the way `twilio_doubles/simulator.py` does), and prints webhook p50/p90/p99 latency and requests/s. Then
it serves a bare Flask view returning a fixed TwiML (`bench/floor_app.py`) with the same gunicorn
settings and drives the same number of requests, shaped the same way, at the same concurrency:
the ratio service req/s / floor req/s is the figure to watch (target >= 0.6, p99 <= 50 ms at 16
concurrent calls). Last, the io floor (`bench/io_floor_app.py`), the same view plus a signature
check, one Redis GET and one primary-key SELECT that commits, runs the same way: the ratio service
req/s / io-floor req/s is informational. See bench/README.md.

    . .venv/bin/activate && python bench/calls.py [--calls 400] [--concurrency 16] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import yaml
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
DEMO_FILE = ROOT / "casestore" / "demo" / "demo.yaml"
VENV_BIN = Path(sys.executable).parent

DB_NAME = "supportline_bench"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
DATABASE_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/14"
SECRETS_FILE = Path(tempfile.gettempdir()) / "supportline_bench" / "secrets.json"

TO_NUMBER = "+18005550100"
ACCOUNT_SID = "AC" + "0" * 32
MAX_REQUESTS_PER_CALL = 60
HOLD_ROUNDS = 20  # hold rounds a caller sits through before hanging up
TALK_SECONDS = 180


THINK_SECONDS = 0.0  # --think: pause between a call's webhooks (0: back to back, a stress test)
CLOCK_START = "2026-11-24T10:00:00-06:00"  # a Tuesday morning in Chicago; --at now: real clock
CLOCK_ANCHOR = repr(time.time())  # the real instant the services' clocks read CLOCK_START


class BenchError(RuntimeError):
    """A setup or server problem: printed as one message, exit status 2."""


# =========================================================================== setup


def child_env(port: int, secret: dict[str, str]) -> dict[str, str]:
    # The bench's own configuration only: no development mode, no stray timezone or overflow.
    strip = {
        "SUPPORTLINE_DEV",
        "SUPPORTLINE_INSTANCE",
        "TWILIO_ACCOUNT_SID",
        "SUPPORT_TIMEZONE",
        "OVERFLOW_NUMBER",
        "DEFAULT_REGION",
    }
    env = {k: v for k, v in os.environ.items() if k not in strip}
    env.update(
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        TWILIO_AUTH_TOKEN=secret["auth_token"],
        SECRET_KEY=secret["secret_key"],
        PIN_PEPPER=secret["pin_pepper"],
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        PYTHONUNBUFFERED="1",
        # Advisors take the next call at once, and a busy case owner is not waited for: the bench
        # measures webhooks, not wrap-up time or the owner's 60 s (its callers do not wait).
        WRAP_UP_SECONDS="0",
        OWNER_WAIT_SECONDS="0",
        # Path (b) has owners miss calls on purpose; autopause would take them off the line for good.
        AUTOPAUSE_MISSES="0",
        # Path (d) is 15 % of the calls, three wrong PINs each: far over the line-wide ceiling,
        # which would turn every path into "one try after a pause". The bench measures the paths.
        PIN_FAILURE_CEILING="0",
    )
    if CLOCK_START:
        # Development mode only for its clock: the line runs "at" CLOCK_START (open hours by
        # default), so every run takes the same call paths whatever the day. Secrets stay real.
        # One anchor for every process of the run (services, their workers, the dispatcher, the
        # worker): each reads the same instant, wherever and whenever it started.
        env.update(SUPPORTLINE_DEV="1", SUPPORTLINE_CLOCK_START=CLOCK_START, SUPPORTLINE_CLOCK_ANCHOR=CLOCK_ANCHOR)
    return env


def new_secrets() -> dict[str, str]:
    value = {k: secrets.token_hex(16) for k in ("auth_token", "secret_key", "pin_pepper")}
    SECRETS_FILE.parent.mkdir(parents=True, exist_ok=True)
    SECRETS_FILE.touch(mode=0o600)
    SECRETS_FILE.chmod(0o600)
    SECRETS_FILE.write_text(json.dumps(value), encoding="utf-8")
    return value


def saved_secrets() -> dict[str, str]:
    # PINs were hashed with the pepper the data was loaded with, so --skip-setup must reuse it.
    try:
        return json.loads(SECRETS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BenchError(
            f"--skip-setup: no secrets from an earlier setup in {SECRETS_FILE}; run once without --skip-setup"
        ) from None


def recreate_database() -> None:
    """A fresh `supportline_bench` every setup, so every run starts from the demo data alone."""
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    except psycopg.Error as exc:
        raise BenchError(f"PostgreSQL at 127.0.0.1:5432: {exc}".strip()) from None


def flush_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).flushdb()
    except redis.RedisError as exc:
        raise BenchError(f"Redis at {REDIS_URL}: {exc}") from None


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    exe = VENV_BIN / "supportline"
    if not exe.exists():
        raise BenchError(f"{exe} not found: install the project into the venv (pip install -e .)")
    return subprocess.run([str(exe), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


def setup(env: dict[str, str]) -> None:
    print(f"setup: database {DB_NAME} (recreated), migrations, {DEMO_FILE.relative_to(ROOT)}")
    recreate_database()
    res = run_cli(["db", "upgrade"], env)
    if res.returncode != 0:
        raise BenchError("`supportline db upgrade` failed:\n" + _tail(res.stderr or res.stdout))
    res = run_cli(["load", str(DEMO_FILE)], env)
    if res.returncode != 0:
        out = res.stderr + res.stdout
        if any(s in out for s in ("No such command", "ModuleNotFoundError", "ImportError", "cannot import name")):
            raise BenchError(
                "the routing-table loader is not there yet (`supportline load` / "
                "casestore.interchange could not run), so the demo data cannot be loaded:\n" + _tail(out)
            )
        raise BenchError(f"`supportline load {DEMO_FILE.name}` failed:\n" + _tail(out))
    print("  " + (res.stdout.strip().splitlines() or ["loaded"])[-1])
    res = run_cli(["presence", "set", "available", "--all"], env)
    if res.returncode != 0:
        raise BenchError("`supportline presence set available --all` failed:\n" + _tail(res.stderr or res.stdout))
    print("  " + res.stdout.strip())


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join("  " + line for line in text.strip().splitlines()[-lines:])


# =========================================================================== servers


class Server:
    """One gunicorn master (and its workers) as a child process, stopped with SIGTERM."""

    def __init__(
        self, name: str, app: str, port: int, workers: int, threads: int, env: dict[str, str], chdir: Path
    ) -> None:
        self.name, self.app, self.port = name, app, port
        self.workers, self.threads, self.env, self.chdir = workers, threads, env, chdir
        self.proc: subprocess.Popen | None = None
        self.log = Path(tempfile.gettempdir()) / "supportline_bench" / f"{name}-{port}.log"
        self.extra_args: list[str] = []  # more gunicorn options (storm.py: a control socket each)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", self.port)) == 0:
                raise BenchError(f"port {self.port} is already in use (--port to choose another)")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(VENV_BIN / "gunicorn"),
            "--config",
            str(ROOT / "gunicorn.conf.py"),
            "--workers",
            str(self.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(self.threads),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--chdir",
            str(self.chdir),
            "--log-level",
            "warning",
            *self.extra_args,
            self.app,
        ]
        env = dict(self.env, SUPPORTLINE_ACCESS_LOG="/dev/null")  # no access log in a benchmark
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )

    def wait_ready(self, method: str, path: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise BenchError(
                    f"{self.name} server exited with status {self.proc.returncode}:\n"
                    + _tail(self.log.read_text(errors="replace"))
                )
            try:
                if http_request(self.port, method, path)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise BenchError(f"{self.name} server not ready on {self.url} after {timeout:.0f} s (log: {self.log})")

    def stop(self) -> None:
        terminate(self.proc, timeout=20)


def terminate(proc: subprocess.Popen | None, timeout: float = 10) -> None:
    """SIGTERM a child that is still running; SIGKILL it if it has not exited after `timeout` s."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# =========================================================================== the demo's callers


@dataclass(frozen=True)
class Caller:
    contact_id: str
    pin: str
    e164: str | None  # None unless the number belongs to this contact alone
    district: str


@dataclass
class Demo:
    known: list[Caller]  # unique caller ID in a hosted district with an open, owned case
    hosted: list[Caller]  # every active contact of an active hosted district
    open_cases: dict[str, list[int]]  # district -> open cases with an active owner
    contact_ids: set[str]


def read_demo(path: Path) -> Demo:
    from casestore.phones import caller_e164

    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    districts = {d["name"]: d for d in doc["districts"]}
    live = [c for c in doc["contacts"] if c.get("active", True) and districts[c["district"]].get("active", True)]
    owners = {a["name"] for a in doc["advisors"] if a.get("active", True)}
    numbers = Counter(n for c in live for n in {caller_e164(str(p)) for p in c.get("phones", [])} if n)
    open_cases: dict[str, list[int]] = defaultdict(list)
    for case in doc["cases"]:
        if case.get("status") != "closed" and not case.get("is_outage") and case.get("owner") in owners:
            open_cases[case["district"]].append(int(case["number"]))
    hosted, known = [], []
    for c in live:
        if not districts[c["district"]].get("hosted"):
            continue
        own = [n for n in (caller_e164(str(p)) for p in c.get("phones", [])) if n and numbers[n] == 1]
        caller = Caller(str(c["contact_id"]), str(c["pin"]), own[0] if own else None, c["district"])
        hosted.append(caller)
        if caller.e164 and open_cases.get(caller.district):
            known.append(caller)
    if not known or not hosted:
        raise BenchError(f"{path}: no hosted contacts with their own number and an open case")
    return Demo(known, hosted, dict(open_cases), {str(c["contact_id"]) for c in doc["contacts"]})


# =========================================================================== call plans

PATHS = {
    "a": "known number, PIN, case -> owner accepts",
    "b": "known number, PIN, case -> owner no answer, next accepts",
    "c": "unknown number, contact ID, PIN, 0 (area not sure, not urgent) -> advisor accepts",
    "d": "unknown number, wrong PIN x3 -> locked out",
}
PATHS_CLOSED = {  # the same callers when the line is closed: option 8 (hosted) -> on-call chain
    "a": "known number, PIN, closed: 8 -> on-call accepts",
    "b": "known number, PIN, closed: 8 -> primary no answer, secondary accepts",
    "c": "unknown number, contact ID, PIN, closed: 8 -> on-call accepts",
    "d": PATHS["d"],
}
NEW_ISSUE = {"area": "0", "urgency": "3"}  # not sure of the area, not urgent: a general call at medium
MIX = {"a": 0.40, "b": 0.25, "c": 0.20, "d": 0.15}
EXPECTED = {"a": "connected", "b": "connected", "c": "connected", "d": "locked out"}


@dataclass
class Plan:
    kind: str
    from_number: str
    contact_ids: list[str]
    pins: list[str]
    menu: str  # what to press at the open-hours menu
    dial: list[str]  # outcome of each ring: accept / decline / no-answer / busy / failed


class Planner:
    """Deterministic call plans; unknown numbers and fake contact IDs are never reused."""

    def __init__(self, demo: Demo, seed: int) -> None:
        self.demo = demo
        self.rng = random.Random(seed)
        self.serial = 0

    def _unknown_number(self) -> str:
        self.serial += 1
        return f"+1312{7000000 + self.serial:07d}"  # 312-7xx-xxxx: valid, not in the demo (555)

    def _fake_contact_id(self) -> str:
        while True:
            cid = str(self.rng.randrange(900000, 1000000))
            if cid not in self.demo.contact_ids:
                return cid

    def plan(self, kind: str) -> Plan:
        rng = self.rng
        if kind in ("a", "b"):
            caller = rng.choice(self.demo.known)
            case = rng.choice(self.demo.open_cases[caller.district])
            dial = ["accept"] if kind == "a" else ["no-answer", "accept"]
            return Plan(kind, caller.e164 or "", [], [caller.pin], f"{case}#", dial)
        if kind == "c":
            caller = rng.choice(self.demo.hosted)
            return Plan(kind, self._unknown_number(), [f"{caller.contact_id}#"], [f"{caller.pin}#"], "0", ["accept"])
        wrong = f"{rng.randrange(10000):04d}#"
        cid = f"{self._fake_contact_id()}#"
        return Plan("d", self._unknown_number(), [cid] * 3, [wrong] * 3, "*", [])

    def plans(self, n: int) -> list[Plan]:
        kinds = self.rng.choices(list(MIX), weights=list(MIX.values()), k=n)
        return [self.plan(k) for k in kinds]


# =========================================================================== one call, over HTTP


def http_request(port: int, method: str, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=b"" if method == "POST" else None)
        res = conn.getresponse()
        return res.status, res.read()
    finally:
        conn.close()


class KeepAlive:
    """One persistent HTTP/1.1 connection (http.client: a light client, so that the load generator
    takes as little as possible of the CPU it shares with the servers)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in (1, 2):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                # Headers and body go out in one send (bytes body): no Nagle/delayed-ACK stalls.
                self.conn.request("POST", path, body=body, headers=headers)
                res = self.conn.getresponse()
                data = res.read()
                if res.will_close:
                    self.close()
                return res.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if not reused or attempt == 2:  # only a stale kept-alive connection is retried
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass
class Sample:
    step: str
    ms: float
    ok: bool


class Transport:
    """Signed, timed POSTs; `post` returns the parsed TwiML root, or None (an error sample)."""

    def __init__(
        self,
        conn: KeepAlive,
        public_base: str,
        token: str,
        samples: list[Sample],
        errors: list[str],
        fallback_text: str | None = None,
    ) -> None:
        self.conn = conn
        self.public_base = public_base
        self.validator = RequestValidator(token)
        self.samples = samples  # shared by the phase's threads (list.append is atomic)
        self.errors = errors  # likewise
        self.failed = 0  # this transport's (this thread's) failed requests
        self.fallback_text = fallback_text
        # What went wrong with the last request: None (nothing), "transport" (no HTTP answer),
        # "http" (not 200), "twiml" (not TwiML) or "fallback" (the service's fault apology).
        self.last_kind: str | None = None
        self.last_ms = 0.0  # the last request's latency, as in its Sample

    def post(self, path: str, params: dict[str, str]) -> ET.Element | None:
        signature = self.validator.compute_signature(self.public_base + path, params)
        step = urlsplit(path).path.rsplit("/", 1)[-1]
        body = urlencode(params).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
        started = time.perf_counter()
        try:
            status, body = self.conn.post(path, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            status, body = 0, f"{type(exc).__name__}: {exc}".encode()
        ms = self.last_ms = (time.perf_counter() - started) * 1000.0
        if THINK_SECONDS > 0:
            # A caller listens to the prompt and presses keys before the next webhook arrives.
            time.sleep(random.uniform(0.5, 1.5) * THINK_SECONDS)
        root = None
        problem = kind = None
        if status != 200:
            problem = f"{step}: HTTP {status or 'failed'} {body[:120]!r}"
            kind = "http" if status else "transport"
        else:
            try:
                root = ET.fromstring(body)
                if root.tag != "Response":
                    problem, root, kind = f"{step}: not TwiML ({root.tag})", None, "twiml"
            except ET.ParseError:
                problem, kind = f"{step}: unparseable TwiML {body[:120]!r}", "twiml"
        if (
            root is not None
            and self.fallback_text
            and any((v.text or "") == self.fallback_text for v in root.iter("Say"))
        ):
            problem, root, kind = f"{step}: the service answered with its fault fallback", None, "fallback"
        self.last_kind = kind
        self.samples.append(Sample(step, ms, problem is None))
        if problem:
            self.failed += 1
            self.errors.append(problem)
        return root


@dataclass
class CallResult:
    kind: str
    line: str = "?"  # open / closed, as the TwiML showed
    outcome: str = ""
    requests: int = 0
    errors: int = 0


def _local(target: str) -> str:
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def drive_call(tx: Transport, plan: Plan, locked_out_text: str) -> CallResult:
    """One complete call, following the TwiML exactly like twilio_doubles/simulator.py does."""
    result = CallResult(plan.kind)
    sid = "CA" + uuid.uuid4().hex
    base = {
        "CallSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": plan.from_number,
        "To": TO_NUMBER,
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    pins, cids, dials = iter(plan.pins), iter(plan.contact_ids), iter(plan.dial)
    asked: Counter[str] = Counter()
    params = dict(base, CallStatus="ringing")
    path = "/voice/incoming"
    holds, legs, duration = 0, 0, 0
    heard: list[str] = []
    failed_before = tx.failed

    def post(p: str, data: dict[str, str]) -> ET.Element | None:
        result.requests += 1
        return tx.post(p, data)

    def keys_for(step: str) -> str | None:
        asked[step] += 1
        if step == "pin":
            return next(pins, None)
        if step == "contact-id":
            return next(cids, None)
        if step == "menu":
            result.line = "open"
            return plan.menu if asked[step] == 1 else None
        if step == "closed":
            result.line = "closed"
            return "8" if asked[step] == 1 else None
        if step in NEW_ISSUE:  # after 0: the product area and the urgency (ivr/flow/area.py)
            return NEW_ISSUE[step] if asked[step] == 1 else None
        if step == "queue-menu":
            return ""  # on hold: this caller waits for their turn
        return None  # reopen offers and the like: this caller hangs up

    for _ in range(MAX_REQUESTS_PER_CALL):
        root = post(path, params)
        if root is None:
            result.outcome = "error"
            break
        params = dict(base, CallStatus="in-progress")
        next_path: str | None = None
        for verb in root:
            tag = verb.tag
            if tag == "Say":
                heard.append(verb.text or "")
            elif tag == "Gather":
                heard.extend(inner.text or "" for inner in verb if inner.tag == "Say")
                action = verb.get("action") or ""
                entry = keys_for(urlsplit(action).path.rsplit("/", 1)[-1])
                if entry is None:
                    result.outcome = result.outcome or "hung up at a prompt"
                    break
                if entry == "":
                    continue
                finish = verb.get("finishOnKey", "#")
                digits = entry[:-1] if finish and entry.endswith(finish) else entry
                params = dict(params, Digits=digits)
                next_path = action
                break
            elif tag == "Dial":
                next_path, params, talked, bridged = _dial(post, verb, base, sid, dials, legs)
                legs += len(verb)
                duration += talked
                if bridged:
                    result.outcome = "connected"
                break
            elif tag == "Record":
                params = dict(
                    params,
                    RecordingUrl="https://api.twilio.com/recordings/RE-bench",
                    RecordingDuration="20",
                    RecordingSid="RE" + uuid.uuid4().hex,
                )
                result.outcome = "message recorded"
                next_path = verb.get("action")
                break
            elif tag == "Redirect":
                next_path = (verb.text or "").strip()
                if "/voice/queue" in next_path:
                    holds += 1
                    if holds > HOLD_ROUNDS:
                        result.outcome = result.outcome or "hung up on hold"
                        next_path = None
                break
            elif tag in ("Hangup", "Enqueue"):
                break
        if next_path is None:
            break
        path = _local(next_path)
    if not result.outcome:
        result.outcome = "locked out" if any(locked_out_text in text for text in heard) else "line hung up"
    post("/voice/status", dict(base, CallStatus="completed", CallDuration=str(duration + 30)))
    result.errors = tx.failed - failed_before
    return result


def _dial(post, verb: ET.Element, base: dict[str, str], sid: str, dials: Iterator[str], legs: int):
    """Ring the first endpoint: its whisper, the callee's key, then the Dial action's status."""
    action = verb.get("action")
    for endpoint in verb:
        target = (endpoint.text or "").strip()
        whisper = endpoint.get("url")
        if whisper is None:  # a plain transfer (overflow): the call leaves the line
            return None, base, 0, True
        outcome = next(dials, "accept")
        bridged = False
        if outcome in ("accept", "decline"):
            child = {
                "CallSid": f"{sid}-leg{legs + 1}",
                "ParentCallSid": sid,
                "AccountSid": base["AccountSid"],
                "From": base["To"],
                "To": target,
                "CallStatus": "in-progress",
                "Direction": "outbound-api",
            }
            root = post(_local(whisper), child)
            gather = root.find("Gather") if root is not None else None
            if gather is not None:
                answer = post(
                    _local(gather.get("action") or ""), dict(child, Digits="1" if outcome == "accept" else "2")
                )
                bridged = answer is not None and answer.find("Hangup") is None
            status = "completed" if bridged or outcome == "decline" else "no-answer"
        else:
            status = outcome
        talked = TALK_SECONDS if bridged else 0
        params = dict(
            base,
            CallStatus="in-progress",
            DialCallStatus=status,
            DialCallSid="CA" + uuid.uuid4().hex,
            DialCallDuration=str(talked),
        )
        return (_local(action) if action else None), params, talked, bridged
    return (_local(action) if action else None), base, 0, False


def drive_floor_call(tx: Transport, n_requests: int) -> CallResult:
    """The floor's stand-in for a call: as many signed form POSTs, each answer parsed as TwiML."""
    result = CallResult("floor")
    sid = "CA" + uuid.uuid4().hex
    params = {
        "CallSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": "+13127000000",
        "To": TO_NUMBER,
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        "CallStatus": "in-progress",
    }
    failed_before = tx.failed
    for i in range(n_requests):
        result.requests += 1
        tx.post(f"/voice/floor?n={i}", dict(params, Digits=str(i % 10)))
    result.errors = tx.failed - failed_before
    result.outcome = "done"
    return result


# =========================================================================== phases and figures


def tree_cpu_seconds(pid: int | None) -> float | None:
    """CPU time (user + system) of a process and all its descendants, from /proc (Linux)."""
    if pid is None:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total, stack = 0, [pid]
    try:
        while stack:
            p = stack.pop()
            try:
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
                for tid in os.listdir(f"/proc/{p}/task"):
                    stack += [int(c) for c in Path(f"/proc/{p}/task/{tid}/children").read_text().split()]
            except FileNotFoundError:  # exited meanwhile
                continue
    except OSError:
        return None
    return total / tick


def host_cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies of the whole host, from /proc/stat (Linux)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    total = sum(values[:8])
    return total - values[3] - values[4], total


@dataclass
class Phase:
    name: str
    samples: list[Sample] = field(default_factory=list)
    results: list[CallResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0
    server_cpu: float | None = None  # seconds, gunicorn master + workers
    client_cpu: float | None = None  # seconds, this process (the load generator)
    host_busy: float | None = None  # fraction of all CPUs busy during the phase

    def figures(self) -> dict[str, float | int]:
        ms = sorted(s.ms for s in self.samples)
        return {
            "requests": len(ms),
            "errors": sum(not s.ok for s in self.samples),
            "calls": len(self.results),
            "seconds": round(self.wall, 3),
            "req_per_s": round(len(ms) / self.wall, 1) if self.wall else 0.0,
            "p50_ms": pct(ms, 50),
            "p90_ms": pct(ms, 90),
            "p99_ms": pct(ms, 99),
            "max_ms": round(ms[-1], 2) if ms else 0.0,
            "server_cpu_ms_per_req": _per_req(self.server_cpu, len(ms)),
            "client_cpu_ms_per_req": _per_req(self.client_cpu, len(ms)),
            "host_cpu_busy": round(self.host_busy, 3) if self.host_busy is not None else None,
        }


def _per_req(seconds: float | None, n: int) -> float | None:
    return round(seconds * 1000.0 / n, 2) if seconds is not None and n else None


def pct(sorted_ms: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_ms:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * len(sorted_ms)))
    return round(sorted_ms[min(rank, len(sorted_ms)) - 1], 2)


def run_phase(
    name: str,
    server: Server,
    jobs: list,
    concurrency: int,
    make_transport: Callable[[KeepAlive, list[Sample], list[str]], Transport],
    do_job: Callable[[Transport, object], CallResult],
) -> Phase:
    """Run `jobs` (one call each) on `concurrency` threads, each with its own keep-alive connection."""
    phase = Phase(name)
    local = threading.local()
    conns: list[KeepAlive] = []
    lock = threading.Lock()

    def work(job) -> CallResult:
        tx = getattr(local, "tx", None)
        if tx is None:
            conn = KeepAlive(server.port)
            with lock:
                conns.append(conn)
            tx = local.tx = make_transport(conn, phase.samples, phase.errors)
        return do_job(tx, job)

    pid = server.proc.pid if server.proc else None
    cpu0, host0, own0 = tree_cpu_seconds(pid), host_cpu_ticks(), time.process_time()
    started = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=name)
    try:
        phase.results = list(pool.map(work, jobs))
        pool.shutdown(wait=True)
    except BaseException:  # Ctrl-C: drop the queued calls; the ones in flight fail fast once
        pool.shutdown(wait=False, cancel_futures=True)  # the servers are stopped
        raise
    finally:
        phase.wall = time.perf_counter() - started
        cpu1, host1 = tree_cpu_seconds(pid), host_cpu_ticks()
        phase.client_cpu = time.process_time() - own0
        if cpu0 is not None and cpu1 is not None:
            phase.server_cpu = cpu1 - cpu0
        if host0 and host1 and host1[1] > host0[1]:
            phase.host_busy = (host1[0] - host0[0]) / (host1[1] - host0[1])
        for conn in conns:
            conn.close()
    return phase


def throughput_ratio(figures: dict[str, float | int], base: dict[str, float | int]) -> float:
    """req/s of `figures` over req/s of `base` (0 when the base served nothing)."""
    return figures["req_per_s"] / base["req_per_s"] if base["req_per_s"] else 0.0


def print_table(phases: list[Phase]) -> None:
    head = f"{'phase':<9}{'requests':>9}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}"
    print(head)
    print("-" * len(head))
    for phase in phases:
        f = phase.figures()
        print(
            f"{phase.name:<9}{f['requests']:>9}{f['errors']:>8}{f['req_per_s']:>9.1f}"
            f"{f['p50_ms']:>9.2f}{f['p90_ms']:>9.2f}{f['p99_ms']:>9.2f}{f['max_ms']:>9.2f}"
        )


def step_figures(phase: Phase) -> dict[str, dict[str, float | int]]:
    by_step: dict[str, list[float]] = defaultdict(list)
    for s in phase.samples:
        by_step[s.step].append(s.ms)
    out = {}
    for step, values in sorted(by_step.items(), key=lambda kv: -len(kv[1])):
        values.sort()
        out[step] = {
            "requests": len(values),
            "p50_ms": pct(values, 50),
            "p99_ms": pct(values, 99),
            "max_ms": round(values[-1], 2),
        }
    return out


def path_summary(phase: Phase) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for r in phase.results:
        label = (PATHS_CLOSED if r.line == "closed" else PATHS)[r.kind]
        entry = out.setdefault(f"{r.kind}: {label}", {"calls": 0, "outcomes": Counter()})
        entry["calls"] += 1
        entry["outcomes"][r.outcome] += 1
    for key, entry in out.items():
        entry["outcomes"] = dict(entry["outcomes"])
        entry["unexpected"] = sum(n for o, n in entry["outcomes"].items() if o != EXPECTED[key[0]])
    return dict(sorted(out.items()))


# =========================================================================== main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--calls", type=int, default=400, help="complete calls to drive (default 400)")
    p.add_argument("--concurrency", type=int, default=16, help="calls in flight (default 16)")
    p.add_argument(
        "--port", type=int, default=5077, help="service port (default 5077); the floor uses PORT+1, the io floor PORT+2"
    )
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    p.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker (default 8)")
    p.add_argument(
        "--warmup", type=int, default=None, help="unmeasured calls first (default: one per concurrent caller)"
    )
    p.add_argument("--seed", type=int, default=1, help="seed for the call mix (default 1)")
    p.add_argument(
        "--keep", action="store_true", help="leave the service's gunicorn running at the end (the floors are stopped)"
    )
    p.add_argument("--skip-setup", action="store_true", help="reuse the bench database and secrets of an earlier run")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures here")
    p.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean seconds a caller takes between webhooks (default 0: back to back, the "
        "throughput test; e.g. 1.0 for the latency of N paced concurrent calls)",
    )
    p.add_argument(
        "--at",
        default=CLOCK_START,
        help="the service's clock start, ISO 8601 with offset (default: a Tuesday 10:00 "
        "in Chicago, open hours); 'now' runs on the real clock",
    )
    p.add_argument("--strict", action="store_true", help="exit 3 when a target is missed or any request failed")
    args = p.parse_args(argv)
    if args.calls < 1 or args.concurrency < 1 or args.workers < 1 or args.threads < 1:
        p.error("--calls, --concurrency, --workers and --threads must be at least 1")
    if args.warmup is None:
        args.warmup = args.concurrency
    return args


def main(argv: list[str] | None = None) -> int:
    global CLOCK_START, THINK_SECONDS
    args = parse_args(argv)
    THINK_SECONDS = max(0.0, args.think)
    CLOCK_START = "" if args.at == "now" else args.at
    # SIGTERM to the bench behaves like Ctrl-C: the servers are stopped on the way out.
    signal.signal(signal.SIGTERM, _interrupt)
    servers: list[Server] = []
    keep: Server | None = None
    try:
        return _run(args, servers)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        for server in servers:
            if args.keep and server.name == "service" and server.proc and server.proc.poll() is None:
                keep = server
                continue
            server.stop()
        if keep is not None:
            print(
                f"--keep: service still running on {keep.url} (gunicorn pid {keep.proc.pid}; "
                f"stop with: kill {keep.proc.pid})"
            )


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _run(args: argparse.Namespace, servers: list[Server]) -> int:
    from ivr.prompts import say

    secret = saved_secrets() if args.skip_setup else new_secrets()
    env = child_env(args.port, secret)
    flush_redis()
    if not args.skip_setup:
        setup(env)
    demo = read_demo(DEMO_FILE)
    planner = Planner(demo, args.seed)
    warm_plans = planner.plans(args.warmup)
    plans = planner.plans(args.calls)
    # The first sentence, which both lockout prompts share (with and without the retry time).
    locked_out = say("locked_out", lang="en").split(". ")[0]
    fallback = say("fault_apology", lang="en")

    # ---- service
    service = Server("service", "webhooks:create_app()", args.port, args.workers, args.threads, env, ROOT)
    servers.append(service)
    service.start()
    service.wait_ready("GET", "/healthz")
    status, body = http_request(args.port, "GET", "/readyz")
    if status != 200:
        raise BenchError(f"service not ready: {body.decode(errors='replace').strip()}")
    public = env["PUBLIC_BASE_URL"]

    def service_tx(conn, samples, errors):
        return Transport(conn, public, secret["auth_token"], samples, errors, fallback)

    def call_job(tx, plan):
        return drive_call(tx, plan, locked_out)

    load1 = os.getloadavg()[0]
    print(
        f"service: gunicorn {args.workers} workers x {args.threads} threads on {service.url}; "
        f"{args.calls} calls, {args.concurrency} concurrent (+{args.warmup} warm-up); "
        f"host: {os.cpu_count()} CPUs, load average {load1:.2f} (client and servers share them)"
    )
    run_phase("warmup", service, warm_plans, args.concurrency, service_tx, call_job)
    svc = run_phase("service", service, plans, args.concurrency, service_tx, call_job)
    if not args.keep:
        service.stop()  # one server at a time

    # ---- floors: the same number of requests, in calls of the same lengths, same concurrency
    lengths = [r.requests for r in svc.results]

    def floor_phase(name: str, app: str, port: int, ready: tuple[str, str]) -> Phase:
        public = f"http://127.0.0.1:{port}"
        server = Server(name, app, port, args.workers, args.threads, dict(env, PUBLIC_BASE_URL=public), BENCH_DIR)
        servers.append(server)
        server.start()
        server.wait_ready(*ready)

        def floor_tx(conn, samples, errors):
            return Transport(conn, public, secret["auth_token"], samples, errors)

        warm_lengths = lengths[: args.warmup] or [1]
        run_phase("warmup", server, warm_lengths, args.concurrency, floor_tx, drive_floor_call)
        phase = run_phase(name, server, lengths, args.concurrency, floor_tx, drive_floor_call)
        server.stop()  # one server at a time
        return phase

    flo = floor_phase("floor", "floor_app:app", args.port + 1, ("POST", "/voice/ready"))
    iof = floor_phase("io-floor", "io_floor_app:app", args.port + 2, ("GET", "/healthz"))

    # ---- figures
    print()
    print_table([flo, iof, svc])
    ff, iff, sf = flo.figures(), iof.figures(), svc.figures()
    ratio, io_ratio = throughput_ratio(sf, ff), throughput_ratio(sf, iff)
    ratio_ok, p99_ok = ratio >= 0.6, sf["p99_ms"] <= 50.0
    print()
    print(f"ratio (service req/s / floor req/s): {ratio:.2f} (target >= 0.6){'' if ratio_ok else '  MISSED'}")
    print(f"ratio (service req/s / io-floor req/s): {io_ratio:.2f} (informational, no target)")
    print(
        f"p99 at concurrency {args.concurrency}: {sf['p99_ms']:.1f} ms (target <= 50 ms){'' if p99_ok else '  MISSED'}"
    )

    if sf["server_cpu_ms_per_req"] is not None:
        print(
            "CPU ms per request, server / client (host CPU busy): "
            + ", ".join(
                f"{name} {f['server_cpu_ms_per_req']:.2f} / {f['client_cpu_ms_per_req']:.2f} "
                f"({(f['host_cpu_busy'] or 0) * 100:.0f}%)"
                for name, f in (("floor", ff), ("service", sf))
            )
        )

    steps = step_figures(svc)
    print()
    print(
        "service latency by step:  "
        + "   ".join(
            f"{step} {v['requests']}x p50 {v['p50_ms']:.1f} p99 {v['p99_ms']:.1f}" for step, v in steps.items()
        )
    )
    paths = path_summary(svc)
    print("paths run:")
    for label, entry in paths.items():
        outcomes = ", ".join(f"{o} {n}" for o, n in sorted(entry["outcomes"].items()))
        flag = f"  <- {entry['unexpected']} unexpected" if entry["unexpected"] else ""
        print(f"  {label}: {entry['calls']} calls ({outcomes}){flag}")
    problems = Counter(svc.errors + flo.errors + iof.errors)
    if problems:
        print("errors:")
        for text, n in problems.most_common(8):
            print(f"  {n}x {text}")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "config": {
                        "calls": args.calls,
                        "concurrency": args.concurrency,
                        "workers": args.workers,
                        "threads": args.threads,
                        "worker_class": "gthread",
                        "warmup_calls": args.warmup,
                        "seed": args.seed,
                        "database": "postgresql",
                        "redis_db": 14,
                        "cpus": os.cpu_count(),
                        "load_average_before": round(load1, 2),
                    },
                    "phases": {"floor": ff, "io_floor": iff, "service": sf},
                    "ratio": round(ratio, 3),
                    "ratio_io_floor": round(io_ratio, 3),
                    "targets": {"ratio_min": 0.6, "p99_ms_max": 50.0, "ratio_met": ratio_ok, "p99_met": p99_ok},
                    "service_steps": steps,
                    "paths": paths,
                    "errors": dict(problems),
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"figures written to {args.json}")
    if args.strict and not (ratio_ok and p99_ok and not problems):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
