"""Sizes a reader can follow: no production module over 500 lines, no function over 60 (issue #14).

Production code is every package of the service, tests and benchmarks aside. The migrations (DDL as
written when each revision was made) are left out of both limits, and the demo generator (a data
set written out as code) of the module limit. Lines are counted as the formatter leaves them
(`ruff format`, checked by CI).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_layers import PROJECT, ROOT, _parse

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
MIGRATIONS = "casestore/migrations/"
DEMO = "casestore/demo/"


def _production_modules(*left_out: str) -> list[Path]:
    files = [p for pkg in sorted(PROJECT) for p in sorted((ROOT / pkg).rglob("*.py"))]
    return [p for p in files if not str(p.relative_to(ROOT)).startswith((MIGRATIONS, *left_out))]


def test_the_production_modules_are_found():
    names = {str(p.relative_to(ROOT)) for p in _production_modules()}
    assert "ivr/flow/connect.py" in names and "routing/decision.py" in names and "casestore/demo/make_demo.py" in names
    assert not any(n.startswith(MIGRATIONS) for n in names)
    assert not any(str(p.relative_to(ROOT)).startswith(DEMO) for p in _production_modules(DEMO))


def test_no_production_module_is_over_500_lines():
    over = {}
    for path in _production_modules(DEMO):
        lines = path.read_text(encoding="utf-8").count("\n")
        if lines > MAX_MODULE_LINES:
            over[str(path.relative_to(ROOT))] = lines
    assert over == {}, f"split these by responsibility: {over}"


def test_no_production_function_is_over_60_lines():
    over = {}
    for path in _production_modules():
        for node in ast.walk(_parse(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    over[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = length
    assert over == {}, f"split these into named steps: {over}"
