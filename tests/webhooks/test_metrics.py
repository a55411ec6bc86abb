"""Prometheus metrics: GET /metrics after simulated calls (latency histogram, responses, calls,
PIN failures and lockouts), the scrape-time gauges from Redis and the database, a source that
fails at scrape time, access control (localhost or METRICS_TOKEN), and multiprocess mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
import redis as redis_lib
from prometheus_client.parser import text_string_to_metric_families

from casestore.models import Incident, Page
from routing.callqueue import CallQueue, entry_for
from tests.factories import World


def scrape(client, **kw) -> str:
    res = client.get("/metrics", **kw)
    assert res.status_code == 200, res.get_data(as_text=True)
    assert res.headers["Content-Type"].startswith("text/plain")
    return res.get_data(as_text=True)


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


def delta(before: str, after: str, name: str, **labels: str) -> float:
    return (value(after, name, **labels) or 0.0) - (value(before, name, **labels) or 0.0)


@pytest.fixture
def svc(app):
    return app.extensions["supportline"]


# --------------------------------------------------------------------------- what the webhooks count


def test_a_call_shows_in_the_latency_histogram_the_responses_and_the_calls(sim, world, client):
    before = scrape(client)
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    assert t.connected_to
    after = scrape(client)

    assert "# TYPE supportline_webhook_duration_seconds histogram" in after
    for step in ("incoming", "pin", "menu", "whisper", "whisper-accept", "dial-result", "status"):
        assert delta(before, after, "supportline_webhook_duration_seconds_count", step=step) == 1, step
        assert delta(before, after, "supportline_webhook_responses_total", step=step, outcome="ok") == 1, step
        # every observation lands at or below the 5 s bucket; the smallest bucket is 1 ms
        assert delta(before, after, "supportline_webhook_duration_seconds_bucket", step=step, le="5.0") == 1
        assert value(after, "supportline_webhook_duration_seconds_bucket", step=step, le="0.001") is not None
    assert delta(before, after, "supportline_calls_total", outcome="connected") == 1
    assert delta(before, after, "supportline_verification_failures_total") == 0


def test_a_repeated_status_callback_counts_the_call_once(sim, world, client):
    sid = "CA" + "7" * 32
    before = scrape(client)
    sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"], call_sid=sid)
    sim.post(
        "/voice/status",
        {
            "CallSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": World.DANA_PHONE,
            "To": sim.to_number,
            "CallStatus": "completed",
            "CallDuration": "210",
        },
    )
    after = scrape(client)
    assert delta(before, after, "supportline_calls_total", outcome="connected") == 1
    assert delta(before, after, "supportline_webhook_duration_seconds_count", step="status") == 2


def test_wrong_pins_count_as_failures_then_a_lockout_and_a_locked_caller_is_counted_apart(sim, world, client):
    before = scrape(client)
    t = sim.call(World.DANA_PHONE, keys=["1111#", "2222#", "3333#"])
    assert t.said("contact your district's technical team")  # locked out
    middle = scrape(client)
    assert delta(before, middle, "supportline_verification_failures_total") == 3
    assert delta(before, middle, "supportline_lockouts_total", reason="too_many_failures") == 1
    assert delta(before, middle, "supportline_lockouts_total", reason="already_locked") == 0
    assert delta(before, middle, "supportline_calls_total", outcome="locked_out") == 1

    sim.call(World.DANA_PHONE, keys=["4821#"])  # the number is locked: turned away at the greeting
    after = scrape(client)
    assert delta(middle, after, "supportline_lockouts_total", reason="already_locked") == 1
    assert delta(middle, after, "supportline_verification_failures_total") == 0
    assert delta(middle, after, "supportline_calls_total", outcome="locked_out") == 1


def test_unsigned_webhooks_count_as_forbidden_under_a_bounded_step_label(client):
    before = scrape(client)
    assert client.post("/voice/pin", data={"CallSid": "CAx", "Digits": "4821"}).status_code == 403
    assert client.post("/voice/anything-at-all", data={"CallSid": "CAx"}).status_code == 403
    assert client.post("/page/key?page=1", data={"CallSid": "CAx", "Digits": "4"}).status_code == 403
    after = scrape(client)
    assert delta(before, after, "supportline_webhook_responses_total", step="pin", outcome="forbidden") == 1
    assert delta(before, after, "supportline_webhook_responses_total", step="unknown", outcome="forbidden") == 1
    assert delta(before, after, "supportline_webhook_responses_total", step="page-key", outcome="forbidden") == 1
    assert 'step="anything-at-all"' not in after


# --------------------------------------------------------------------------- scrape-time gauges


def test_queue_presence_pages_and_job_gauges_show_what_is_set_up(client, svc, world, redis_client, session, clock):
    now = clock()
    line = CallQueue(redis_client)
    line.join(
        entry_for(
            "CAq1",
            priority_rank=1,
            queued_at=now - timedelta(seconds=90),
            skill="grade_book",
            teams=(),
            owner_pk=None,
            owner_waits=False,
        )
    )
    line.join(
        entry_for(
            "CAq2",
            priority_rank=2,
            queued_at=now - timedelta(seconds=30),
            skill="grade_book",
            teams=(),
            owner_pk=None,
            owner_waits=False,
        )
    )
    line.join(
        entry_for(
            "CAq3",
            priority_rank=2,
            queued_at=now - timedelta(seconds=10),
            skill=None,
            teams=(),
            owner_pk=None,
            owner_waits=False,
        )
    )
    svc.presence.set_state(world.priya.id, "away", now, reason="lunch")
    svc.presence.set_state(world.lena.id, "offline", now)

    incident = Incident(
        case_id=world.open_case.id,
        district_id=world.hosted.id,
        state="acknowledged",
        triggered_at=now - timedelta(minutes=20),
        acknowledged_at=now - timedelta(minutes=5),
    )
    session.add(incident)
    session.flush()
    for channel, sid, status, result in (
        ("voice", "CAp1", "completed", "acknowledged"),
        ("voice", "CAp2", "no-answer", None),
        ("sms", "SMp3", "delivered", None),
        ("voice", None, "rate_limited", None),
    ):
        session.add(
            Page(
                incident_id=incident.id,
                engineer_id=world.sam.id,
                channel=channel,
                sid=sid,
                status=status,
                result=result,
                created_at=now - timedelta(minutes=10),
                updated_at=now,
            )
        )
    session.add(
        Page(
            incident_id=incident.id,
            engineer_id=world.sam.id,
            channel="voice",
            sid="CAold",
            status="completed",
            result="acknowledged",
            created_at=now - timedelta(days=1),
            updated_at=now,
        )
    )
    session.commit()

    job = svc.jobs.enqueue(json.dumps, "queued")
    job.enqueued_at = job.enqueued_at - timedelta(seconds=120)
    job.save()
    svc.jobs.schedule(now - timedelta(seconds=45), json.dumps, "due", job_id="timer-due")
    svc.jobs.schedule(now + timedelta(minutes=5), json.dumps, "later", job_id="timer-later")

    text = scrape(client)
    assert value(text, "supportline_queue_waiting", skill="grade_book") == 2
    assert value(text, "supportline_queue_waiting", skill="general") == 1
    assert value(text, "supportline_queue_waiting", skill="scheduling") == 0
    assert value(text, "supportline_queue_longest_wait_seconds", skill="grade_book") == pytest.approx(90)
    assert value(text, "supportline_queue_longest_wait_seconds", skill="general") == pytest.approx(10)

    assert value(text, "supportline_advisors", state="available") == 1  # marcus
    assert value(text, "supportline_advisors", state="away") == 1
    assert value(text, "supportline_advisors", state="offline") == 1
    assert value(text, "supportline_advisors", state="on_call") == 0

    assert value(text, "supportline_pages_sent_today", channel="voice") == 2  # not the held one, not yesterday's
    assert value(text, "supportline_pages_sent_today", channel="sms") == 1
    assert value(text, "supportline_pages_acknowledged_today", channel="voice") == 1
    assert value(text, "supportline_incidents_acknowledged_today") == 1

    assert value(text, "supportline_jobs_queued") == 1
    assert 119 <= value(text, "supportline_jobs_oldest_queued_seconds") < 180
    assert value(text, "supportline_jobs_scheduled") == 2
    assert value(text, "supportline_jobs_timer_lag_seconds") == pytest.approx(45)
    for source in ("queue", "presence", "pages", "jobs"):
        assert value(text, "supportline_scrape_error", source=source) == 0


def test_redis_down_at_scrape_time_gives_the_error_gauge_and_still_a_page(client, svc, world, monkeypatch):
    from ivr.jobs import Jobs
    from routing.presence import Presence

    dead = redis_lib.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.5, socket_timeout=0.5, decode_responses=True
    )
    monkeypatch.setattr(svc, "redis", dead)
    monkeypatch.setattr(svc, "presence", Presence(dead, "America/Chicago"))
    monkeypatch.setattr(svc, "jobs", Jobs(dead))

    text = scrape(client)
    assert value(text, "supportline_scrape_error", source="queue") == 1
    assert value(text, "supportline_scrape_error", source="presence") == 1
    assert value(text, "supportline_scrape_error", source="jobs") == 1
    assert value(text, "supportline_scrape_error", source="pages") == 0  # the database is fine
    assert value(text, "supportline_pages_sent_today", channel="voice") == 0
    assert "supportline_queue_waiting" not in text and "supportline_advisors{" not in text
    assert "# TYPE supportline_webhook_duration_seconds histogram" in text  # the counters are still served


def test_a_database_failure_at_scrape_time_only_blanks_its_own_gauges(client, svc, world, monkeypatch):
    def broken():
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(svc, "sessions", broken)
    text = scrape(client)
    assert value(text, "supportline_scrape_error", source="pages") == 1
    assert value(text, "supportline_scrape_error", source="presence") == 1  # the roster is in the database
    assert value(text, "supportline_scrape_error", source="queue") == 0
    assert value(text, "supportline_scrape_error", source="jobs") == 0
    assert value(text, "supportline_queue_waiting", skill="general") == 0


# --------------------------------------------------------------------------- who may read it


REMOTE = {"environ_base": {"REMOTE_ADDR": "203.0.113.9"}}


def test_localhost_may_read_without_a_token(client, monkeypatch):
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_anyone_else_is_refused_without_a_token(client, monkeypatch):
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    res = client.get("/metrics", **REMOTE)
    assert res.status_code == 403
    assert "supportline_" not in res.get_data(as_text=True)
    # a proxy on this machine relaying an outside request does not make it local
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403


def test_a_bearer_token_opens_it_from_anywhere(client, monkeypatch):
    monkeypatch.setenv("METRICS_TOKEN", "old-scrape-token-123, new-scrape-token-456")
    res = client.get("/metrics", **REMOTE)
    assert res.status_code == 401
    assert res.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}, **REMOTE).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Basic new-scrape-token-456"}, **REMOTE).status_code == 401
    for token in ("old-scrape-token-123", "new-scrape-token-456"):
        res = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}, **REMOTE)
        assert res.status_code == 200
        assert "supportline_scrape_error" in res.get_data(as_text=True)
    assert client.get("/metrics").status_code == 200  # localhost still needs none


# --------------------------------------------------------------------------- several processes


def test_multiprocess_mode_adds_up_every_worker_and_marks_dead_ones(tmp_path, repo_root):
    """Under gunicorn with PROMETHEUS_MULTIPROC_DIR: each forked worker writes its own file, and
    /metrics (any worker) serves the sum; a stale directory is emptied at the master's start."""
    mp = tmp_path / "prom"
    mp.mkdir()
    (mp / "counter_999999.db").write_bytes(b"stale")  # a previous run's file
    script = textwrap.dedent("""
        import os, types
        from webhooks import metrics

        metrics.clear_multiproc_dir()
        assert not os.path.exists(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "counter_999999.db"))
        pids = []
        for _ in range(2):  # two "workers", forked from a "master" that imported the metrics
            pid = os.fork()
            if pid == 0:
                metrics.observe_webhook("pin", "ok", 0.004)
                metrics.observe_call(metrics.CallMark(0, "pin"), types.SimpleNamespace(failures=1, step="pin"), None)
                os._exit(0)
            os.waitpid(pid, 0)
            pids.append(pid)
        for pid in pids:
            metrics.child_exit(None, types.SimpleNamespace(pid=pid))

        class Svc:  # no Redis or database here: every live source reports its error
            def now(self):
                from datetime import datetime, timezone
                return datetime.now(timezone.utc)

        print(metrics.render(Svc()).decode())
    """)
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(mp))
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=repo_root, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert value(text, "supportline_webhook_responses_total", step="pin", outcome="ok") == 2
    assert value(text, "supportline_webhook_duration_seconds_count", step="pin") == 2
    assert value(text, "supportline_webhook_duration_seconds_bucket", step="pin", le="0.005") == 2
    assert value(text, "supportline_verification_failures_total") == 2
    assert value(text, "supportline_scrape_error", source="queue") == 1


def test_gunicorn_config_wires_the_hooks(repo_root):
    config: dict = {}
    exec(compile((repo_root / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), config)
    assert callable(config["child_exit"]) and callable(config["on_starting"])
    assert "x-request-id" in config["access_log_format"]
    from gunicorn.glogging import Logger

    assert issubclass(config["logger_class"], Logger)
