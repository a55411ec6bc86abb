"""The routing tables a call needs, as one immutable snapshot, cached per process for a few seconds.

A webhook needs the calendar, the advisor roster, the on-call rotations, the engineers and the
status banners; loading them costs several queries, and they change rarely (an admin edit or a
load file). `TablesCache` keeps one snapshot per process for `ttl` seconds (0 disables caching),
so a change reaches every worker within that time without a deploy.
"""

from __future__ import annotations

import threading
import time as _time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from casestore.models import Engineer, StatusBanner
from routing.calendar import Calendar, load_calendar
from routing.oncall import RotationSpec, load_rotations
from routing.selection import AdvisorView, load_advisors


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


@dataclass(frozen=True)
class RoutingTables:
    calendar: Calendar
    advisors: tuple[AdvisorView, ...]
    rotations: tuple[RotationSpec, ...]
    engineers: dict[str, EngineerView]  # active engineers by name
    banners: tuple[Banner, ...]

    def banners_for(self, now: datetime, district_pk: int | None) -> list[str]:
        return [b.message for b in self.banners if b.shows(now, district_pk)]

    def advisor(self, pk: int | None) -> AdvisorView | None:
        return next((a for a in self.advisors if a.pk == pk), None)


def load_tables(session: Session, tz_name: str) -> RoutingTables:
    engineers = {
        e.name: EngineerView(e.id, e.name, e.phone)
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
    )


class TablesCache:
    """One snapshot per process, reloaded when older than `ttl` seconds (monotonic time)."""

    def __init__(self, ttl: float, monotonic: Callable[[], float] = _time.monotonic) -> None:
        self.ttl = ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._snapshot: tuple[str, float, RoutingTables] | None = None

    def get(self, session: Session, tz_name: str) -> RoutingTables:
        if self.ttl <= 0:
            return load_tables(session, tz_name)
        now = self._monotonic()
        cached = self._snapshot
        if cached is not None and cached[0] == tz_name and now - cached[1] < self.ttl:
            return cached[2]
        tables = load_tables(session, tz_name)
        with self._lock:
            self._snapshot = (tz_name, now, tables)
        return tables

    def clear(self) -> None:
        with self._lock:
            self._snapshot = None
