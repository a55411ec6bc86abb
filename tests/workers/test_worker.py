"""The in-process worker of `./dev demo` (embedded Redis): it runs jobs and serves the waiting
line from a thread that is not the main one, where RQ may not install signal handlers."""

from __future__ import annotations

import threading
import time

import fakeredis

from casestore.db import make_engine, make_session_factory, upgrade

RAN: list[str] = []


def record(word: str) -> None:
    """A job: what it was given, kept where the test can see it."""
    RAN.append(word)


def test_the_in_process_worker_runs_jobs_from_its_own_thread(settings_overrides, tmp_path, clock, caplog):
    from webhooks import create_app
    from workers.worker import start_in_process

    engine = make_engine(f"sqlite:///{tmp_path / 'worker.sqlite3'}")
    upgrade(engine)
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    app = create_app(
        dict(settings_overrides, instance_path=tmp_path / "inst"),
        engine=engine,
        sessions=make_session_factory(engine),
        redis_client=client,
        clock=clock,
    )
    svc = app.extensions["supportline"]
    RAN.clear()
    svc.jobs.enqueue(record, "first")
    stop = threading.Event()
    thread = start_in_process(svc, stop)
    try:
        deadline = time.monotonic() + 10
        while "first" not in RAN and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for the worker thread, not for the service's clock
        svc.jobs.enqueue(record, "second")  # a later pass takes later jobs too
        while "second" not in RAN and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
        engine.dispose()
    assert RAN == ["first", "second"]
    assert "in-process worker pass failed" not in caplog.text
