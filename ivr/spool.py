"""Write-behind for the call log while the database is down: no call leaves no trace.

When a webhook cannot reach the database it answers the fallback (apology, overflow number) and
`spool()`s what the call-log row needs: the CallSid, the masked number, the time, the step and the
outcome ("fallback"). Records go to a Redis list, or, if Redis is down too, to a local file
(JSON lines, one per record; the machine's disk is the last resort). The worker's timer calls
`replay()` every 30 s: each record becomes a call-log row, or marks the existing row's outcome,
exactly once (records are removed only after the database committed them).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime
from pathlib import Path

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from casestore.models import CallLog
from casestore.redisguard import BREAKER, ERRORS

log = logging.getLogger("supportline.spool")

SPOOL_KEY = "sl:spool:call_log"
BATCH = 200
_file_lock = threading.Lock()


def spool(client: redis.Redis | None, path: Path, *, sid: str, from_masked: str, at: datetime, step: str,
          outcome: str = "fallback") -> None:
    record = json.dumps({"sid": sid[:64], "from": from_masked[:32], "at": at.isoformat(), "step": step[:32],
                         "outcome": outcome})
    if client is not None and BREAKER.usable():
        try:
            client.rpush(SPOOL_KEY, record)
            return
        except ERRORS as exc:
            BREAKER.failed(exc)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock, open(path, "a", encoding="utf-8") as fh:
            fh.write(record + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        log.exception("could not spool the call-log record of %s", sid)


def replay(session: Session, client: redis.Redis | None, path: Path) -> int:
    """Write spooled records into the call log (the caller's session is committed here)."""
    done = 0
    if client is not None:
        raw = client.lrange(SPOOL_KEY, 0, BATCH - 1)
        if raw:
            for item in raw:
                _apply(session, json.loads(item))
            session.commit()
            client.ltrim(SPOOL_KEY, len(raw), -1)
            done += len(raw)
    if path.exists():
        taking = path.with_suffix(path.suffix + ".replaying")
        with _file_lock:
            if not taking.exists():
                path.rename(taking)
        lines = [line for line in taking.read_text(encoding="utf-8").splitlines() if line.strip()]
        for line in lines:
            _apply(session, json.loads(line))
        session.commit()
        taking.unlink()
        done += len(lines)
    if done:
        log.warning("replayed %d call-log record(s) written while the database was down", done)
    return done


def _apply(session: Session, rec: dict) -> None:
    at = datetime.fromisoformat(rec["at"])
    row = session.scalars(select(CallLog).where(CallLog.call_sid == rec["sid"])).first()
    if row is None:
        session.add(CallLog(call_sid=rec["sid"], from_masked=rec["from"], started_at=at, path=[rec["step"]],
                            outcome=rec["outcome"], wait_seconds=0, talk_seconds=0, duration_seconds=0))
        session.flush()
    elif row.outcome == "in_progress":
        row.outcome = rec["outcome"]
        row.path = [*(row.path or []), rec["step"]]
