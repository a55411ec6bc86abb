"""The storm run: set up, start the services, dispatcher, worker and fake carrier, release the
callers at their arrival times (with progress lines, the Redis restart and the deadline), wait
for the spool to drain, then collect the figures and print them."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable

import redis

from .board import Board, CallPlan, CallRecord, ConnectionPool, Storm, make_plans
from .callers import Caller
from .figures import build_report, ops_figures, scan_log, service_side
from .report import print_figures, print_ops, targets, write_json
from .services import DispatcherProcess, Outage, RedisServer, WorkerProcess, restart_redis
from .setup import demo_caller, staff_advisors, storm_env, use_storm_database
from .shared import DEMO_CONTACT_ID, REDIS_DB, ROOT, STORM_DIR, BenchError, FakeTwilio, base


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
        print(
            f"  t={board.now():5.0f}s  arrived {arrived:>5}/{total}  in menus {p.get('menus', 0):>4}"
            f"  waiting {p.get('waiting', 0) + p.get('choosing', 0):>4}  talking {p.get('talking', 0):>3}"
            f"  done {p.get('done', 0):>5}  redirects {len(storm.fake.updates):>5}"
            f"  errors {len(storm.errors)}",
            flush=True,
        )


def run_bench(args: argparse.Namespace, cleanup: list[Callable[[], None]]) -> int:
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
    print(
        f"advisors: {len(roster)} signed in; callers: demo contact {DEMO_CONTACT_ID} "
        f"({phone}), PIN, then 0 (next available advisor)"
    )

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

    plans = make_plans(args.calls, args.arrival_seconds, args.talk, args.callback_share, args.hangup_share, args.seed)
    board = Board()
    pool = ConnectionPool(ports)
    cleanup.append(pool.close)
    client = redis.Redis.from_url(base.REDIS_URL, decode_responses=True, socket_timeout=2.0, socket_connect_timeout=1.0)
    cleanup.append(client.close)
    storm = Storm(
        board,
        pool,
        env["PUBLIC_BASE_URL"],
        secret["auth_token"],
        say("fault_apology", lang="en"),
        fake,
        roster,
        phone,
        pin,
        args.max_wait,
        client,
    )
    fake.on_update(board.hear_update)
    load1 = os.getloadavg()[0]
    print(
        f"storm: {args.calls} calls within {args.arrival_seconds:g} s, {len(roster)} advisors, talk "
        f"{args.talk:g} s +/-50%, wrap-up {args.wrap_up:g} s; leave the line: "
        f"{args.callback_share:.0%} callback, {args.hangup_share:.0%} hang up"
    )
    print(
        f"service: {args.processes} x gunicorn {args.workers} workers x {args.threads} threads on "
        f"{', '.join(s.url for s in services)} (PUBLIC_BASE_URL {env['PUBLIC_BASE_URL']}, "
        f"round-robin), dispatcher every {args.dispatch_interval:g} s, a worker, fake Twilio REST "
        f"on {fake.base_url}; host: {os.cpu_count()} CPUs, load average {load1:.2f}"
    )
    redis_line = (
        f"private redis-server on port {redis_server.port} (no persistence, log {redis_server.log}), db {REDIS_DB}"
        if redis_server
        else f"shared Redis at 127.0.0.1:6379, db {REDIS_DB}"
    )
    outage = None
    if args.restart_redis_at is not None:
        outage = Outage(args.restart_redis_at, args.redis_downtime, redis_server.port)
        redis_line += (
            f"; SIGKILL at t={args.restart_redis_at:g} s, started again (empty) {args.redis_downtime:g} s later"
        )
    print(f"redis: {redis_line}")

    deadline = args.arrival_seconds + args.max_wait + 3 * args.talk + 120.0
    helpers = [dispatcher, worker]
    pids = [p.proc.pid for p in (*services, *helpers) if p.proc is not None]
    cpu0, host0, own0 = _server_cpu(pids), base.host_cpu_ticks(), time.process_time()
    if args.progress > 0:
        threading.Thread(target=progress, args=(storm, args.progress, args.calls), daemon=True).start()
    if outage is not None:
        threading.Thread(
            target=restart_redis, args=(redis_server, outage, board, len(roster)), name="redis-restart", daemon=True
        ).start()
    records = run_storm(storm, plans, deadline)
    wall = board.now()
    cpu1, host1 = _server_cpu(pids), base.host_cpu_ticks()
    print(f"storm over after {wall:.0f} s; {pool.opened} keep-alive connections were opened")

    phase = base.Phase(
        "storm", samples=list(storm.samples), results=list(records), wall=wall, errors=list(storm.errors)
    )
    phase.client_cpu = time.process_time() - own0
    if cpu0 is not None and cpu1 is not None:
        phase.server_cpu = cpu1 - cpu0
    if host0 and host1 and host1[1] > host0[1]:
        phase.host_busy = (host1[0] - host0[0]) / (host1[1] - host0[1])
    spool = wait_for_replay(worker, args.replay_wait)
    service_view = service_side(records, roster, board.wall0)
    states = {
        h.name: ("running" if h.alive() else f"EXITED with status {h.proc.returncode} (log {h.log})") for h in helpers
    }
    for server in services:
        server.stop()
    for helper in helpers:
        helper.stop()
    updates = fake.updates
    carrier = {
        "requests": fake.requests,
        "redirects": sum(1 for u in updates if u.get("Url")),
        "refused": fake.requests - len(updates) - len(fake.calls) - len(fake.messages),
    }
    logs = {
        (f"service {i + 1}" if len(services) > 1 else "service"): scan_log(server.log)
        for i, server in enumerate(services)
    }
    logs.update(dispatcher=scan_log(dispatcher.log), worker=scan_log(worker.log))
    processes = {
        "ports": ports,
        "public_base_url": env["PUBLIC_BASE_URL"],
        "redis": redis_line,
        "requests": {str(port): pool.sent[port] for port in ports},
        "spool": spool,
        "helpers": states,
    }
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
        res = subprocess.run([str(base.VENV_BIN / "gunicorn"), "--help"], capture_output=True, text=True, timeout=30)
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
