"""Test call: place a simulated call against the live configuration from the browser, as a dry run.

It is `supportline call` without `--commit` (see `twilio_doubles.dryrun.dry_run_on`): the call runs
through the real app and routing tables, every database write happens inside a transaction that
is rolled back before the page answers, Redis is a private in-process stand-in in which every
active advisor is available, and no request reaches Twilio. Nothing the call writes is kept: no
call-log row, no case event, no callback task, no presence change.

It is no PIN oracle: the caller is simulated as verified (the line's PIN prompt is answered with a
one-time PIN, `twilio_doubles.dryrun.SimulatedPin`), so no key group typed here is ever checked
against a real PIN; `pin=wrong` answers it with a wrong PIN instead. Every call placed is audited
(who, when, the masked number, the key groups with every run of 4+ digits reduced to its length,
the outcome), and each user may place `LIMIT` calls per `WINDOW_SECONDS` (then 429); the counter
is in Redis, and with Redis unreachable the page places no call (503: fail closed).

POST `/admin/test-call` with `from`, `keys` (key groups for the prompts after verification,
comma-separated: "240117#,1"; an empty group is "no input" at that prompt; "hold:KEYS" presses
KEYS while on hold), `pin` (`verified`, the default, or `wrong`), `at` (local date and time,
default now) and `dial` (one outcome per ring, repeated field). Answers JSON when asked for it
(the page's script), else the page with the transcript.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import jsonify, render_template, request

from casestore import audit
from casestore.phones import WITHHELD, InvalidPhoneNumber, mask, to_e164
from casestore.redisguard import ERRORS
from console import actor, bp, require, wants_json
from console.limits import RateLimit
from console.logs import mask_text
from routing.calendar import status_at
from twilio_doubles.dryrun import dry_run_on, parse_at
from twilio_doubles.simulator import DIAL_OUTCOMES, Transcript
from webhooks.services import current_services

log = logging.getLogger("supportline")

MAX_GROUPS = 40
MAX_RINGS = 40
LIMIT, WINDOW_SECONDS = 20, 10 * 60
PIN_CHOICES = ("verified", "wrong")
_GROUP = re.compile(r"^(hold:)?[0-9*#]{0,40}$")
_LONG_DIGITS = re.compile(r"[0-9]{4,}")


def _parse(form, region: str = "US") -> tuple[dict, list[str]]:
    """The form as a call to place, and the problems with it (each "field: reason")."""
    problems: list[str] = []
    from_number = form.get("from", "").strip()
    if not from_number:
        problems.append("from: the caller's number is required (or 'anonymous' for a withheld number)")
    elif len(from_number) > 32:
        problems.append("from: too long")
    elif from_number.lower() not in WITHHELD:
        try:
            to_e164(from_number, region)
        except InvalidPhoneNumber:
            problems.append(f"from: {from_number!r} is not a valid phone number (e.g. +1 612 555 0134, or 'anonymous')")
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
    pin = form.get("pin", "").strip() or "verified"
    if pin not in PIN_CHOICES:
        problems.append(f"pin: {pin!r} is not one of {', '.join(PIN_CHOICES)}")
    at = form.get("at", "").strip()
    return {"from": from_number, "keys": keys, "dial": dial, "pin": pin, "at": at}, problems


def _steps(transcript: Transcript) -> list[dict]:
    """The simulator's lines as steps a page can show: kind is say, press, silence, ring, connect,
    transfer, queue, wait, whisper, message or end."""
    steps = []
    for line in transcript.lines:
        text = line.strip()
        if line.startswith("line: "):
            kind, text = "say", line[len("line: ") :]
        elif line.startswith("caller presses: "):
            kind, text = "press", line[len("caller presses: ") :]
        elif line.startswith("caller: "):
            kind, text = "silence", line[len("caller: ") :].strip("()")
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


def _people(session) -> dict[str, str]:
    """Who each reach the line may ring is: "Marcus Delgado (+16515550151)", for advisors and
    engineers (staff numbers, shown whole as on the advisors' page: the admin checks which phone rang)."""
    tables = current_services().tables.get(session)
    reaches = [(a.reach, a.name) for a in tables.advisors] + [(e.phone, e.name) for e in tables.engineers.values()]
    return {reach: f"{name} ({reach})" for reach, name in reaches if reach}


def _named(text: str, people: dict[str, str]) -> str:
    """`text` with every reach it mentions replaced by who it is (longest first: no reach is a
    prefix of another's replacement)."""
    for reach in sorted(people, key=len, reverse=True):
        text = text.replace(reach, people[reach])
    return text


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
                svc.settings,
                connection,
                engine=svc.engine,
                from_number=call["from"],
                start=start,
                keys=call["keys"],
                dial=call["dial"],
                wrong_pin=call["pin"] == "wrong",
            )
        finally:
            outer.rollback()
        people = _people(outer)
    local = start.astimezone(ZoneInfo(tz_name))
    steps = [{**step, "text": _named(step["text"], people)} for step in _steps(transcript)]
    return {
        "dry_run": True,
        "at": f"{local:%A %Y-%m-%d %H:%M %Z}",
        "from": mask(call["from"]),
        "steps": steps,
        "heard": transcript.heard,
        "dialled": transcript.dialled,
        "connected_to": transcript.connected_to,
        "connected_to_name": people.get(transcript.connected_to or "", transcript.connected_to),
        "ended_by": transcript.ended_by,
    }


def _audit_keys(keys: list[str]) -> list[str]:
    """The key groups as the audit log keeps them: a run of 4+ digits (a PIN, a case number, a
    contact ID) becomes its length."""
    return [_LONG_DIGITS.sub(lambda m: f"<{len(m.group())} digits>", k) for k in keys]


def _record(call: dict, start: datetime, result: dict | None, problems: list[str]) -> None:
    """One audit entry for a test call placed (committed: the call itself was rolled back)."""
    svc = current_services()
    tz = ZoneInfo(svc.settings.support_timezone)
    outcome = (
        {
            "outcome": result["ended_by"],
            "connected_to": mask(result["connected_to"]) if result["connected_to"] else None,
        }
        if result is not None
        else {"outcome": "failed", "problems": [mask_text(p) for p in problems]}
    )
    with svc.sessions() as session:
        audit.record(
            session,
            at=svc.now(),
            actor=actor(),
            action="test_call",
            entity="call",
            key=mask(call["from"]),
            after={
                "from": mask(call["from"]),
                "at": _local_input(start, tz),
                "keys": _audit_keys(call["keys"]),
                "pin": "simulated" if call["pin"] == "verified" else "simulated wrong",
                "dial": call["dial"],
                **outcome,
            },
        )
        session.commit()


def _allowed() -> tuple[bool, str, int]:
    """Whether the signed-in user may place another test call now, else the problem and status."""
    svc = current_services()
    limit = RateLimit(svc.redis, "test-call", LIMIT, WINDOW_SECONDS)
    try:
        if limit.take(actor(), svc.now()):
            return True, "", 200
    except ERRORS:
        log.warning("test call refused: Redis is unreachable (the rate limit fails closed)")
        return False, "test calls need Redis (their rate limit) and it is unreachable; try again later", 503
    log.warning("test call refused: %s is over the limit of %d in %d s", actor(), LIMIT, WINDOW_SECONDS)
    return False, f"too many test calls: at most {LIMIT} in {WINDOW_SECONDS // 60} minutes; try again later", 429


def _default_start() -> datetime:
    """Now, or while the desk is closed its next opening: a test call is mostly about open hours."""
    svc = current_services()
    now = svc.now()
    with svc.sessions() as session:
        status = status_at(now, svc.tables.get(session).calendar)
    return now if status.open or status.next_open is None else status.next_open


def _page(form: dict, result: dict | None = None, problems: list[str] | None = None) -> str:
    return render_template(
        "admin/testcall.html",
        form=form,
        result=result,
        problems=problems or [],
        outcomes=DIAL_OUTCOMES,
        tz_name=current_services().settings.support_timezone,
        limit=LIMIT,
        window_minutes=WINDOW_SECONDS // 60,
    )


@bp.route("/test-call", methods=["GET", "POST"])
@require("test_call")
def test_call():
    svc = current_services()
    tz = ZoneInfo(svc.settings.support_timezone)
    if request.method == "GET":
        return _page({"from": "", "keys": [], "dial": [], "pin": "verified", "at": _local_input(_default_start(), tz)})
    call, problems = _parse(request.form, svc.settings.default_region)
    result = None
    start = svc.now()
    if call["at"]:
        try:
            start = parse_at(call["at"], svc.settings.support_timezone)
        except ValueError:
            problems.append(f"at: cannot read {call['at']!r}; use e.g. 2026-11-24T10:00")
    status = 400 if problems else 200
    if not problems:
        ok, problem, status = _allowed()
        if not ok:
            problems.append(problem)
    if not problems:
        try:
            result = run_test_call(call, start)
        except Exception as exc:  # the simulated call broke: say why, keep the console up
            log.exception("test call failed")
            problems.append(f"the simulated call failed: {exc.__class__.__name__}: {mask_text(str(exc))[:200]}")
            status = 500
        _record(call, start, result, problems)
    if wants_json():
        return jsonify({"problems": problems} if problems else result), status
    call["at"] = call["at"] or _local_input(_default_start(), tz)
    return _page(call, result, problems), status
