"""The audit log: every write from an admin page, the API, the CLI, a load file or the IVR itself
records who, when, what, and the before and after values."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from casestore.models import AuditEntry


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    return value


def record(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    key: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry | None:
    """Add one audit entry (flushed with the caller's unit of work). No-op updates record nothing."""
    before_p, after_p = _plain(before), _plain(after)
    if action == "update" and before_p == after_p:
        return None
    if action == "update" and before_p and after_p:
        changed = {k for k in set(before_p) | set(after_p) if before_p.get(k) != after_p.get(k)}
        before_p = {k: before_p.get(k) for k in sorted(changed)}
        after_p = {k: after_p.get(k) for k in sorted(changed)}
    entry = AuditEntry(
        at=at, actor=actor, action=action, entity=entity, entity_key=str(key), before=before_p, after=after_p
    )
    session.add(entry)
    return entry
