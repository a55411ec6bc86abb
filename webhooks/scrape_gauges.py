"""The scrape-time gauges of `/metrics` (`LiveCollector`), read from Redis and the database each
time `/metrics` is scraped, so every worker reports the same shared truth and nothing has to be
kept in step:
    supportline_queue_waiting{skill}                     callers in the line now
    supportline_queue_longest_wait_seconds{skill}        the longest wait in the line now
    supportline_advisors{state}                          active advisors by presence
    supportline_pages_sent_today{channel}                pages handed to Twilio since local midnight
    supportline_pages_acknowledged_today{channel}        ... of which acknowledged or resolved from
                                                          the page itself (key 4 or 6 on the page call)
    supportline_incidents_acknowledged_today             incidents acknowledged since local midnight,
                                                          by any means (page key, SMS reply, the call)
    supportline_jobs_queued                               RQ jobs waiting for a worker
    supportline_jobs_oldest_queued_seconds                age of the oldest of them (job queue lag)
    supportline_jobs_scheduled                            timers filed (escalations, follow-ups)
    supportline_jobs_timer_lag_seconds                    how overdue the earliest timer is on the
                                                          service clock (a worker releases them)
    supportline_jobs_failed                               jobs in RQ's failed registry
    supportline_spool_pending                             call-log records spooled on this host while
                                                          the database was down, not yet replayed
    supportline_spool_dead_letters                        spooled records that could not be written,
                                                          kept in the dead-letter file (`ivr.spool`)
    supportline_pin_failures_line                         wrong PINs of all callers in the last 10 min
    supportline_pin_ceiling_active                        1 while the line is strict (over its ceiling)
    supportline_scrape_error{source}                      1 when a source (queue, presence, pages,
                                                          jobs, spool, pins) could not be read: its
                                                          gauges are left out, the rest of the page is served
    supportline_scrape_duration_seconds                   time spent reading them

Counted-as-it-happens figures, access and the route are in `webhooks.metrics`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from datetime import time as dtime
from zoneinfo import ZoneInfo

import redis
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from auth.callers import Lockout
from casestore.models import Incident, Page
from routing.callqueue import GENERAL, SKILLS, CallQueue
from routing.presence import PresenceState

log = logging.getLogger("supportline.metrics")


class LiveCollector:
    """Gauges read from Redis and the database when /metrics is scraped. Each source is read on
    its own: one that fails is reported by `supportline_scrape_error{source}` = 1 and its gauges
    are left out; once Redis refuses a connection the other Redis sources are not tried again
    in the same scrape (each try could wait for the socket timeout)."""

    SOURCES = (("queue", True), ("presence", True), ("pages", False), ("jobs", True), ("spool", False), ("pins", True))

    def __init__(self, svc) -> None:
        self.svc = svc

    def collect(self) -> Iterable[GaugeMetricFamily]:
        started = time.perf_counter()
        now = self.svc.now()
        errors: dict[str, int] = {}
        families: list[GaugeMetricFamily] = []
        redis_down: Exception | None = None
        for source, needs_redis in self.SOURCES:
            if needs_redis and redis_down is not None:
                errors[source] = 1
                continue
            try:
                families.extend(getattr(self, f"_{source}")(now))
                errors[source] = 0
            except Exception as exc:
                errors[source] = 1
                if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
                    redis_down = exc
                log.warning("metrics: %s gauges unavailable: %s: %s", source, type(exc).__name__, exc)
        yield from families
        err = GaugeMetricFamily(
            "supportline_scrape_error",
            "1 when a scrape-time source (Redis or the database) could not be read; its gauges are left out.",
            labels=["source"],
        )
        for source, _ in self.SOURCES:
            err.add_metric([source], errors[source])
        yield err
        yield GaugeMetricFamily(
            "supportline_scrape_duration_seconds",
            "Time spent reading the scrape-time gauges.",
            value=time.perf_counter() - started,
        )

    def _spool(self, now: datetime) -> list[GaugeMetricFamily]:
        from ivr import spool
        from webhooks.voice import spool_path  # webhooks.voice imports this module

        path = spool_path(self.svc)
        return [
            GaugeMetricFamily(
                "supportline_spool_pending",
                "Call-log records spooled on this host while the database was down, not yet replayed.",
                value=spool.pending(path),
            ),
            GaugeMetricFamily(
                "supportline_spool_dead_letters",
                "Spooled records that could not be written, kept in the dead-letter file on this host.",
                value=spool.dead_letters(path),
            ),
        ]

    def _midnight(self, now: datetime) -> datetime:
        tz = ZoneInfo(self.svc.settings.support_timezone)
        return datetime.combine(now.astimezone(tz).date(), dtime(0), tzinfo=tz)

    def _queue(self, now: datetime) -> list[GaugeMetricFamily]:
        entries = CallQueue(self.svc.redis).entries()
        now_ts = now.timestamp()
        skills = (*SKILLS, GENERAL)
        count = dict.fromkeys(skills, 0)
        longest = dict.fromkeys(skills, 0.0)
        for e in entries:
            skill = e.skill or GENERAL
            if skill not in count:
                skill = "other"
                count.setdefault(skill, 0)
                longest.setdefault(skill, 0.0)
            count[skill] += 1
            longest[skill] = max(longest[skill], max(0.0, now_ts - e.queued_at))
        waiting = GaugeMetricFamily(
            "supportline_queue_waiting", "Callers waiting in the line now, by skill.", labels=["skill"]
        )
        oldest = GaugeMetricFamily(
            "supportline_queue_longest_wait_seconds",
            "The longest wait in the line now, by skill (0: nobody waits).",
            labels=["skill"],
        )
        for skill in count:
            waiting.add_metric([skill], count[skill])
            oldest.add_metric([skill], round(longest[skill], 3))
        return [waiting, oldest]

    def _presence(self, now: datetime) -> list[GaugeMetricFamily]:
        with self.svc.sessions() as session:
            roster = self.svc.tables.get(session).advisors
        views = self.svc.presence.snapshot([a.pk for a in roster], now)
        by_state = {s.value: 0 for s in PresenceState}
        for view in views.values():
            by_state[view.state] = by_state.get(view.state, 0) + 1
        fam = GaugeMetricFamily("supportline_advisors", "Active advisors by presence now.", labels=["state"])
        for state, n in by_state.items():
            fam.add_metric([state], n)
        return [fam]

    def _pages(self, now: datetime) -> list[GaugeMetricFamily]:
        since = self._midnight(now)
        with self.svc.sessions() as session:
            rows = session.execute(
                select(Page.channel, Page.result, func.count())
                .where(Page.created_at >= since, Page.created_at <= now, Page.sid.is_not(None))
                .group_by(Page.channel, Page.result)
            ).all()
            incidents = session.scalar(
                select(func.count())
                .select_from(Incident)
                .where(Incident.acknowledged_at >= since, Incident.acknowledged_at <= now)
            )
        sent = {"voice": 0, "sms": 0}
        acked = {"voice": 0, "sms": 0}
        for channel, result, n in rows:
            sent[channel] = sent.get(channel, 0) + n
            if result in ("acknowledged", "resolved"):
                acked[channel] = acked.get(channel, 0) + n
        fam_sent = GaugeMetricFamily(
            "supportline_pages_sent_today",
            "Outage pages handed to Twilio since local midnight, by channel.",
            labels=["channel"],
        )
        fam_ack = GaugeMetricFamily(
            "supportline_pages_acknowledged_today",
            "Of today's pages, those acknowledged or resolved from the page (key 4 or 6).",
            labels=["channel"],
        )
        for channel in sent:
            fam_sent.add_metric([channel], sent[channel])
            fam_ack.add_metric([channel], acked.get(channel, 0))
        fam_inc = GaugeMetricFamily(
            "supportline_incidents_acknowledged_today",
            "Incidents acknowledged since local midnight (page key, SMS reply or the call).",
            value=int(incidents or 0),
        )
        return [fam_sent, fam_ack, fam_inc]

    def _jobs(self, now: datetime) -> list[GaugeMetricFamily]:
        from rq.job import Job

        jobs = self.svc.jobs
        queue, conn = jobs.queue, jobs.connection
        queued = int(queue.count)
        oldest_age = 0.0
        wall = datetime.now(UTC)  # RQ stamps jobs with the machine's clock
        for job_id in queue.get_job_ids(0, 3):  # the head; skip ids whose job vanished meanwhile
            try:
                job = Job.fetch(job_id, connection=conn)
            except Exception:
                continue
            if job.enqueued_at is not None:
                at = job.enqueued_at if job.enqueued_at.tzinfo else job.enqueued_at.replace(tzinfo=UTC)
                oldest_age = max(0.0, (wall - at).total_seconds())
            break
        scheduled_key = queue.scheduled_job_registry.key
        scheduled = int(conn.zcard(scheduled_key))
        first = conn.zrange(scheduled_key, 0, 0, withscores=True)
        timer_lag = max(0.0, now.timestamp() - float(first[0][1])) if first else 0.0  # service clock
        failed = int(conn.zcard(queue.failed_job_registry.key))
        return [
            GaugeMetricFamily("supportline_jobs_queued", "RQ jobs waiting for a worker.", value=queued),
            GaugeMetricFamily(
                "supportline_jobs_oldest_queued_seconds",
                "Age of the oldest job waiting for a worker (job queue lag; 0: none).",
                value=round(oldest_age, 3),
            ),
            GaugeMetricFamily(
                "supportline_jobs_scheduled", "Timers filed (escalation steps, follow-ups).", value=scheduled
            ),
            GaugeMetricFamily(
                "supportline_jobs_timer_lag_seconds",
                "How overdue the earliest timer is on the service clock (0: none due).",
                value=round(timer_lag, 3),
            ),
            GaugeMetricFamily("supportline_jobs_failed", "Jobs in RQ's failed registry.", value=failed),
        ]

    def _pins(self, now: datetime) -> list[GaugeMetricFamily]:
        lockout = Lockout(
            self.svc.redis, ceiling=self.svc.settings.pin_failure_ceiling, breaker=self.svc.breakers.redis
        )
        failures, strict = lockout.line_figures(now)
        return [
            GaugeMetricFamily(
                "supportline_pin_failures_line", "Wrong PINs of all callers in the last 10 minutes.", value=failures
            ),
            GaugeMetricFamily(
                "supportline_pin_ceiling_active",
                "1 while the line is over its PIN-failure ceiling (one try per call, a pause).",
                value=int(strict),
            ),
        ]
