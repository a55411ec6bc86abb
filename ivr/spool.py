"""Write-behind for the call log while the database is down: no call leaves no trace.

When a webhook cannot reach the database it answers the fallback (apology, overflow number) and
`spool()`s what the call-log row needs: the CallSid, the masked number, the time, the step and the
outcome ("fallback"). Records are appended to a local file (JSON lines, fsynced), on the machine
that answered. Not to Redis: a Redis without persistence that restarts during the same incident
would lose them, and a machine's disk outlives both.

`replay()` turns the records into call-log rows (or marks an existing row's outcome) and removes
them only after the database committed them. Applying a record twice changes nothing, so a replay
that dies half-way is simply run again. It runs in the worker's timer every 30 s, and in each web
process once the database answers again after it spooled (a host without a worker still empties
its own spool), and when a web process starts.

Several processes on one host append to the same file and any of them may replay it, so:
* a writer locks the file (`flock`) while it appends, and re-opens it if a replayer took it away
  between the writer's open and its lock;
* a replayer first renames the file to a name of its own (atomic: exactly one replayer gets it),
  then takes the same lock, which waits for any writer still holding the old file;
* a taken file whose replayer died is taken again after `ORPHAN_SECONDS`.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from casestore.models import CallLog

log = logging.getLogger("supportline.spool")

TAKEN_SUFFIX = ".replaying"
ORPHAN_SECONDS = 120.0
_thread_lock = threading.Lock()  # flock is per open file; threads of one process share this


def spool(path: Path, *, sid: str, from_masked: str, at: datetime, step: str, outcome: str = "fallback") -> bool:
    """Append one record durably; False (and logged) if the disk refused it."""
    record = json.dumps({"sid": sid[:64], "from": from_masked[:32], "at": at.isoformat(), "step": step[:32],
                         "outcome": outcome})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _thread_lock:
            for _ in range(5):
                with open(path, "a", encoding="utf-8") as fh:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                    if not _same_file(fh, path):
                        continue  # a replayer renamed it after we opened it: write to the new one
                    fh.write(record + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                    return True
        raise OSError(f"{path} kept being taken away")
    except OSError:
        log.exception("could not spool the call-log record of %s", sid)
        return False


def _same_file(fh, path: Path) -> bool:
    try:
        return os.fstat(fh.fileno()).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def pending(path: Path) -> int:
    """Records waiting in this folder (the live file and taken ones)."""
    count = 0
    for f in _spool_files(path):
        try:
            count += len(_lines(f.read_text(encoding="utf-8")))
        except FileNotFoundError:
            pass
    return count


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _spool_files(path: Path) -> list[Path]:
    if not path.parent.exists():
        return []
    return [f for f in (path, *path.parent.glob(f"{path.name}.*{TAKEN_SUFFIX}")) if f.exists()]


def replay(session: Session, path: Path, *, now: float | None = None) -> int:
    """Write the spooled records of this folder into the call log; the number replayed."""
    done = 0
    for taken in _take(path, time.time() if now is None else now):
        with open(taken, "r", encoding="utf-8") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # writers that opened it before the rename are done
            lines = _lines(fh.read())
        for line in lines:
            try:
                rec = json.loads(line)
            except ValueError:  # a torn last line (the disk filled up mid-write): nothing to save
                log.error("skipped an unreadable spooled record in %s", taken)
                continue
            _apply(session, rec)
        session.commit()
        taken.unlink()
        done += len(lines)
    if done:
        log.warning("replayed %d call-log record(s) written while the database was down", done)
    return done


def _take(path: Path, now: float) -> list[Path]:
    """Rename the live file, and any taken file left by a replayer that died, to names of our own."""
    mine: list[Path] = []
    candidates = []
    for f in _spool_files(path):
        try:
            if f == path or now - f.stat().st_mtime >= ORPHAN_SECONDS:
                candidates.append(f)
        except FileNotFoundError:
            pass
    for f in candidates:
        target = path.with_name(f"{path.name}.{uuid.uuid4().hex}{TAKEN_SUFFIX}")
        try:
            os.utime(f)  # once renamed, ours: not an orphan for another ORPHAN_SECONDS
            os.rename(f, target)  # atomic: if another replayer got it first, this one fails
        except FileNotFoundError:
            continue
        mine.append(target)
    return mine


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
