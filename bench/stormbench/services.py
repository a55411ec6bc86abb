"""The processes around the service: `supportline dispatcher` and `supportline worker` as child
processes, a private redis-server on a free port, and the Redis restart (the outage) on it."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from .board import Board
from .shared import PRESENCE_REGISTRY, REDIS_DB, ROOT, BenchError, base


class CliProcess:
    """A `supportline ...` command as a child process (its own session), stopped with SIGTERM."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.args, self.env, self.log = name, args, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = [str(base.VENV_BIN / "supportline"), *self.args]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(
                f"the {self.name} exited with status {self.proc.returncode}:\n"
                + base._tail(self.log.read_text(errors="replace"))
            )

    def stop(self) -> None:
        base.terminate(self.proc)


class DispatcherProcess(CliProcess):
    """`supportline dispatcher --interval S`: serves the line, reconciles presence every 30 s."""

    def __init__(self, env: dict[str, str], interval: float, log: Path) -> None:
        super().__init__("dispatcher", ["dispatcher", "--interval", f"{interval:g}"], env, log)


class WorkerProcess(CliProcess):
    """`supportline worker`: RQ jobs, and every 30 s the sweeps, among them the replay of the
    call-log records spooled while the database was down (workers/worker.py)."""

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
        cmd = [
            self.exe,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--daemonize",
            "no",
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        self.pids.append(self.proc.pid)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.proc.poll() is not None:
                    raise BenchError(
                        f"redis-server exited with status {self.proc.returncode}:\n"
                        + base._tail(self.log.read_text(errors="replace"))
                    )
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
                    print(
                        f"  t={outage.presence_back:5.1f}s  presence restored: {advisors} advisors have a record again",
                        flush=True,
                    )
                    return
            except redis.RedisError:
                pass
    finally:
        client.close()
