"""Structured logs: one JSON line per webhook with its fields, JSON for every other record, no
phone number, PIN or case contents in any line, LOG_FORMAT, and the request id: echoed in the
response, carried into the RQ jobs a webhook enqueues and into the worker's lines for them."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from twilio.request_validator import RequestValidator

from casestore.models import Engineer, EscalationPolicy, EscalationStep, Incident
from tests.conftest import AUTH_TOKEN, BASE_URL
from tests.factories import World
from twilio_doubles.simulator import CallSimulator, advance_clock
from webhooks import logs

WEBHOOK_FIELDS = {"ts", "level", "event", "request_id", "call_sid", "step", "outcome", "ms", "status"}


@pytest.fixture
def log_lines():
    """Every record (DEBUG and up) as the JSON formatter writes it; returns a reader of the lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)

    def read() -> list[dict]:
        raw = [line for line in stream.getvalue().splitlines() if line.strip()]
        return [json.loads(line) for line in raw]  # every line is one JSON object

    yield read
    root.removeHandler(handler)
    root.setLevel(level)


def signed_post(client, path: str, params: dict, headers: dict | None = None):
    signature = RequestValidator(AUTH_TOKEN).compute_signature(BASE_URL + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature, **(headers or {})})


def _text_of(record: dict) -> str:
    """What a line says, without its random identifiers (a uuid could hold any four digits)."""
    return json.dumps({k: v for k, v in record.items() if k not in ("ts", "request_id", "call_sid", "job_id")})


# --------------------------------------------------------------------------- the lines


def test_one_json_line_per_webhook_with_its_fields(sim, world, log_lines):
    sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    lines = log_lines()
    hooks = [r for r in lines if r.get("event") == "webhook"]
    assert [r["step"] for r in hooks] == [
        "incoming",
        "pin",
        "menu",
        "whisper",
        "whisper-accept",
        "dial-result",
        "status",
    ]
    for r in hooks:
        assert set(r) >= WEBHOOK_FIELDS, r
        assert r["level"] == "INFO" and r["outcome"] == "ok" and r["status"] == 200
        assert isinstance(r["ms"], (int, float)) and r["ms"] >= 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["ts"])
        assert r["call_sid"].startswith("CA")
    assert len({r["request_id"] for r in hooks}) == len(hooks)  # one id per request


def test_no_phone_number_pin_or_case_contents_in_any_line(sim, world, log_lines):
    # a wrong PIN first (it is logged as a mismatch, masked), then the right one and a case
    sim.call(World.DANA_PHONE, keys=["9753#", "4821#", "240117#"], dial=["no-answer", "accept"])
    sim.call("(612) 555-0177", keys=["104233#", "8642#"])  # an unknown number, a contact ID, a wrong PIN
    lines = log_lines()
    assert any("***0134" in r["message"] for r in lines)  # the caller is there, masked
    for r in lines:
        said = _text_of(r)
        for secret in (
            "6125550134",
            "555-0134",
            "5550134",
            "6125550177",
            "5550177",  # numbers
            "4821",
            "9753",
            "8642",
            "104233",  # PINs, contact ID
            "GPA rounding",
            "Whitfield",
        ):  # case and contact
            assert secret not in said, (secret, r)


def test_every_other_record_is_json_too_with_the_exception_as_text(log_lines, app):
    log = logging.getLogger("supportline.test")
    with app.test_request_context("/", headers={"X-Request-Id": "req-for-a-plain-line"}):
        app.preprocess_request()
        log.warning("callback to %s failed after %d tries", "+1 612 555 0134", 3)
        try:
            raise ValueError("no route to +16125550134")
        except ValueError:
            log.exception("dispatch failed")
    lines = log_lines()
    warning = next(r for r in lines if r["message"].startswith("callback to"))
    assert warning == {
        "ts": warning["ts"],
        "level": "WARNING",
        "logger": "supportline.test",
        "message": "callback to ***0134 failed after 3 tries",
        "request_id": "req-for-a-plain-line",
    }
    error = next(r for r in lines if r["message"] == "dispatch failed")
    assert error["level"] == "ERROR"
    assert "Traceback" in error["exc_info"] and "ValueError: no route to ***0134" in error["exc_info"]
    assert "6125550134" not in error["exc_info"]


@pytest.mark.parametrize(
    "text, masked",
    [
        ("+16125550134", "***0134"),
        ("from=+1 (612) 555-0134 retry", "from=***0134 retry"),
        ("(612) 555-0134", "***0134"),
        ("612.555.0134 and 612-555-0134", "***0134 and ***0134"),
        ("6125550134", "***0134"),
        ("+44 20 7946 0958", "***0958"),
    ],
)
def test_redact_masks_phone_numbers_in_any_notation(text, masked):
    assert logs.redact(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "closure on 2026-12-31 at 18:00:00",
        "case 240117 reopened",
        "call=CA0123456789abcdef0123456789abcdef",
        "ms=1234.5",
        "incident 42 page 7",
        "took 1763391600.25 s",
        "***0134",
    ],
)
def test_redact_leaves_dates_ids_and_figures_alone(text):
    assert logs.redact(text) == text


def test_log_format_defaults_and_configure_is_idempotent(monkeypatch):
    assert logs.log_format(development=False, environ={}) == "json"
    assert logs.log_format(development=True, environ={}) == "text"
    assert logs.log_format(development=True, environ={"LOG_FORMAT": "JSON"}) == "json"
    assert logs.log_format(development=False, environ={"LOG_FORMAT": "text"}) == "text"
    assert logs.log_format(development=False, environ={"LOG_FORMAT": "xml"}) == "json"

    monkeypatch.setenv("LOG_FORMAT", "text")
    root = logging.getLogger()
    try:
        logs.configure(development=False)
        logs.configure(development=False)
        ours = [h for h in root.handlers if getattr(h, "_supportline", False)]
        assert len(ours) == 1 and isinstance(ours[0].formatter, logs.TextFormatter)
        record = logging.LogRecord("supportline.x", logging.INFO, __file__, 1, "caller %s", ("+16125550134",), None)
        assert logs.TextFormatter().format(record).endswith("INFO    supportline.x caller ***0134")
    finally:
        monkeypatch.delenv("LOG_FORMAT")
        logs.configure(development=False)
    ours = [h for h in root.handlers if getattr(h, "_supportline", False)]
    assert len(ours) == 1 and isinstance(ours[0].formatter, logs.JsonFormatter)


def test_log_level_quietens_the_webhook_lines(monkeypatch):
    root = logging.getLogger()
    level = root.level
    assert logs.log_level({}) is None and logs.log_level({"LOG_LEVEL": "loud"}) is None
    try:
        logs.configure(development=False, environ={"LOG_LEVEL": "warning"})
        assert root.level == logging.WARNING
        logs.configure(development=False, environ={})
        assert root.level == logging.INFO  # unset again: INFO, so the webhook lines are written
    finally:
        root.setLevel(level)


# --------------------------------------------------------------------------- request ids


def test_the_request_id_is_taken_from_the_request_or_made_and_echoed(client, world, log_lines):
    params = {"CallSid": "CA" + "5" * 32, "From": World.DANA_PHONE, "To": "+18005550100", "CallStatus": "ringing"}
    res = signed_post(client, "/voice/incoming", params, {"X-Request-Id": "lb-7f3a9c"})
    assert res.status_code == 200 and res.headers["X-Request-Id"] == "lb-7f3a9c"
    res = signed_post(
        client,
        "/voice/incoming",
        dict(params, CallSid="CA" + "6" * 32),
        {"I-Twilio-Idempotency-Token": "a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"},
    )
    assert res.headers["X-Request-Id"] == "a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    made = signed_post(client, "/voice/incoming", dict(params, CallSid="CA" + "7" * 32)).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    odd = signed_post(
        client, "/voice/incoming", dict(params, CallSid="CA" + "8" * 32), {"X-Request-Id": "x" * 129}
    ).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", odd)  # too long (or odd characters): a new one, not an echo
    assert client.get("/healthz", headers={"X-Request-Id": "probe-1"}).headers["X-Request-Id"] == "probe-1"
    assert client.post("/voice/pin", data={}, headers={"X-Request-Id": "evil-1"}).headers["X-Request-Id"] == "evil-1"

    ids = [r["request_id"] for r in log_lines() if r.get("event") == "webhook"]
    assert ids[:3] == ["lb-7f3a9c", "a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d", made]
    assert ids[-1] == "evil-1"  # the forbidden one is logged too
    assert [r["outcome"] for r in log_lines() if r.get("event") == "webhook"][-1] == "forbidden"


class Tagging:
    """A test client that sends its own X-Request-Id with every request and remembers them."""

    def __init__(self, client) -> None:
        self.client = client
        self.sent: list[tuple[str, dict, str]] = []

    def post(self, path, data=None, headers=None):
        rid = f"req-{len(self.sent):03d}"
        res = self.client.post(path, data=data, headers={**(headers or {}), "X-Request-Id": rid})
        assert res.headers["X-Request-Id"] == rid
        self.sent.append((path, dict(data or {}), rid))
        return res


@pytest.fixture
def settings_overrides(settings_overrides):
    return dict(settings_overrides, twilio_caller_id="+18005550100")


@pytest.fixture
def policy(session, world):
    manager = Engineer(name="Avery Johnson", phone="+16125550199", sms=False)
    p = EscalationPolicy(name="Hosted outage", repeats=1, manager=manager, is_default=True)
    p.steps = [
        EscalationStep(position=0, delay_minutes=5, layers="primary"),
        EscalationStep(position=1, delay_minutes=5, layers="secondary"),
    ]
    session.add_all([manager, p])
    session.commit()
    return p


def test_the_request_id_reaches_the_job_and_the_worker_lines(app, client, clock, world, policy, session, log_lines):
    from rq.job import Job

    from workers.worker import run_worker

    svc = app.extensions["supportline"]
    tagging = Tagging(client)
    sim = CallSimulator(tagging, base_url=BASE_URL, auth_token=AUTH_TOKEN, advance=advance_clock(clock))
    sim.call(World.DANA_PHONE, keys=["4821#", "8"], dial=["no-answer", "no-answer"])  # option 8: an outage

    pressed_8 = [
        rid for path, data, rid in tagging.sent if path.startswith("/voice/menu") and data.get("Digits") == "8"
    ]
    assert len(pressed_8) == 1
    (incident,) = session.query(Incident).all()
    job = Job.fetch(f"page-{incident.id}-0-0", connection=svc.jobs.connection)
    assert job.meta["request_id"] == pressed_8[0]

    run_worker(svc, burst=True)
    done = [r for r in log_lines() if r.get("event") == "job" and r.get("job_id") == job.id]
    assert len(done) == 1
    assert done[0]["request_id"] == pressed_8[0] and done[0]["outcome"] == "finished"
    assert done[0]["job"] == "ivr.paging.run_step"
    # the escalation timer that job filed carries the same id, for the next step's lines
    (timer,) = svc.jobs.scheduled()
    assert Job.fetch(timer, connection=svc.jobs.connection).meta["request_id"] == pressed_8[0]
    # outside the request and the job, nothing claims the id
    assert logs.current_request_id() is None
