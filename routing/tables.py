"""The routing tables a call needs, as one immutable snapshot, cached per process for a few seconds.

A webhook needs the calendar, the advisor roster, the on-call rotations, the engineers and the
status banners; loading them costs about a dozen queries, and they change rarely (an admin edit
or a load file). `TablesCache` keeps one snapshot per process and refreshes it in the background
every `ttl` seconds, so a change reaches every worker within that time without a deploy, and no
call waits for a reload.
"""

from __future__ import annotations

import logging
import os
import threading
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from casestore.models import Engineer, RoutingVersion, StatusBanner
from routing.calendar import Calendar, load_calendar
from routing.escalation import PolicySpec, default_policy, load_policies
from routing.oncall import RotationSpec, load_rotations
from routing.selection import AdvisorView, TeamView, load_advisors, load_teams

log = logging.getLogger("supportline.routing")


@dataclass(frozen=True)
class Banner:
    district_pk: int | None
    message: str
    starts_at: datetime
    expires_at: datetime | None

    def shows(self, now: datetime, district_pk: int | None) -> bool:
        live = self.starts_at <= now and (self.expires_at is None or now < self.expires_at)
        return live and self.district_pk == district_pk


@dataclass(frozen=True)
class EngineerView:
    pk: int
    name: str
    phone: str
    sms: bool = True


@dataclass(frozen=True)
class RoutingTables:
    calendar: Calendar
    advisors: tuple[AdvisorView, ...]
    rotations: tuple[RotationSpec, ...]
    engineers: dict[str, EngineerView]  # active engineers by name
    banners: tuple[Banner, ...]
    teams: tuple[TeamView, ...] = ()
    policies: tuple[PolicySpec, ...] = ()

    @property
    def default_policy(self) -> PolicySpec:
        return default_policy(self.policies)

    def policy(self, name: str | None) -> PolicySpec:
        return next((p for p in self.policies if p.name == name), self.default_policy)

    def banners_for(self, now: datetime, district_pk: int | None) -> list[str]:
        return [b.message for b in self.banners if b.shows(now, district_pk)]

    def advisor(self, pk: int | None) -> AdvisorView | None:
        return next((a for a in self.advisors if a.pk == pk), None)


def load_tables(session: Session, tz_name: str) -> RoutingTables:
    engineers = {
        e.name: EngineerView(e.id, e.name, e.phone, e.sms)
        for e in session.scalars(select(Engineer).where(Engineer.active.is_(True)))
    }
    banners = tuple(
        Banner(b.district_id, b.message, b.starts_at, b.expires_at)
        for b in session.scalars(
            select(StatusBanner).where(StatusBanner.active.is_(True)).order_by(StatusBanner.starts_at)
        )
    )
    return RoutingTables(
        calendar=load_calendar(session, tz_name),
        advisors=tuple(load_advisors(session)),
        rotations=tuple(load_rotations(session)),
        engineers=engineers,
        banners=banners,
        teams=tuple(load_teams(session)),
        policies=tuple(load_policies(session)),
    )


FULL_RELOAD_SECONDS = 300.0


def routing_version(session: Session) -> int | None:
    return session.scalar(select(RoutingVersion.version).where(RoutingVersion.id == 1))


class TablesCache:
    """One snapshot per process, refreshed in the background every `ttl` seconds.

    The first request loads the tables itself; after that a daemon thread (started lazily, so it
    runs in each forked gunicorn worker) checks the routing-version counter every `ttl` seconds
    with its own session and reloads only when it moved (or every FULL_RELOAD_SECONDS), and
    requests always get the current snapshot without waiting. A failed reload (database
    down) keeps the previous snapshot and tries again next time. `ttl` 0 disables caching: every
    request loads the tables from its own session (tests, the dry-run call simulator).
    """

    def __init__(self, ttl: float, tz_name: str, sessions: Callable[[], Session] | None = None) -> None:
        self.ttl = ttl
        self.tz_name = tz_name
        self.sessions = sessions
        self._lock = threading.Lock()
        self._snapshot: RoutingTables | None = None
        self._refresher: threading.Thread | None = None
        self._stopped = threading.Event()
        self._pid: int | None = None
        self._version: int | None = None
        self._loaded_at = 0.0

    def get(self, session: Session) -> RoutingTables:
        if self.ttl <= 0 or self.sessions is None:
            return load_tables(session, self.tz_name)
        snapshot = self._snapshot
        if snapshot is not None and self._pid == os.getpid():
            return snapshot
        with self._lock:
            if self._snapshot is None or self._pid != os.getpid():
                self._version = routing_version(session)
                self._snapshot = load_tables(session, self.tz_name)
                self._loaded_at = _time.monotonic()
                self._pid = os.getpid()
                self._refresher = threading.Thread(target=self._refresh_forever, name="routing-tables", daemon=True)
                self._refresher.start()
            return self._snapshot

    def _refresh_forever(self) -> None:
        pid = os.getpid()
        while not self._stopped.wait(self.ttl) and self._pid == pid:
            self.refresh()

    def stop(self) -> None:
        """End the background refresh (an app torn down before its process ends: tests)."""
        self._stopped.set()

    def refresh(self, force: bool = False) -> bool:
        """Reload when the routing tables changed (one cheap query to find out), or when `force`
        or the snapshot is older than FULL_RELOAD_SECONDS (catches changes made outside the ORM).
        Returns True when it reloaded."""
        assert self.sessions is not None
        try:
            with self.sessions() as session:
                version = routing_version(session)
                stale = _time.monotonic() - self._loaded_at >= FULL_RELOAD_SECONDS
                if not (force or stale or version != self._version):
                    return False
                tables = load_tables(session, self.tz_name)
        except Exception:  # keep serving the last good tables; the next round tries again
            log.exception("could not refresh the routing tables; keeping the previous ones")
            return False
        self._snapshot, self._version, self._loaded_at = tables, version, _time.monotonic()
        return True
