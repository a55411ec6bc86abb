"""Printing the report: the storm's figures, the operations figures, the targets (missed or
met), and the --json file."""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from pathlib import Path

from .figures import BREAKER_COOLDOWN, RESTART_WINDOW
from .shared import MAX_RESTARTS, base


def print_ops(report: dict[str, object]) -> None:
    ops, svc = report["ops"], report["service"]
    pr = ops["processes"]
    print()
    print("operations:")
    print(
        f"  processes: {len(pr['ports'])} gunicorn service(s) on port(s) "
        f"{', '.join(map(str, pr['ports']))} behind PUBLIC_BASE_URL {pr['public_base_url']}, "
        f"round-robin; requests per process " + " / ".join(str(pr["requests"].get(str(p), 0)) for p in pr["ports"])
    )
    print(f"  Redis: {pr['redis']}")
    e = ops["errors"]
    print(
        f"  errors by kind: hard {e['hard']} (non-200 {e['non_200']}, transport {e['transport']}, "
        f"not TwiML {e['not_twiml']}); fallback TwiML {e['fallback_twiml']}; unexpected TwiML "
        f"{e['unexpected_twiml']}; sent back to the greeting more than {MAX_RESTARTS} times "
        f"{e['greeting_loop']}; other {e['roster'] + e['bench']}"
    )
    faults = e["service_faults_by_step"]
    print(
        "  faults the services logged (each answered with the fallback; on status and whisper legs "
        "the caller hears nothing of it): "
        + (", ".join(f"{step} {n}" for step, n in faults.items()) if faults else "none")
    )
    sb, dr = ops["sent_back_to_greeting"], ops["dropped"]
    when = f" between t={sb['first_s']:.1f} s and t={sb['last_s']:.1f} s" if sb["callers"] else ""
    print(
        f"  callers sent back to the greeting (state lost): {sb['callers']} ({sb['times']} times){when}"
        + (", then " + ", ".join(f"{k} {v}" for k, v in sb["outcomes"].items()) if sb["callers"] else "")
    )
    if sb["after_talking"]:
        print(
            f"    {sb['after_talking']} of them after their conversation had ended (the Dial result "
            f"found no state); they hung up"
        )
    print(
        f"  callers dropped (the call ended on an error): {dr['callers']}"
        + (": " + ", ".join(f"{k} {v}" for k, v in dr["by_cause"].items()) if dr["callers"] else "")
    )
    print(
        f"  messages left instead of reaching an advisor: {ops['messages_left']}; Dials answered busy "
        f"(advisor already talking): {ops['busy_dials']}"
    )
    lat = ops["latency_overall"]
    print(
        f"  webhook latency p99 overall: {lat['p99_ms']:.1f} ms over {lat['requests']} requests "
        f"(max {lat['max_ms']:.1f} ms)"
    )
    rr = ops["redis_restart"]
    if rr is not None:
        if rr["killed_at_s"] is None:
            print(f"  Redis restart planned at t={rr['planned_at_s']:g} s: not reached (the storm ended first)")
        else:
            back = f"t={rr['back_at_s']:.1f} s" if rr["back_at_s"] is not None else "never"
            print(
                f"  Redis restart: SIGKILL at t={rr['killed_at_s']:.1f} s, back (empty) at {back}; "
                f"presence of every advisor restored at {_at(rr['presence_back_at_s'])}; first Dial "
                f"to an advisor once degraded mode was over (Redis back + {BREAKER_COOLDOWN:g} s "
                f"breaker) at {_at(rr['first_dial_after_degraded_s'])}"
            )
            db = rr["double_bookings"]
            lo, hi = db["during_window_s"]
            print(
                f"  double bookings: before the kill {db['before']}, during the outage (Redis down or "
                f"breakers open, t={lo:.1f}-{hi:.1f} s) {db['during']}, after {db['after']}"
            )
            names = {
                "window": f"around the restart ({RESTART_WINDOW[0]:g} s before the kill to "
                f"{RESTART_WINDOW[1]:g} s after Redis was back)",
                "before_kill": "before the kill",
                "redis_down": "while Redis was down",
                "first_30s_after": "first 30 s after it was back",
                "later": "later",
            }
            for key, label in names.items():
                w = rr["latency"][key]
                span = f"t={w['from_s']:.1f}-" + (f"{w['to_s']:.1f}" if w["to_s"] is not None else "end")
                if math.isinf(w["from_s"]):
                    span = "t<" + f"{w['to_s']:.1f}"
                print(
                    f"    p99 {label} [{span} s]: {w['p99_ms']:.1f} ms (p50 {w['p50_ms']:.1f}, max "
                    f"{w['max_ms']:.1f}) over {w['requests']} requests, {w['errors']} errors"
                )
    print(f"  lost call-log rows: {svc['lost_call_log_rows']} (target 0) of {len(report['calls'])} calls placed")
    for line in svc["lost_examples"]:
        print(f"    {line}")
    sp = pr["spool"]
    by_worker = report["logs"].get("worker", {}).get("replayed_records", 0)
    by_services = sum(v.get("replayed_records", 0) for k, v in report["logs"].items() if k.startswith("service"))
    print(
        f"  spool after the storm: {sp['left_in_files']} record(s) in the spool files (waited "
        f"{sp['waited_s']:.0f} s); replayed by the worker {by_worker}, by the services {by_services}"
    )
    for name, state in pr["helpers"].items():
        print(f"  {name}: {state}")


def print_figures(report: dict[str, object], args: argparse.Namespace) -> None:
    o, w, left, svc = report["outcomes"], report["wait"], report["left"], report["service"]
    print()
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(o.items(), key=lambda kv: -kv[1])))
    print(f"errors: {report['errors']} (target 0)")
    print(f"double bookings: {len(report['double_bookings'])} (target 0)")
    for line in report["double_bookings"][:5]:
        print(f"  {line}")
    print()
    print(f"wait in line (joining the line -> put through), {w['put_through']} callers put through:")
    print(f"  p50 {w['p50_s']:.1f} s   p90 {w['p90_s']:.1f} s   p99 {w['p99_s']:.1f} s   max {w['max_s']:.1f} s")
    for label, n in w["histogram"].items():
        share = 100.0 * n / w["put_through"] if w["put_through"] else 0.0
        print(f"  {label:<26}{n:>6}  {share:5.1f}%")
    q = report["queue"]
    print(
        f"  line peak: {q['peak_waiting']} waiting at t={q['peak_at_s']:.0f} s; dispatcher redirects "
        f"followed {q['redirects_followed']}, hold rounds posted {q['hold_rounds']}, "
        f"dials not bridged {q['missed_dials']}"
    )
    o2 = report["order"]
    print(
        f"  first come, first served: {o2['overtaken']} of {o2['queued_and_put_through']} callers "
        f"were put through after someone who joined the line more than {o2['slack_s']:g} s "
        f"after them (worst by {o2['worst_lag_s']:.1f} s)"
    )
    a = report["announced"]
    if a["with_estimate"]:
        print(
            f"  expected wait announced on joining / actual wait: p50 {a['ratio_p50']:.2f}x, "
            f"p90 {a['ratio_p90']:.2f}x, max {a['ratio_max']:.1f}x; within +/-50% "
            f"{a['within_half']} of {a['with_estimate']}, over 2x {a['over_2x']}; p50 for callers "
            f"who joined in the first 60 s {_ratio(a['ratio_p50_joined_first_60s'])}, later "
            f"{_ratio(a['ratio_p50_joined_later'])}; longest announced {a['max_announced_s'] / 60:.0f} min"
        )
        first_p90 = a["abs_error_p90_s_joined_first_60s"]
        print(
            f"  announced - actual wait, absolute: p50 {a['abs_error_p50_s']:.0f} s, "
            f"p90 {a['abs_error_p90_s']:.0f} s; p90 for callers who joined in the first 60 s "
            f"{'-' if first_p90 is None else f'{first_p90:.0f} s'}"
        )
    print(
        f"left the line: {left['callback']['calls']} with a callback request "
        f"(after p50 {left['callback']['p50_s_in_line']:.0f} s in line), "
        f"{left['hung up']['calls']} hung up (after p50 {left['hung up']['p50_s_in_line']:.0f} s); "
        f"planned shares {args.callback_share:.0%} / {args.hangup_share:.0%}"
    )
    if report["stray_redirects"]:
        print("redirects not followed: " + ", ".join(f"{n} {k}" for k, n in report["stray_redirects"].items()))
        for call in [c for c in report["calls"] if c["strays"]][:5]:
            print(
                f"  {call['sid']}: dialled {'; '.join(call['dials'])}; {'; '.join(call['strays'])}; "
                f"hung up at t={call['ended']:.2f}s"
            )
    print()
    print("webhook latency (whole storm):")
    base.print_table([report["_phase"]])
    print("by step:")
    print(f"  {'step':<15}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>10}")
    for step, v in report["latency_by_step"].items():
        print(f"  {step:<15}{v['requests']:>9}{v['p50_ms']:>9.1f}{v['p99_ms']:>9.1f}{v['max_ms']:>10.1f}")
    print("by line length (callers waiting when the request was sent):")
    print(f"  {'line':<9}{'requests':>9}{'p50 ms':>8}{'p99 ms':>8}   {'queue p50/p99':>15}   {'menu p50/p99':>14}")
    for label, e in report["latency_by_line"].items():
        if e["all"]["requests"]:
            print(
                f"  {label:<9}{e['all']['requests']:>9}{e['all']['p50_ms']:>8.1f}{e['all']['p99_ms']:>8.1f}"
                f"   {e['queue']['p50_ms']:>7.1f}/{e['queue']['p99_ms']:<7.1f}"
                f"   {e['menu']['p50_ms']:>6.1f}/{e['menu']['p99_ms']:<7.1f}"
            )
    lat = report["latency"]
    if lat["server_cpu_ms_per_req"] is not None:
        print(
            f"CPU ms per request, server / client: {lat['server_cpu_ms_per_req']:.2f} / "
            f"{lat['client_cpu_ms_per_req']:.2f}; host CPU busy {100 * (lat['host_cpu_busy'] or 0):.0f}%"
        )
    print()
    print(
        f"service side: call log rows {svc['call_log_rows']}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(svc["call_log_outcomes"].items()))
        + f"; callback tasks {svc['callback_tasks']}; outcome mismatches {svc['outcome_mismatches']}"
    )
    for line in svc["mismatch_examples"]:
        print(f"  {line}")
    print(
        f"  service's wait_seconds of connected calls: p50 {svc['service_wait_s']['p50']:.0f} s, "
        f"p90 {svc['service_wait_s']['p90']:.0f} s, max {svc['service_wait_s']['max']:.0f} s"
    )
    print(
        f"  after the storm: {svc['line_waiting_after']} in line, {svc['offers_left']} offers left; "
        "advisors " + ", ".join(f"{k} {v}" for k, v in sorted(svc["presence_after"].items()))
    )
    print(
        f"  carrier REST: {report['carrier']['requests']} requests, {report['carrier']['redirects']} "
        f"redirects accepted, {report['carrier']['refused']} refused (call ended or unknown)"
    )
    for line in svc["advisors_stuck_on_call"][:5]:
        print(f"  stuck: {line}")
    for name, scan in report["logs"].items():
        tb = scan.get("tracebacks", {})
        print(
            f"{name} log {scan['log']}: {sum(tb.values())} tracebacks"
            + (", ".join([""] + [f"{n}x {k}" for k, n in tb.items()]) if tb else "")
        )
        if scan.get("missing"):
            print("  (no log)")
        if scan.get("passes_putting_calls_through"):
            print(
                f"  {scan['passes_putting_calls_through']} dispatcher passes put "
                f"{scan['calls_put_through']} waiting calls through"
            )
        for text, n in list(scan.get("lines", {}).items())[:8]:
            print(f"  {n}x {text[:160]}")
    problems = Counter(report["_error_list"])
    if problems:
        print("errors:")
        for text, n in problems.most_common(10):
            print(f"  {n}x {text[:200]}")


def _at(t: float | None) -> str:
    return "never" if t is None else f"t={t:.1f} s"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def targets(report: dict[str, object]) -> list[str]:
    missed = []
    if report["errors"]:
        missed.append(f"{report['errors']} errors")
    if report["double_bookings"]:
        missed.append(f"{len(report['double_bookings'])} double bookings")
    stuck = report["outcomes"].get("still waiting at the cap", 0) + report["outcomes"].get("interrupted", 0)
    if stuck:
        missed.append(f"{stuck} callers never put through nor left")
    svc = report["service"]
    if svc["line_waiting_after"] or svc["advisors_stuck_on_call"]:
        missed.append("line or advisors not clear after the storm")
    if svc["lost_call_log_rows"]:
        missed.append(f"{svc['lost_call_log_rows']} call-log rows lost")
    exited = [n for n, state in report["ops"]["processes"]["helpers"].items() if not state.startswith("running")]
    if exited:
        missed.append(f"{', '.join(exited)} exited during the storm")
    return missed


def write_json(path: Path, report: dict[str, object]) -> None:
    data = {k: v for k, v in report.items() if not k.startswith("_")}
    data["error_messages"] = dict(Counter(report["_error_list"]).most_common(20))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
