"""`supportline queue` as a person reads it: the line, advisors by presence and today's figures, in
aligned columns (`--json` gives `ivr.metrics.queue_metrics` as it is)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

FIGURE_COLUMNS = (
    ("offered", "offered"),
    ("answered", "answered"),
    ("abandoned", "abandoned"),
    ("left_message_or_callback", "tasks"),
    ("asa_seconds", "ASA"),
    ("service_level", "in 15 s"),
    ("abandonment_rate", "abandon"),
)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "asa_seconds":
        return _duration(value)
    if key in ("service_level", "abandonment_rate"):
        return f"{value:.0%}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]
    ]


def _line(data: dict[str, Any]) -> list[str]:
    if not data["line"]:
        return ["Nobody is waiting."]
    rows = [
        [
            str(row["position"]),
            row["priority"],
            row["skill"],
            _duration(row["waiting_seconds"]),
            "for their case owner" if row["waiting_for_owner"] else "",
        ]
        for row in data["line"]
    ]
    head = f"Waiting: {data['waiting']}, the longest for {_duration(data['longest_wait_seconds'])}"
    return [head, *_table(["#", "priority", "skill", "waiting", ""], rows)]


def _advisors(data: dict[str, Any]) -> list[str]:
    counts = ", ".join(f"{state.replace('_', ' ')} {n}" for state, n in data["advisors"].items())
    out = [f"Advisors: {counts}"]
    out += [f"  away: {row['name']} ({row['reason'] or 'no reason given'})" for row in data["advisors_away"]]
    return out


def _figures(data: dict[str, Any]) -> list[str]:
    groups = [("all", data["today"]), *data["by_skill"].items()]
    rows = [
        [name.replace("_", " "), *(_cell(key, figs.get(key)) for key, _ in FIGURE_COLUMNS)] for name, figs in groups
    ]
    return ["Today:", *_table(["", *(label for _, label in FIGURE_COLUMNS)], rows)]


def queue_text(data: dict[str, Any], tz_name: str) -> str:
    """`queue_metrics`' answer as text, times in the line's zone."""
    now = datetime.fromisoformat(data["now"]).astimezone(ZoneInfo(tz_name))
    parts = [
        [f"Queue at {now:%a %Y-%m-%d %H:%M %Z}"],
        _line(data),
        _advisors(data),
        [f"Open callback tasks: {data['open_callback_tasks']}"],
        _figures(data),
    ]
    return "\n\n".join("\n".join(part) for part in parts)
