"""Status banners: the notices read to callers, global (said before verification) or for one
district (said after a caller of that district verifies), each live from its start to its expiry.

Everyone reads; supervisors and admins write (`banners`). Banners are not in the load format, so
these views write the model directly, validate first (nothing is written on a problem: HTTP 400
with the reasons on the page) and record an audit entry per change (entity `status_banner`, keyed
by the banner's id). Times are entered as local wall-clock times in the support time zone. A
change reaches the line through the routing-table version, like every other routing change.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from casestore import audit
from casestore.models import District, StatusBanner
from console import actor, bp, flash_problems, require
from routing.oncall import local_to_utc
from webhooks.services import current_services

MESSAGE_MIN, MESSAGE_MAX = 3, 500


def _tz() -> ZoneInfo:
    return ZoneInfo(current_services().settings.support_timezone)


def _local_text(at: datetime | None, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%dT%H:%M") if at else ""


def _shown(at: datetime | None, tz: ZoneInfo) -> str:
    if at is None:
        return ""
    local = at.astimezone(tz)
    return f"{local:%a %b} {local.day}, {local:%Y %H:%M %Z}"


def snap(banner: StatusBanner, district_name: str | None) -> dict[str, Any]:
    """What the audit log records for a banner."""
    return {
        "district": district_name,
        "message": banner.message,
        "starts_at": banner.starts_at,
        "expires_at": banner.expires_at,
        "active": bool(banner.active),
    }


def state(banner: StatusBanner, now: datetime) -> str:
    """live, scheduled, expired or off: whether callers hear it now."""
    if not banner.active:
        return "off"
    if banner.expires_at is not None and banner.expires_at <= now:
        return "expired"
    if banner.starts_at > now:
        return "scheduled"
    return "live"


def _parse_local(text: str, tz: ZoneInfo, label: str, problems: list[str]) -> datetime | None:
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        problems.append(f"{label}: not a date and time: {text[:40]!r} (expected YYYY-MM-DD HH:MM)")
        return None
    return local if local.tzinfo is not None else local_to_utc(local, tz)


def _validate(session, form, now: datetime, current: StatusBanner | None = None) -> tuple[dict[str, Any], list[str]]:
    """The banner the form describes, and every problem with it. A time the form shows unchanged
    keeps the stored instant (the form has whole minutes only)."""
    tz = _tz()
    problems: list[str] = []
    message = " ".join(form.get("message", "").split())  # read aloud: one line, single spaces
    if not MESSAGE_MIN <= len(message) <= MESSAGE_MAX:
        problems.append(f"message: {MESSAGE_MIN} to {MESSAGE_MAX} characters (this one has {len(message)})")
    elif any(unicodedata.category(ch) in ("Cc", "Cs") for ch in message):
        problems.append("message: contains control characters")
    district = None
    district_field = form.get("district", "").strip()
    if district_field:
        valid_id = district_field.isdigit() and len(district_field) <= 9
        district = session.get(District, int(district_field)) if valid_id else None
        if district is None:
            problems.append("district: no such district")
    starts_text, expires_text = form.get("starts", "").strip(), form.get("expires", "").strip()
    starts = _parse_local(starts_text, tz, "start", problems) if starts_text else now
    expires = _parse_local(expires_text, tz, "expiry", problems) if expires_text else None
    if current is not None:
        if starts_text and starts_text == _local_text(current.starts_at, tz):
            starts = current.starts_at
        if expires_text and expires_text == _local_text(current.expires_at, tz):
            expires = current.expires_at
    if starts is not None and expires is not None and expires <= starts:
        problems.append("expiry: must be after the start")
    return {
        "district": district,
        "message": message,
        "starts_at": starts,
        "expires_at": expires,
        "active": bool(form.get("active")),
    }, problems


def _districts(session, banner: StatusBanner | None = None) -> list[District]:
    rows = list(session.scalars(select(District).where(District.active.is_(True)).order_by(District.name)))
    if banner is not None and banner.district_id and all(d.id != banner.district_id for d in rows):
        rows.append(session.get(District, banner.district_id))  # an inactive district's banner stays editable
    return rows


def _form_values(form) -> dict[str, Any]:
    return {
        "district": form.get("district", ""),
        "message": form.get("message", ""),
        "starts": form.get("starts", ""),
        "expires": form.get("expires", ""),
        "active": bool(form.get("active")),
    }


def _render_list(session, *, status: int = 200, form: dict[str, Any] | None = None):
    svc = current_services()
    now, tz = svc.now(), _tz()
    names = {d.id: d.name for d in session.scalars(select(District))}
    banners = session.scalars(select(StatusBanner).order_by(StatusBanner.starts_at.desc(), StatusBanner.id.desc()))
    order = {"live": 0, "scheduled": 1, "expired": 2, "off": 3}
    items = sorted(
        (
            {
                "row": b,
                "state": state(b, now),
                "district": names.get(b.district_id) if b.district_id else None,
                "starts": _shown(b.starts_at, tz),
                "expires": _shown(b.expires_at, tz),
            }
            for b in banners
        ),
        key=lambda item: order[item["state"]],
    )
    return render_template(
        "admin/banners.html",
        items=items,
        districts=_districts(session),
        tz_name=tz.key,
        form=form or {"district": "", "message": "", "starts": "", "expires": "", "active": True},
    ), status


@bp.get("/banners")
@require("read")
def banners():
    svc = current_services()
    with svc.sessions() as session:
        return _render_list(session)


@bp.post("/banners")
@require("banners")
def banner_create():
    svc = current_services()
    now = svc.now()
    with svc.sessions() as session:
        wanted, problems = _validate(session, request.form, now)
        if problems:
            flash_problems(problems)
            return _render_list(session, status=400, form=_form_values(request.form))
        district = wanted.pop("district")
        banner = StatusBanner(district_id=district.id if district else None, **wanted)
        session.add(banner)
        session.flush()
        audit.record(
            session,
            at=now,
            actor=actor(),
            action="create",
            entity="status_banner",
            key=banner.id,
            after=snap(banner, district.name if district else None),
        )
        session.commit()
    flash("Banner saved." + ("" if wanted["active"] else " It is off: callers do not hear it."), "success")
    return redirect(url_for("admin.banners"))


def _banner_or_404(session, banner_id: int) -> StatusBanner:
    banner = session.get(StatusBanner, banner_id)
    if banner is None:
        abort(404)
    return banner


def _district_name(session, district_id: int | None) -> str | None:
    return session.get(District, district_id).name if district_id else None


@bp.route("/banners/<int:banner_id>/edit", methods=["GET", "POST"])
@require("banners")
def banner_edit(banner_id: int):
    svc = current_services()
    now, tz = svc.now(), _tz()
    with svc.sessions() as session:
        banner = _banner_or_404(session, banner_id)
        if request.method == "POST":
            wanted, problems = _validate(session, request.form, now, current=banner)
            if problems:
                flash_problems(problems)
                return render_template(
                    "admin/banner_form.html",
                    banner=banner,
                    form=_form_values(request.form),
                    districts=_districts(session, banner),
                    tz_name=tz.key,
                ), 400
            before = snap(banner, _district_name(session, banner.district_id))
            district = wanted.pop("district")
            banner.district_id = district.id if district else None
            for key, value in wanted.items():
                setattr(banner, key, value)
            audit.record(
                session,
                at=now,
                actor=actor(),
                action="update",
                entity="status_banner",
                key=banner.id,
                before=before,
                after=snap(banner, district.name if district else None),
            )
            session.commit()
            flash("Banner saved.", "success")
            return redirect(url_for("admin.banners"))
        form = {
            "district": str(banner.district_id or ""),
            "message": banner.message,
            "starts": _local_text(banner.starts_at, tz),
            "expires": _local_text(banner.expires_at, tz),
            "active": banner.active,
        }
        return render_template(
            "admin/banner_form.html", banner=banner, form=form, districts=_districts(session, banner), tz_name=tz.key
        )


@bp.post("/banners/<int:banner_id>/expire")
@require("banners")
def banner_expire(banner_id: int):
    """Stop the banner now: its expiry becomes this instant (callers stop hearing it at once)."""
    svc = current_services()
    now = svc.now()
    with svc.sessions() as session:
        banner = _banner_or_404(session, banner_id)
        if banner.expires_at is not None and banner.expires_at <= now:
            flash("That banner had already expired.", "success")
            return redirect(url_for("admin.banners"))
        name = _district_name(session, banner.district_id)
        before = snap(banner, name)
        banner.expires_at = now
        if banner.starts_at > now:
            banner.starts_at = now  # a scheduled banner: it now never starts
        audit.record(
            session,
            at=now,
            actor=actor(),
            action="update",
            entity="status_banner",
            key=banner.id,
            before=before,
            after=snap(banner, name),
        )
        session.commit()
    flash("Banner expired: callers no longer hear it.", "success")
    return redirect(url_for("admin.banners"))
