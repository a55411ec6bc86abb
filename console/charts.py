"""Daily charts: service level, average speed of answer and abandonment rate for each of the last
30 local days (the desk's time zone), drawn as inline SVG on the server (no script, no CDN).

The figures are `ivr.metrics`' own: each day is summed with the same query and turned into figures
with the same function as the live board's "today", so a day here and "today" there always agree.

`charts_svg(session, now, tz_name)` returns the three SVGs; `admin/charts_partial.html` shows them
anywhere (it uses `charts` when the page passes it, else computes them through `daily_charts()`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import jsonify, render_template
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from console import bp, require
from console.logs import local_midnight
from ivr.metrics import SERVICE_LEVEL_SECONDS, combine, figures, figures_by_skill
from webhooks.services import current_services

DAYS = 30

# key -> (title, unit, axis maximum or None for "from the data", reference line or None)
CHARTS: dict[str, tuple[str, str, float | None, float | None]] = {
    "service_level": (f"Service level (answered within {SERVICE_LEVEL_SECONDS} s)", "%", 100.0, None),
    "asa": ("Average speed of answer", "s", None, float(SERVICE_LEVEL_SECONDS)),
    "abandonment_rate": ("Abandonment rate", "%", 100.0, None),
}
_FIGURE = {"service_level": "service_level", "asa": "asa_seconds", "abandonment_rate": "abandonment_rate"}

# Drawing area (SVG user units; the SVG scales to its container's width).
WIDTH, HEIGHT = 640, 210
LEFT, RIGHT, TOP, BOTTOM = 46, 14, 30, 30
INK, MUTED, LINE, ACCENT, GOAL = "#1d2430", "#5b6575", "#d9dee6", "#1f5fbf", "#1e7b34"


def daily_figures(session: Session, now: datetime, tz_name: str, days: int = DAYS) -> list[dict]:
    """One entry per local day, oldest first, ending today: `ivr.metrics` figures for the calls
    that started that day (today: up to `now`), plus `day` (a date)."""
    tz = ZoneInfo(tz_name)
    today = now.astimezone(tz).date()
    out = []
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        since = local_midnight(day, tz)
        # `figures_by_skill` counts calls up to and including its end: stop just before the next midnight.
        until = min(now, local_midnight(day + timedelta(days=1), tz) - timedelta(microseconds=1))
        out.append({"day": day, **figures(combine(figures_by_skill(session, since, until).values()))})
    return out


def _number(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _value(key: str, row: dict) -> float | None:
    raw = row[_FIGURE[key]]
    if raw is None:
        return None
    return raw * 100 if CHARTS[key][1] == "%" else float(raw)


def _label(key: str, value: float | None) -> str:
    if value is None:
        return "no calls"
    return f"{_number(value)}%" if CHARTS[key][1] == "%" else f"{_number(value)} s"


def _nice_max(peak: float, floor: float) -> float:
    top = max(peak, floor)
    for step in (5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if top <= step * 4:
            return float(step * (int(top // step) + (1 if top % step else 0)) or step)
    return float(top)


@dataclass(frozen=True)
class _Scale:
    """Data to drawing coordinates: day index -> x, figure -> y (capped at `y_max`)."""

    y_max: float
    step: float

    def x(self, i: int) -> float:
        return round(LEFT + i * self.step, 1)

    def y(self, v: float) -> float:
        plot_h = HEIGHT - TOP - BOTTOM
        return round(TOP + plot_h - min(v, self.y_max) / self.y_max * plot_h, 1)


def chart_svg(key: str, rows: list[dict]) -> Markup:
    """One chart: a point per day (hollow and on the axis when the day had no settled calls),
    a line through consecutive days with figures, y ticks, a date every 7 days."""
    title, _unit, fixed_max, reference = CHARTS[key]
    values = [_value(key, row) for row in rows]
    known = [v for v in values if v is not None]
    y_max = fixed_max if fixed_max is not None else _nice_max(max(known, default=0.0), (reference or 0) * 2)
    scale = _Scale(y_max=y_max, step=(WIDTH - LEFT - RIGHT) / max(1, len(rows) - 1))
    first, last = (rows[0]["day"], rows[-1]["day"]) if rows else (None, None)
    summary = f"{title} by day, {_day(first)} to {_day(last)}" if rows else title
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{key}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="{escape(summary)}" font-size="11" font-family="system-ui,sans-serif">',
        f"<title>{escape(summary)}</title>",
        f'<text x="{LEFT}" y="16" fill="{INK}" font-weight="600" font-size="13">{escape(title)}</text>',
        *_axes(key, rows, scale),
        *_series(key, rows, values, scale),
        "</svg>",
    ]
    return Markup("".join(parts))


def _axes(key: str, rows: list[dict], scale: _Scale) -> list[str]:
    """The y ticks (0, half, top), the goal line when the chart has one, a date every 7 days."""
    _title, unit, _fixed_max, reference = CHARTS[key]
    x, y, y_max = scale.x, scale.y, scale.y_max
    parts = []
    for tick in (0.0, y_max / 2, y_max):
        ty = y(tick)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty}" y2="{ty}" stroke="{LINE}" stroke-width="1"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{ty + 4}" text-anchor="end" fill="{MUTED}">'
            f"{_number(tick)}{'%' if unit == '%' else ' s'}</text>"
        )
    if reference is not None and reference <= y_max:
        ry = y(reference)
        parts.append(
            f'<line class="goal" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ry}" y2="{ry}" stroke="{GOAL}" '
            f'stroke-width="1" stroke-dasharray="4 3"/>'
        )
        parts.append(
            f'<text x="{WIDTH - RIGHT}" y="{ry - 4}" text-anchor="end" fill="{GOAL}">{_number(reference)} s goal</text>'
        )
    for i, row in enumerate(rows):
        if (len(rows) - 1 - i) % 7 == 0:
            parts.append(
                f'<text x="{x(i)}" y="{HEIGHT - 10}" text-anchor="middle" fill="{MUTED}">'
                f"{escape(_day(row['day']))}</text>"
            )
    return parts


def _series(key: str, rows: list[dict], values: list[float | None], scale: _Scale) -> list[str]:
    """The line through consecutive days with figures, then a point per day (hollow on the axis
    for a day without settled calls), each with its tooltip."""
    x, y = scale.x, scale.y
    parts = []
    path, pen_down = [], False
    for i, v in enumerate(values):
        if v is None:
            pen_down = False
            continue
        path.append(f"{'L' if pen_down else 'M'}{x(i)} {y(v)}")
        pen_down = True
    if path:
        parts.append(
            f'<path d="{" ".join(path)}" fill="none" stroke="{ACCENT}" stroke-width="2" stroke-linejoin="round"/>'
        )
    for i, (row, v) in enumerate(zip(rows, values, strict=True)):
        label = escape(
            f"{row['day']:%a} {_day(row['day'])}: {_label(key, v)}"
            + (f" ({row['answered']} answered, {row['abandoned']} abandoned)" if v is not None else "")
        )
        if v is None:
            parts.append(
                f'<circle class="point none" data-day="{row["day"].isoformat()}" data-value="" '
                f'cx="{x(i)}" cy="{y(0)}" r="3" fill="#fff" stroke="{MUTED}" stroke-width="1">'
                f"<title>{label}</title></circle>"
            )
        else:
            parts.append(
                f'<circle class="point" data-day="{row["day"].isoformat()}" data-value="{_number(v)}" '
                f'cx="{x(i)}" cy="{y(v)}" r="3.5" fill="{ACCENT}"><title>{label}</title></circle>'
            )
    return parts


def _day(day: date | None) -> str:
    return f"{day:%b} {day.day}" if day else ""


def charts_svg(session: Session, now: datetime, tz_name: str) -> dict[str, str]:
    """The three daily charts for the 30 local days ending today, as SVG markup keyed
    service_level, asa, abandonment_rate (safe to put in a template as is)."""
    rows = daily_figures(session, now, tz_name)
    return {key: chart_svg(key, rows) for key in CHARTS}


def _current_charts() -> dict[str, str]:
    svc = current_services()
    with svc.sessions() as session:
        return charts_svg(session, svc.now(), svc.settings.support_timezone)


@bp.app_context_processor
def _chart_helpers() -> dict:
    # `{% include "admin/charts_partial.html" %}` works on any page: it calls this when not given charts.
    return {"daily_charts": _current_charts}


@bp.get("/charts")
@require("read")
def charts():
    svc = current_services()
    tz_name = svc.settings.support_timezone
    with svc.sessions() as session:
        rows = daily_figures(session, svc.now(), tz_name)
    svgs = {key: chart_svg(key, rows) for key in CHARTS}
    table = [
        {
            "day": f"{r['day']:%a} {r['day'].isoformat()}",
            "offered": r["offered"],
            "answered": r["answered"],
            "abandoned": r["abandoned"],
            "tasks": r["left_message_or_callback"],
            **{key: _label(key, _value(key, r)) if _value(key, r) is not None else "–" for key in CHARTS},
        }
        for r in reversed(rows)
    ]
    return render_template(
        "admin/charts.html", charts=svgs, table=table, tz_name=tz_name, days=DAYS, goal=SERVICE_LEVEL_SECONDS
    )


@bp.get("/charts.json")
@require("read")
def charts_json():
    svc = current_services()
    with svc.sessions() as session:
        rows = daily_figures(session, svc.now(), svc.settings.support_timezone)
    return jsonify(
        {"timezone": svc.settings.support_timezone, "days": [dict(r, day=r["day"].isoformat()) for r in rows]}
    )
