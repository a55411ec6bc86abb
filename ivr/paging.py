"""Paging on-call engineers for an outage incident, step by step, until someone acknowledges.

`start(jobs, incident_id)` runs the first step of the incident's escalation policy at once (as an
RQ job); `run_step` (the job) pages the step's targets by voice call and SMS, then schedules the
next position of the policy (`routing.escalation.after`) after the step's delay, on the service
clock. An incident that is no longer `triggered` stops the chain: an acknowledgement stops
everything at once, and its ringing page calls are hung up (`stop_ringing`).

Idempotent: a position runs once per incident (a Redis claim), so a job that runs twice pages
once, and a timer scheduled twice is one RQ job (fixed job id). Rate limits per engineer
(`routing.pagelimits`) hold back pages beyond 1 a minute, 3 per 15 minutes and a daily cap; a
held page is recorded as `rate_limited` on the timeline. A page call uses answering-machine
detection: a voicemail greeting hears a short notice, and never acknowledges.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from casestore.models import Engineer, Incident, Page
from casestore.phones import mask
from ivr import incidents
from ivr.jobs import JobContext, Jobs, context
from ivr.telephony import Telephony, TelephonyError
from routing.escalation import START, Position, after, delay_after, targets
from routing.pagelimits import PageLimits

log = logging.getLogger("supportline.paging")

CLAIM_SECONDS = 7 * 86400
RING_SECONDS = 30
FINAL_CALL_STATUSES = {"completed", "busy", "no-answer", "failed", "canceled"}


def job_id(incident_id: int, pos: Position) -> str:
    return f"page-{incident_id}-{pos.round}-{pos.step}"


def start(jobs: Jobs, incident_id: int) -> None:
    """Run the policy's first step now (call after the incident is committed)."""
    jobs.enqueue(run_step, incident_id, START.round, START.step, job_id=job_id(incident_id, START))


def run_step(incident_id: int, round_: int, step: int) -> str:
    """The RQ job: page everyone at this position, then schedule the next. Returns what it did."""
    ctx = context()
    pos = Position(round_, step)
    claim = f"sl:page:ran:{incident_id}:{round_}:{step}"
    if not ctx.redis.set(claim, "1", nx=True, ex=CLAIM_SECONDS):
        return "duplicate"
    try:
        return _run_step(ctx, incident_id, pos)
    except Exception:
        ctx.redis.delete(claim)  # let RQ's retry (or an operator's requeue) run it again
        raise


def _run_step(ctx: JobContext, incident_id: int, pos: Position) -> str:
    now = ctx.now()
    with ctx.sessions() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            return "missing"
        if incident.state != "triggered":
            return f"stopped ({incident.state})"
        tables = ctx.tables.get(session)
        policy = tables.policy(incident.policy.name if incident.policy else None)
        if pos.exhausted:
            incident.state = "unacknowledged"
            incidents.note(
                session,
                incident,
                now,
                "unacknowledged",
                "Nobody acknowledged after every step of the escalation policy.",
            )
        names = targets(policy, pos, tables.rotations, now)
        if not names:
            what = "no escalation manager is set" if pos.exhausted else "nobody is on call for this step"
            incidents.note(session, incident, now, "page_skipped", f"Nobody to page: {what}.", case_log=False)
        for name in names:
            engineer = session.scalars(select(Engineer).where(Engineer.name == name, Engineer.active.is_(True))).first()
            if engineer is not None:
                page_engineer(ctx, session, incident, engineer, pos, now)
        session.commit()
    nxt = after(policy, pos)
    if nxt is not None:
        ctx.jobs.schedule(
            now + delay_after(policy, pos), run_step, incident_id, nxt.round, nxt.step, job_id=job_id(incident_id, nxt)
        )
    return f"paged {len(names)}"


def page_engineer(
    ctx: JobContext, session: Session, incident: Incident, engineer: Engineer, pos: Position, now: datetime
) -> list[Page]:
    """A voice call and (if the engineer takes SMS) a text, each within the rate limits."""
    channels = ["voice"] + (["sms"] if engineer.sms else [])
    limits = PageLimits(ctx.redis)
    pages = []
    where = "escalation manager" if pos.exhausted else f"step {pos.step + 1}, round {pos.round + 1}"
    for channel in channels:
        page = Page(
            incident_id=incident.id,
            engineer_id=engineer.id,
            channel=channel,
            round=pos.round,
            step=pos.step,
            status="queued",
            created_at=now,
            updated_at=now,
        )
        session.add(page)
        session.flush()
        pages.append(page)
        full = limits.allow(engineer.id, channel, now, str(page.id))
        if full:
            page.status = "rate_limited"
            incidents.note(
                session,
                incident,
                now,
                "page_held",
                f"{channel} page to {engineer.name} held back: rate limit ({full // 60} min window).",
                engineer.id,
            )
            continue
        if ctx.telephony is None:
            page.status = "not_sent"
            incidents.note(
                session,
                incident,
                now,
                "page_not_sent",
                f"{channel} page to {engineer.name} not sent: no Twilio account configured.",
                engineer.id,
            )
            continue
        try:
            page.sid = _send(ctx, incident, engineer, page)
            page.status = "initiated" if channel == "voice" else "sent"
            incidents.note(
                session,
                incident,
                now,
                "page_sent",
                f"Paged {engineer.name} by {'phone call' if channel == 'voice' else 'SMS'} ({where}).",
                engineer.id,
            )
        except TelephonyError as exc:
            page.status = "failed"
            log.warning("page %s to %s failed: %s", page.id, mask(engineer.phone), exc)
            incidents.note(
                session, incident, now, "page_failed", f"{channel} page to {engineer.name} failed: {exc}", engineer.id
            )
    return pages


def _send(ctx: JobContext, incident: Incident, engineer: Engineer, page: Page) -> str:
    base = ctx.base_url.rstrip("/")
    if page.channel == "voice":
        return ctx.telephony.place_call(
            engineer.phone,
            ctx.caller_id,
            f"{base}/page/voice?page={page.id}",
            status_callback=f"{base}/page/status?page={page.id}",
            timeout=RING_SECONDS,
            machine_detection=True,
        )
    return ctx.telephony.send_sms(
        engineer.phone, ctx.caller_id, sms_text(incident), status_callback=f"{base}/page/status?page={page.id}"
    )


def sms_text(incident: Incident) -> str:
    return (
        f"Outage at {incident.district.name}, incident {incident.id}. "
        f"Reply 4 {incident.id} to acknowledge, 6 {incident.id} to resolve."
    )


def stop_ringing(session: Session, telephony: Telephony | None, incident: Incident, keep_sid: str | None) -> int:
    """Hang up the incident's page calls still ringing (someone has it now); returns how many."""
    if telephony is None:
        return 0
    stopped = 0
    for page in session.scalars(
        select(Page).where(
            Page.incident_id == incident.id,
            Page.channel == "voice",
            Page.status.in_(("initiated", "queued", "ringing")),
        )
    ):
        if not page.sid or page.sid == keep_sid:
            continue
        try:
            telephony.update_call(page.sid, status="canceled")
            page.status = "canceled"
            stopped += 1
        except TelephonyError as exc:
            log.info("page call %s not stopped: %s", page.sid, exc)
    return stopped


def record_status(session: Session, page_id: int, status: str, answered_by: str | None, now: datetime) -> Page | None:
    """A delivery status from Twilio (call or SMS status callback) on the page and its timeline."""
    page = session.get(Page, page_id)
    if page is None or not status:
        return None
    page.status = status[:24]
    page.updated_at = now
    if answered_by:
        page.answered_by = answered_by[:24]
    if status in FINAL_CALL_STATUSES | {"delivered", "undelivered"}:
        incident = session.get(Incident, page.incident_id)
        assert incident is not None  # pages are deleted with their incident (ON DELETE CASCADE)
        who = page.engineer.name if page.engineer else "engineer"
        extra = " (voicemail: not an acknowledgement)" if (page.answered_by or "").startswith("machine") else ""
        incidents.note(
            session,
            incident,
            now,
            "page_delivery",
            f"{page.channel} page to {who}: {status}{extra}.",
            page.engineer_id,
            case_log=False,
        )
    return page


def sweep(ctx: JobContext) -> int:
    """Start paging for any triggered incident whose first step never ran (Redis was down when it
    opened, or the web process died before enqueueing). Returns how many it started."""
    started = 0
    with ctx.sessions() as session:
        ids = list(session.scalars(select(Incident.id).where(Incident.state == "triggered")))
    for incident_id in ids:
        if not ctx.redis.exists(f"sl:page:ran:{incident_id}:{START.round}:{START.step}"):
            start(ctx.jobs, incident_id)
            started += 1
    return started
