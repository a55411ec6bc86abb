"""The load entry points: `load_text` (parse, then load) and `load_document` (validate the whole
document, then upsert it inside a SAVEPOINT and flush; the caller commits). Any problem raises
`LoadError` and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from casestore.interchange.plan import PinHasher, validate
from casestore.interchange.problems import LoadError, LoadReport, Problem, ProblemCollector
from casestore.interchange.writer import Progress, Writer
from casestore.interchange.yamlio import parse_text


def load_document(
    session: Session,
    doc: Any,
    *,
    lines: Mapping[str, int] | None = None,
    source: str = "",
    hash_pin: PinHasher | None = None,
    region: str = "US",
    actor: str,
    now: datetime,
    problems: Sequence[Problem] = (),
    progress: Progress | None = None,
) -> LoadReport:
    """Validate `doc` (the parsed file) completely, then upsert it; raises LoadError on any problem.

    `lines` maps paths ("contacts[3].phones[1]") to lines for the messages. Only `flush()`es, inside
    a SAVEPOINT: the caller commits. Nothing is written when a problem is found. `progress` is told
    (rows written, rows in all) as the rows are written.
    """
    found = ProblemCollector(lines)
    found.items.extend(problems)
    plan = validate(session, doc, found, hash_pin=hash_pin, region=region)
    if found:
        raise LoadError(found.sorted(), source)
    report = LoadReport(source=source, warnings=list(found.warnings))
    with session.begin_nested(), session.no_autoflush:
        Writer(session, plan, report, actor, now, progress).write()
    session.flush()
    return report


def load_text(
    session: Session,
    text: str,
    *,
    source: str,
    hash_pin: PinHasher | None,
    region: str = "US",
    actor: str,
    now: datetime,
    progress: Progress | None = None,
) -> LoadReport:
    """Parse YAML (or JSON) `text` and load it; raises LoadError listing every problem."""
    data, lines, problems = parse_text(text)
    if problems and data is None:
        raise LoadError(problems, source)
    return load_document(
        session,
        data,
        lines=lines,
        source=source,
        hash_pin=hash_pin,
        region=region,
        actor=actor,
        now=now,
        problems=problems,
        progress=progress,
    )
