"""Problems with a document and the report of a load: `Problem` (path, line, reason), `LoadError`
(every problem; nothing was written), `LoadReport` (created/updated/unchanged per kind of row, and
warnings about what loaded but is worth fixing),
path rendering (`contacts[3].phones[1]`), the `ProblemCollector` that finds each path's line, and
`describe`/`shorten`, which put a value into a message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One reason the document cannot be loaded: where (path in the file, line) and why."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.path or "(document)"
        if self.line is not None:
            where += f" (line {self.line})"
        return f"{where}: {self.message}"


class LoadError(Exception):
    """The document has problems; nothing was written. `problems` lists every one of them."""

    def __init__(self, problems: Sequence[Problem], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        lines = [f"{head}{len(self.problems)} problem(s); nothing was written"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))


_COUNTED = ("created", "updated", "unchanged")


@dataclass
class LoadReport:
    """What a load did, per kind of row: how many were created, updated, or already as in the file."""

    source: str = ""
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)  # loaded, but worth fixing (short PINs)

    def count(self, kind: str, outcome: str) -> None:
        self.counts.setdefault(kind, dict.fromkeys(_COUNTED, 0))[outcome] += 1

    def touch(self, kind: str) -> None:
        """Mention `kind` in the summary even when the file's section was empty."""
        self.counts.setdefault(kind, dict.fromkeys(_COUNTED, 0))

    @property
    def changes(self) -> int:
        return sum(c["created"] + c["updated"] for c in self.counts.values())

    def __str__(self) -> str:
        if not self.counts:
            return "nothing to load"
        return "; ".join(f"{kind}: " + ", ".join(f"{c[o]} {o}" for o in _COUNTED) for kind, c in self.counts.items())


def render_path(loc: Iterable[Any]) -> str:
    """('contacts', 3, 'phones', 1) -> 'contacts[3].phones[1]'."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class ProblemCollector:
    """Collects problems, looking up each path's line in the map built from the YAML nodes."""

    def __init__(self, lines: Mapping[str, int] | None) -> None:
        self.lines = dict(lines or {})
        self.items: list[Problem] = []
        self.warnings: list[Problem] = []

    def line_of(self, loc: Sequence[Any]) -> int | None:
        parts = list(loc)
        while True:
            found = self.lines.get(render_path(parts))
            if found is not None or not parts:
                return found
            parts.pop()

    def add(self, loc: Sequence[Any], message: str) -> None:
        self.items.append(Problem(render_path(loc), self.line_of(loc), message))

    def warn(self, loc: Sequence[Any], message: str) -> None:
        """Something that loads but is worth fixing: reported, never a reason to refuse."""
        self.warnings.append(Problem(render_path(loc), self.line_of(loc), message))

    def where(self, loc: Sequence[Any]) -> str:
        line = self.line_of(loc)
        return render_path(loc) + (f" (line {line})" if line is not None else "")

    def __bool__(self) -> bool:
        return bool(self.items)

    def sorted(self) -> list[Problem]:
        # File order where lines are known; otherwise the order found (which follows the file).
        order = sorted(enumerate(self.items), key=lambda ip: (ip[1].line is None, ip[1].line or 0, ip[0]))
        return [p for _, p in order]


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the text {shorten(value)}"
    if isinstance(value, datetime):
        return "a date-time"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, time):
        return "a time"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "a list"
    return f"a {type(value).__name__}"


def shorten(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
