"""Test call: place a simulated call against the live configuration from the browser, as a dry run.

It is `supportline call` without `--commit` (see `webhooks.simulate_cli.dry_run_on`): the call runs
through the real app and routing tables, every database write happens inside a transaction that
is rolled back before the page answers, Redis is a private in-process stand-in in which every
active advisor is available, and no request reaches Twilio. Nothing is kept: no call-log row, no
case event, no callback task, no audit entry, no presence change.

POST `/admin/test-call` with `from`, `keys` (key groups, comma-separated: "4821#,240117#"; an
empty group is "no input" at that prompt; "hold:KEYS" presses KEYS while on hold), `at` (local
date and time, default now) and `dial` (one outcome per ring, repeated field). Answers JSON when
asked for it (the page's script), else the page with the transcript.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import jsonify, render_template, request

from casestore.phones import mask
from webhooks.admin import bp, require, wants_json
from webhooks.admin.logs import mask_text
from webhooks.services import current_services
from webhooks.simulate_cli import dry_run_on, parse_at
from webhooks.simulator import DIAL_OUTCOMES, Transcript

log = logging.getLogger("supportline")

MAX_GROUPS = 40
MAX_RINGS = 40
_GROUP = re.compile(r"^(hold:)?[0-9*#]{0,40}$")


def _parse(form) -> tuple[dict, list[str]]:
    """The form as a call to place, and the problems with it (each "field: reason")."""
    problems: list[str] = []
    from_number = form.get("from", "").strip()
    if not from_number:
        problems.append("from: the caller's number is required (or 'anonymous' for a withheld number)")
    elif len(from_number) > 32:
        problems.append("from: too long")
    raw_keys = form.get("keys", "")
    keys = [k.strip().replace(" ", "") for k in raw_keys.split(",")] if raw_keys.strip() else []
    bad = [k for k in keys if not _GROUP.match(k)]
    if bad:
        problems.append(f"keys: {bad[0]!r} is not a key group (digits, * and #; 'hold:' before keys pressed on hold)")
    if len(keys) > MAX_GROUPS:
        problems.append(f"keys: at most {MAX_GROUPS} key groups")
    dial = [d.strip() for d in form.getlist("dial") if d.strip()]
    if len(dial) == 1 and "," in dial[0]:  # "no-answer,accept" typed or sent as one field
        dial = [d.strip() for d in dial[0].split(",") if d.strip()]
    unknown = [d for d in dial if d not in DIAL_OUTCOMES]
    if unknown:
        problems.append(f"dial: {unknown[0]!r} is not one of {', '.join(DIAL_OUTCOMES)}")
    if len(dial) > MAX_RINGS:
        problems.append(f"dial: at most {MAX_RINGS} rings")
    at = form.get("at", "").strip()
    return {"from": from_number, "keys": keys, "dial": dial, "at": at}, problems


def _steps(transcript: Transcript) -> list[dict]:
    """The simulator's lines as steps a page can show: kind is say, press, silence, ring, connect,
    transfer, queue, wait, whisper, message or end."""
    steps = []
    for line in transcript.lines:
        text = line.strip()
        if line.startswith("line: "):
            kind, text = "say", line[len("line: "):]
        elif line.startswith("caller presses: "):
            kind, text = "press", line[len("caller presses: "):]
        elif line.startswith("caller: "):
            kind, text = "silence", line[len("caller: "):].strip("()")
        elif line.startswith("caller leaves"):
            kind = "message"
        elif line.startswith("-> ringing"):
            kind, text = "ring", line[3:]
        elif line.startswith("-> connected"):
            kind, text = "connect", line[3:]
        elif line.startswith("-> transferred"):
            kind, text = "transfer", line[3:]
        elif line.startswith("-- "):
            kind, text = "end", line[3:]
        elif " hears) " in line:
            kind, text = "whisper", text.strip()
        elif "(queued" in line or "put through from the line" in line:
            kind, text = "queue", text.strip("()")
        else:
            kind, text = "wait", text.strip("()")
        steps.append({"kind": kind, "text": text})
    return steps


def _local_input(dt: datetime, tz: ZoneInfo) -> str:
    return dt.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def run_test_call(call: dict, start: datetime) -> dict:
    """Place the call at `start` as a dry run and describe it for the page."""
    svc = current_services()
    tz_name = svc.settings.support_timezone
    with svc.sessions() as outer:
        # The outer transaction (a SAVEPOINT when the app itself runs inside one, as in tests):
        # the simulated call works in savepoints inside it, and all of it is rolled back.
        connection = outer.connection()
        try:
            transcript = dry_run_on(
                svc.settings, connection, engine=svc.engine, from_number=call["from"], start=start,
                keys=call["keys"], dial=call["dial"],
            )
        finally:
            outer.rollback()
    local = start.astimezone(ZoneInfo(tz_name))
    return {
        "dry_run": True,
        "at": f"{local:%A %Y-%m-%d %H:%M %Z}",
        "from": mask(call["from"]),
        "steps": _steps(transcript),
        "heard": transcript.heard,
        "dialled": transcript.dialled,
        "connected_to": transcript.connected_to,
        "ended_by": transcript.ended_by,
    }


@bp.route("/test-call", methods=["GET", "POST"])
@require("test_call")
def test_call():
    svc = current_services()
    tz = ZoneInfo(svc.settings.support_timezone)
    if request.method == "GET":
        form = {"from": "", "keys": [], "dial": [], "at": _local_input(svc.now(), tz)}
        return render_template("admin/testcall.html", form=form, result=None, problems=[],
                               outcomes=DIAL_OUTCOMES, tz_name=svc.settings.support_timezone)
    call, problems = _parse(request.form)
    result = None
    start = svc.now()
    if call["at"]:
        try:
            start = parse_at(call["at"], svc.settings.support_timezone)
        except ValueError:
            problems.append(f"at: cannot read {call['at']!r}; use e.g. 2026-11-24T10:00")
    status = 400 if problems else 200
    if not problems:
        try:
            result = run_test_call(call, start)
        except Exception as exc:  # the simulated call broke: say why, keep the console up
            log.exception("test call failed")
            problems.append(f"the simulated call failed: {exc.__class__.__name__}: {mask_text(str(exc))[:200]}")
            status = 500
    if wants_json():
        return jsonify({"problems": problems} if problems else result), status
    call["at"] = call["at"] or _local_input(svc.now(), tz)
    return render_template("admin/testcall.html", form=call, result=result, problems=problems,
                           outcomes=DIAL_OUTCOMES, tz_name=svc.settings.support_timezone), status
