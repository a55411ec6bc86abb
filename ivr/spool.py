"""Write-behind for the call log while the database is down: no call leaves no trace, and no
call's end is lost.

When a webhook cannot reach the database it answers the fallback (apology, overflow number) and
`spool()`s what the call-log row needs: the CallSid, the masked number, the time, the step and the
outcome ("fallback"). The events that end a call (the Dial result, Twilio's final status) are
spooled with their cleaned parameters too (`event`), so that once the database is back they are
applied as the live webhook would have: the call-log row closed with its outcome and `ended_at`,
the advisor released (wrap-up, then available) with their hold. Records are appended to a local
file (JSON lines, fsynced), on the machine that answered. Not to Redis: a Redis without
persistence that restarts during the same incident would lose them, and a machine's disk outlives
both.

`replay()` takes every spooled file of the folder, applies the records in the order they arrived
(by time; the file's order among equal times) and removes the files only after the database
committed them. Record by record: each record is applied inside its own SAVEPOINT, so one that
cannot be written (a DataError, a value that does not parse, anything but the database being
unreachable) rolls back alone, goes to the dead-letter file beside the spool (`*.dead.jsonl`: the
record and the reason, one JSON line each; counted in `/metrics`) and never blocks the others. A
savepoint rather than a commit per record: the pass stays one unit of work (one commit, then the
files go), so a pass that dies half-way leaves the files to be replayed whole again, which is safe
because applying a record twice changes nothing. An unreachable database (or a deadlock) stops the
pass instead: nothing is dead-lettered for a fault that is not the record's, and the next pass
retries. Replay runs in the worker's timer every 30 s, and in each web process once the database
answers again after it spooled (a host without a worker still empties its own spool), and when a
web process starts.

Several processes on one host append to the same file and any of them may replay it, so:
* a writer locks the file (`flock`) while it appends, and re-opens it if a replayer took it away
  between the writer's open and its lock;
* a replayer first renames the file to a name of its own (atomic: exactly one replayer gets it),
  then takes the same lock, which waits for any writer still holding the old file;
* a taken file whose replayer died is taken again after `ORPHAN_SECONDS`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from casestore.db import unreachable
from casestore.models import CallLog

log = logging.getLogger("supportline.spool")

TAKEN_SUFFIX = ".replaying"
DEAD_SUFFIX = ".dead.jsonl"
REASON_LIMIT = 500
ORPHAN_SECONDS = 120.0
_thread_lock = threading.Lock()  # flock is per open file; threads of one process share this


def spool(
    path: Path,
    *,
    sid: str,
    from_masked: str,
    at: datetime,
    step: str,
    outcome: str = "fallback",
    event: dict[str, Any] | None = None,
) -> bool:
    """Append one record durably; False (and logged) if the disk refused it. `event` (the step's
    cleaned `form` and `query`) marks a call's end to be applied on replay (`replay(apply_event=)`)."""
    fields: dict[str, Any] = {
        "sid": sid[:64],
        "from": from_masked[:32],
        "at": at.isoformat(),
        "step": step[:32],
        "outcome": outcome,
    }
    if event is not None:
        fields["event"] = event
    record = json.dumps(fields)
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
        with contextlib.suppress(FileNotFoundError):
            count += len(_lines(f.read_text(encoding="utf-8")))
    return count


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _spool_files(path: Path) -> list[Path]:
    if not path.parent.exists():
        return []
    return [f for f in (path, *path.parent.glob(f"{path.name}.*{TAKEN_SUFFIX}")) if f.exists()]


ApplyEvent = Callable[[Session, dict], None]


def replay(session: Session, path: Path, *, now: float | None = None, apply_event: ApplyEvent | None = None) -> int:
    """Write the spooled records of this folder into the call log; the number of records taken
    (written or dead-lettered). `apply_event(session, record)` applies a call's end (the web
    layer runs the flow's `replay_end`); without it such a record only leaves its trace."""
    taken = _take(path, time.time() if now is None else now)
    if not taken:
        return 0
    records: list[tuple[str, dict | None]] = []
    for f in taken:
        with open(f, encoding="utf-8") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # writers that opened it before the rename are done
            for line in _lines(fh.read()):
                try:
                    rec = json.loads(line)
                except ValueError:  # a torn last line (the disk filled up mid-write)
                    rec = None
                records.append((line, rec if isinstance(rec, dict) else None))
    records.sort(key=lambda item: _arrived(item[1]))  # stable: the file's order among equal times
    dead = 0
    for line, rec in records:
        if rec is None:
            log.error("skipped an unreadable spooled record in %s", path.parent)
            dead += _dead_letter(path, line, "unreadable (torn line)")
            continue
        try:
            with session.begin_nested():
                _apply(session, rec, apply_event)
        except Exception as exc:
            if unreachable(exc) or isinstance(exc, OperationalError):
                raise  # not this record's fault: the files stay for the next pass
            log.error("dead-lettered the spooled record of %s: %s", str(rec.get("sid"))[:64], type(exc).__name__)
            dead += _dead_letter(path, rec, f"{type(exc).__name__}: {exc}")
    session.commit()
    for f in taken:
        f.unlink()
    log.warning(
        "replayed %d call-log record(s) written while the database was down (%d dead-lettered)",
        len(records) - dead,
        dead,
    )
    return len(records)


def _arrived(rec: dict | None) -> float:
    try:
        return datetime.fromisoformat(rec["at"]).timestamp()  # type: ignore[index]
    except (TypeError, KeyError, ValueError):
        return 0.0  # unreadable ones first: they are dead-lettered, not applied


def dead_letter_path(path: Path) -> Path:
    """The dead-letter file beside the spool `path` (not one the replayer takes)."""
    return path.with_name(path.name.removesuffix(".jsonl") + DEAD_SUFFIX)


def _dead_letter(path: Path, record: dict | str, reason: str) -> int:
    """Keep a record that could not be written, with the reason; 1 (counted) even if the disk
    refused it (then it is in the log only)."""
    line = json.dumps({"record": record, "reason": reason[:REASON_LIMIT], "at": time.time()})
    try:
        with _thread_lock, open(dead_letter_path(path), "a", encoding="utf-8") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        log.exception("could not write the dead-letter file; the record was: %s", line[:1000])
    return 1


def dead_letters(path: Path) -> int:
    """Records dead-lettered on this host so far (lines of the dead-letter file)."""
    try:
        return len(_lines(dead_letter_path(path).read_text(encoding="utf-8")))
    except FileNotFoundError:
        return 0


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


def _apply(session: Session, rec: dict, apply_event: ApplyEvent | None) -> None:
    at = datetime.fromisoformat(rec["at"])
    row = session.scalars(select(CallLog).where(CallLog.call_sid == rec["sid"])).first()
    event = rec.get("event")
    if row is None:
        session.add(
            CallLog(
                call_sid=rec["sid"],
                from_masked=rec["from"],
                started_at=at,
                path=[rec["step"]],
                outcome=rec["outcome"],
                wait_seconds=0,
                talk_seconds=0,
                duration_seconds=0,
            )
        )
        session.flush()
    elif row.outcome == "in_progress" and event is None:
        row.outcome = rec["outcome"]
        row.path = [*(row.path or []), rec["step"]]
    if event is not None and apply_event is not None:
        session.flush()
        apply_event(session, rec)
