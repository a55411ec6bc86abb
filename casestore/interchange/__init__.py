"""Routing-table import and export: one YAML (or JSON) document for teams, districts, contacts,
advisors, engineers, cases, hours, holidays, on-call rotations and escalation policies. This
package re-exports the public API; each concern lives in its own module.

Loading validates the *whole* document before writing anything:

1. parse (`yamlio`: YAML with no YAML 1.1 sexagesimal or octal numbers, so `18:00` and `012345`
   stay text), remembering the line of every path in the file;
2. check the shape of every row with pydantic models (`rows`, built on the field types in
   `fields`), row by row, so every bad row is reported, not just the first;
3. check across rows and against the database (`checks`, run by `plan`): duplicates, unknown
   references, closed cases without `closed_at`, overlapping hours, a PIN without a configured
   pepper, a second default escalation policy, ...;
4. only when there is no problem at all, upsert everything by natural key inside a SAVEPOINT and
   `flush()` (`writer`, driven by `load`; a row's `snapshots` tell whether it changed). The caller
   owns the transaction and commits (see `casestore.db.session_scope`).

Any problem raises `LoadError` with every `Problem` (path in the file, line, reason; `problems`)
and nothing is written. Loading the same file twice changes nothing and writes no audit entries.
`export_document` (`export`) reads the database back into the same format; `dump` writes it.

This package is part of the bottom layer: it imports nothing from auth/, routing/, ivr/ or webhooks/.
PINs are hashed by a callable the caller passes in (`hash_pin(contact_id, pin) -> str`).
"""

from __future__ import annotations

from casestore.interchange.export import export_document
from casestore.interchange.load import load_document, load_text
from casestore.interchange.problems import LoadError, LoadReport, Problem
from casestore.interchange.rows import FORMAT_VERSION
from casestore.interchange.yamlio import dump, parse_text

__all__ = [
    "FORMAT_VERSION",
    "LoadError",
    "LoadReport",
    "Problem",
    "dump",
    "export_document",
    "load_document",
    "load_text",
    "parse_text",
]
