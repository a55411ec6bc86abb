"""One Redis for every process of a development instance: `supportline demo` serves it over TCP on a
local port and writes where it is (`<instance>/redis.url`); the other commands find it there.

Without REDIS_URL the service's default is an embedded Redis (`webhooks.services.make_redis`): an
in-process stand-in that no other process can see, so a second process (the CLI's `presence set`,
`queue`, `call --commit`, the worker, the dispatcher, another gunicorn worker) would each have its
own state. `serve` starts a real `redis-server` when one is on PATH (nothing kept on disk), else
fakeredis' TCP server in a thread of the demo process, bound to 127.0.0.1 on a free port. `find`
gives its URL while it answers, else None: a command then says so rather than use a private state.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

URL_FILE = "redis.url"
START_SECONDS = 10.0


@dataclass
class LocalRedis:
    """A running shared Redis: where it is, what it is, and how to stop it (removing `redis.url`)."""

    url: str
    kind: str  # "redis-server" or "fakeredis"
    _stop: Callable[[], None]
    _file: Path

    def stop(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            if self._file.read_text().strip() == self.url:
                self._file.unlink()
        self._stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str, timeout: float = 0.5) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def find(instance_path: str | Path) -> str | None:
    """The URL of the instance's shared Redis while it answers; None when none is running."""
    try:
        url = (Path(instance_path) / URL_FILE).read_text().strip()
    except OSError:
        return None
    return url if url and _answers(url) else None


def not_running(instance_path: str | Path) -> str:
    """What a command says when it needs the shared state and none answers."""
    return (
        f"no shared state to reach: no `supportline demo` is running for the instance {instance_path} "
        "(start `./dev demo` in another terminal, or set REDIS_URL to a Redis server)"
    )


def shared_config(settings, config: dict | None = None) -> dict:
    """Settings overrides that point an embedded-Redis configuration at the instance's shared Redis
    (unchanged with REDIS_URL set); raises click.ClickException when none is running."""
    import click

    out = dict(config or {})
    if settings.redis_embedded:
        url = find(settings.instance_path)
        if url is None:
            raise click.ClickException(not_running(settings.instance_path))
        out["redis_url"] = url
    return out


def serve(instance_path: str | Path, *, prefer_redis_server: bool = True) -> LocalRedis:
    """Start the instance's shared Redis (or return the one already answering) and write its URL."""
    folder = Path(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    existing = find(folder)
    if existing is not None:
        return LocalRedis(existing, "already running", lambda: None, folder / "redis.url.unused")
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    binary = shutil.which("redis-server") if prefer_redis_server else None
    if binary:
        stop, kind = _start_redis_server(binary, port, folder), "redis-server"
    else:
        stop, kind = _start_fakeredis(port), "fakeredis"
    deadline = time.monotonic() + START_SECONDS
    while not _answers(url):
        if time.monotonic() > deadline:
            stop()
            raise RuntimeError(f"the local Redis ({kind}) did not answer on port {port}")
        time.sleep(0.05)
    (folder / URL_FILE).write_text(url + "\n")
    return LocalRedis(url, kind, stop, folder / URL_FILE)


def _start_redis_server(binary: str, port: int, folder: Path) -> Callable[[], None]:
    args = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen([*args, "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()

    return stop


def _start_fakeredis(port: int) -> Callable[[], None]:
    import fakeredis

    server = fakeredis.TcpFakeServer(("127.0.0.1", port), server_type="redis")
    thread = threading.Thread(target=server.serve_forever, name="local-redis", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop
