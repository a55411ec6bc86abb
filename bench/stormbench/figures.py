"""The figures: wait, line latency, announced waits, order and leaving from the callers' records;
the service's own side (call log, line, offers, presence); what the logs say; the operations
figures (errors by kind, the Redis restart); and the report they make together."""

from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import re
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import redis

from .board import Board, CallRecord, ConnectionPool, Storm
from .services import Outage
from .shared import AFTER_TALKING, LINE_KEY, OFFER_KEYS, base

WAIT_BUCKETS = ((15.0, "< 15 s"), (30.0, "15-30 s"), (60.0, "30-60 s"), (120.0, "60-120 s"), (math.inf, "> 120 s"))
NO_WAIT = "answered without waiting"
DROPPED = ("error", "unexpected", "greeting loop")  # outcomes of calls that ended on a failure
RESTART_WINDOW = (5.0, 15.0)  # the latency window: from 5 s before the kill to 15 s after Redis is back
BREAKER_COOLDOWN = 5.0  # casestore.redisguard.COOLDOWN_SECONDS: degraded mode outlasts the outage this long
_FAULT = re.compile(r"webhook fault step=([\w-]+)")
_REPLAYED = re.compile(r"replayed (\d+) call-log record")

# What the caller's outcome should be in the service's call log.
SERVICE_OUTCOME = {
    "connected": "connected",
    "callback": "callback_requested",
    "hung up": "abandoned",
    "message": "message_recorded",
}


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
        "p50_s": base.pct(waits, 50),
        "p90_s": base.pct(waits, 90),
        "p99_s": base.pct(waits, 99),
        "max_s": round(waits[-1], 2) if waits else 0.0,
        "histogram": {label: histogram[label] for label in [NO_WAIT] + [label for _, label in WAIT_BUCKETS]},
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
    """The expected wait the first hold prompt announced (as spoken: "less than a minute" is 30 s,
    "N minutes" N x 60 s), against the wait that followed: the ratio announced / real and the
    absolute error in seconds, overall and for the callers who joined in the first 60 s."""
    pairs = [
        (r.announced_wait, r.waited, r.joined)
        for r in records
        if r.announced_wait is not None and r.joined is not None and r.waited is not None
    ]
    ratios = sorted(a / max(w, 1.0) for a, w, _ in pairs)
    first = sorted(a / max(w, 1.0) for a, w, j in pairs if j < 60.0)
    later = sorted(a / max(w, 1.0) for a, w, j in pairs if j >= 60.0)  # history by then
    errors = sorted(abs(a - w) for a, w, _ in pairs)
    first_errors = sorted(abs(a - w) for a, w, j in pairs if j < 60.0)
    return {
        "with_estimate": len(pairs),
        "without_estimate": sum(r.joined is not None and r.announced_wait is None for r in records),
        "ratio_p50": base.pct(ratios, 50),
        "ratio_p90": base.pct(ratios, 90),
        "ratio_max": round(ratios[-1], 2) if ratios else 0.0,
        "within_half": sum(0.5 <= x <= 1.5 for x in ratios),
        "over_2x": sum(x > 2.0 for x in ratios),
        "ratio_p50_joined_first_60s": base.pct(first, 50) if first else None,
        "ratio_p50_joined_later": base.pct(later, 50) if later else None,
        "abs_error_p50_s": base.pct(errors, 50),
        "abs_error_p90_s": base.pct(errors, 90),
        "abs_error_p90_s_joined_first_60s": base.pct(first_errors, 90) if first_errors else None,
        "max_announced_s": max((a for a, _, _ in pairs), default=0.0),
    }


def order_figures(records: list[CallRecord], slack: float = 1.0) -> dict[str, object]:
    """First come, first served? Callers put through after someone who joined the line more than
    `slack` seconds after them (closer joins may be stamped in either order by the two workers)."""
    queued = sorted((r for r in records if r.joined is not None and r.put_through is not None), key=lambda r: r.joined)
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
    return {
        "queued_and_put_through": len(queued),
        "overtaken": overtaken,
        "worst_lag_s": round(worst, 1),
        "slack_s": slack,
    }


def left_figures(records: list[CallRecord]) -> dict[str, dict[str, float | int]]:
    out = {}
    for outcome in ("callback", "hung up", "message"):
        waited = sorted(
            r.left - r.joined for r in records if r.outcome == outcome and r.left is not None and r.joined is not None
        )
        out[outcome] = {
            "calls": sum(r.outcome == outcome for r in records),
            "p50_s_in_line": base.pct(waited, 50),
            "max_s_in_line": round(waited[-1], 1) if waited else 0.0,
        }
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
                select(CallLog.call_sid, CallLog.outcome, CallLog.wait_seconds, CallLog.started_at).where(
                    CallLog.call_sid.in_(sids)
                )
            ).all()
            tasks = set(conn.execute(select(CallbackTask.call_sid).where(CallbackTask.call_sid.in_(sids))).scalars())
    finally:
        engine.dispose()
    logs = {sid: (outcome, wait) for sid, outcome, wait, _ in rows}
    # The service runs on a shifted development clock: its offset from the wall clock, from when
    # each call's log row says it started and when the bench sent /voice/incoming.
    offsets = sorted(
        started.timestamp() - arrived[sid] for sid, _, _, started in rows if started is not None and sid in arrived
    )
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
    service_now = datetime.fromtimestamp(time.time() + offset, UTC)
    views = Presence(client).snapshot(list(roster), service_now)
    states = Counter(v.state for v in views.values())
    on_call = [f"advisor {pk} on_call for {v.call_sid}" for pk, v in views.items() if v.state == "on_call"]
    result = {
        "call_log_outcomes": dict(Counter(o for o, _ in logs.values())),
        "call_log_rows": len(logs),
        "lost_call_log_rows": len(lost),
        "lost_examples": [
            f"{r.sid}: caller {r.outcome or '?'}"
            + (f" ({r.cut_off})" if r.cut_off else "")
            + f", arrived t={r.arrived or 0:.1f}s, {r.requests} requests"
            for r in lost[:5]
        ],
        "callback_tasks": len(tasks),
        "outcome_mismatches": len(mismatches),
        "mismatch_examples": mismatches[:5],
        "service_wait_s": {
            "p50": base.pct(served_waits, 50),
            "p90": base.pct(served_waits, 90),
            "max": served_waits[-1] if served_waits else 0,
        },
        "line_waiting_after": int(client.zcard(LINE_KEY)),
        # Offers not taken (a "taken:" marker is a consumed offer kept briefly against stale passes).
        "offers_left": sum(
            1
            for key in client.scan_iter(match=OFFER_KEYS, count=500)
            if not str(client.get(key) or "").startswith("taken:")
        ),
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
_TEXT_PREFIX = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d+ (?P<level>[A-Z]+)\s+(?P<logger>\S+) (?:\[[^\]]*\] )?"
)
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
            example.setdefault(last, "\n".join(lines[max(0, start - 1) : i + 1]))
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
                level, line = prefix["level"], f"{prefix['logger']}: {line[prefix.end() :]}"
        if level in _QUIET_LEVELS:
            i += 1
            continue
        text = _NUMBER.sub("N", _SID.sub("CA…", _GUNICORN_PREFIX.sub("", line))).strip()
        if text:
            messages[f"{level} {text}" if level else text] += 1
        i += 1
    return {
        "log": str(path),
        "tracebacks": dict(exceptions.most_common()),
        "traceback_examples": example,
        "lines": dict(messages.most_common(12)),
        "passes_putting_calls_through": passes,
        "calls_put_through": put_through,
        "faults_by_step": dict(faults.most_common()),
        "replayed_records": replayed,
    }


def latency_window(timeline: list[tuple], start: float, end: float) -> dict[str, object]:
    """Webhook latency of the requests sent in [start, end) on the storm clock."""
    rows = [(ms, kind) for _, ms, _, sent, kind in timeline if start <= sent < end]
    ms = sorted(m for m, _ in rows)
    return {
        "from_s": round(start, 1),
        "to_s": None if math.isinf(end) else round(end, 1),
        "requests": len(ms),
        "errors": sum(1 for _, kind in rows if kind),
        "p50_ms": base.pct(ms, 50),
        "p99_ms": base.pct(ms, 99),
        "max_ms": round(ms[-1], 2) if ms else 0.0,
    }


def ops_figures(
    records: list[CallRecord],
    board: Board,
    storm: Storm,
    outage: Outage | None,
    pool: ConnectionPool,
    logs: dict[str, dict[str, object]],
    processes: dict[str, object],
) -> dict[str, object]:
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
            "non_200": kinds["http"],
            "transport": kinds["transport"],
            "not_twiml": kinds["twiml"],
            "fallback_twiml": kinds["fallback"],
            "unexpected_twiml": kinds["unexpected"],
            "greeting_loop": kinds["greeting loop"],
            "roster": kinds["roster"],
            "bench": kinds["bench"],
            "service_faults_by_step": dict(faults.most_common()),
        },
        "sent_back_to_greeting": {
            "callers": len(restarted),
            "times": sum(r.restarts for r in restarted),
            "first_s": min((t for r in restarted for t in r.restarted_at), default=None),
            "last_s": max((t for r in restarted for t in r.restarted_at), default=None),
            "outcomes": dict(Counter(r.outcome for r in restarted).most_common()),
            "after_talking": sum(r.note == AFTER_TALKING for r in restarted),
        },
        "dropped": {
            "callers": len(dropped),
            "by_cause": dict(
                Counter(
                    "unexpected TwiML" if r.outcome == "unexpected" else (r.cut_off or "?") for r in dropped
                ).most_common()
            ),
        },
        "messages_left": sum(r.outcome == "message" for r in records),
        "busy_dials": sum(r.busy_dials for r in records),
        "latency_overall": latency_window(storm.timeline, -math.inf, math.inf),
        "redis_restart": None,
    }
    if outage is not None:
        dialled = sorted(float(m.group(1)) for r in records for d in r.dials if (m := re.match(r"t=([\d.]+)s", d)))
        restart: dict[str, object] = {
            "planned_at_s": outage.at,
            "downtime_s": outage.downtime,
            "port": outage.port,
            "killed_at_s": outage.killed,
            "back_at_s": outage.back,
            "presence_back_at_s": outage.presence_back,
            # degraded mode (ringing in order) lasts until the breakers close
            "first_dial_after_degraded_s": next(
                (t for t in dialled if outage.back is not None and t >= outage.back + BREAKER_COOLDOWN), None
            ),
        }
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


def build_report(
    args: argparse.Namespace,
    records: list[CallRecord],
    board: Board,
    storm: Storm,
    phase: base.Phase,
    service_view: dict[str, object],
    logs: dict[str, dict[str, object]],
    carrier: dict[str, int],
    ops: dict[str, object],
) -> dict[str, object]:
    return {
        "ops": ops,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "cpus": os.cpu_count(),
        "outcomes": dict(Counter(r.outcome or "?" for r in records)),
        "errors": len(phase.errors),
        "double_bookings": list(board.double_bookings),
        "wait": wait_figures(records),
        "left": left_figures(records),
        "queue": {
            "peak_waiting": board.peak_waiting,
            "peak_at_s": round(board.peak_at, 1),
            "redirects_followed": sum(r.redirects for r in records),
            "hold_rounds": sum(r.hold_rounds for r in records),
            "missed_dials": sum(r.missed_dials for r in records),
            "put_through_while_choosing": sum(r.note == "put through while choosing" for r in records),
        },
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
    row.update(
        arrive_at=round(r.plan.arrive_at, 3),
        talk=round(r.plan.talk, 1),
        leaves=r.plan.leaves,
        patience=None if math.isinf(r.plan.patience) else round(r.plan.patience, 1),
    )
    return row
