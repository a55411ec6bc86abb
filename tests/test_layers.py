"""Imports point down: the edges -> ivr -> routing/auth -> casestore; ivr knows no Flask.

The edges: `webhooks/` (the Twilio-facing HTTP edge, and the app factory), and beside it the
console (`console/`), the JSON API (`api/`), the command line (`cli/`) and the background processes
(`workers/`), which may use webhooks' app, config and services and everything below. The Twilio
stand-ins (`twilio_doubles/`) drive the app, so they sit with the edges: only the console and the
CLI use them. Only the app factory (`webhooks/app.py`, the composition root) reaches back up, to
register the console's and the API's blueprints; nothing below the edges ever imports one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What each package may import from the project.
ALLOWED = {
    "casestore": {"casestore"},
    "auth": {"auth", "casestore"},
    "routing": {"routing", "casestore"},
    "ivr": {"ivr", "routing", "auth", "casestore"},
    "webhooks": {"webhooks", "ivr", "routing", "auth", "casestore"},
    "console": {"console", "webhooks", "twilio_doubles", "ivr", "routing", "auth", "casestore"},
    "api": {"api", "webhooks", "ivr", "routing", "auth", "casestore"},
    "cli": {"cli", "webhooks", "workers", "twilio_doubles", "ivr", "routing", "auth", "casestore"},
    "workers": {"workers", "webhooks", "ivr", "routing", "auth", "casestore"},
    "twilio_doubles": {"twilio_doubles", "webhooks", "ivr", "routing", "auth", "casestore"},
}
# The composition root, the one module that may import the edges beside webhooks (to register
# them); and the old import path of the `supportline` command, kept for the pinned transcripts test.
COMPOSITION_ROOT = {Path("webhooks/app.py"): {"console", "api"}}
PROJECT = set(ALLOWED)
FORBIDDEN_THIRD_PARTY = {
    "ivr": {"flask", "werkzeug"},
    "routing": {"flask", "werkzeug", "twilio"},
    "auth": {"twilio"},
    "casestore": {"flask", "werkzeug", "twilio"},
}


def _parse(path: Path) -> ast.Module:
    """ast.parse, tried again on a "SystemError: AST constructor recursion depth mismatch" (seen
    once in CI on CPython 3.11.7): the conversion of an AST to Python objects there keeps its depth
    in shared state, which another thread working with ASTs at the same moment can upset. The
    file itself is fine, and parsing it again succeeds."""
    source = path.read_text(encoding="utf-8")
    for attempt in range(5):
        try:
            return ast.parse(source)
        except SystemError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _imports(path: Path) -> set[str]:
    tree = _parse(path)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_down(package):
    for path in (ROOT / package).rglob("*.py"):
        used = _imports(path)
        wrong = (used & PROJECT) - ALLOWED[package] - COMPOSITION_ROOT.get(path.relative_to(ROOT), set())
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)} (above {package})"
        bad = used & FORBIDDEN_THIRD_PARTY.get(package, set())
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_every_module_says_what_it_owns(package):
    for path in (ROOT / package).rglob("*.py"):
        if path.name == "__init__.py" and not path.read_text().strip():
            continue
        if "migrations" in path.parts and path.name != "env.py":
            continue
        doc = ast.get_docstring(_parse(path))
        assert doc, f"{path.relative_to(ROOT)} has no module docstring"
