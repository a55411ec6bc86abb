"""`supportline presence set|reconcile` and `supportline queue` against a file database (embedded Redis)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cli.main import main
from tests.cli.test_call import _db


def test_presence_set_all_then_reconcile_and_queue(tmp_path, monkeypatch):
    _db(tmp_path, monkeypatch)
    runner = CliRunner()
    done = runner.invoke(main, ["--dev", "presence", "set", "available", "--all"])
    assert done.exit_code == 0, done.output
    assert done.output.strip().endswith("advisor(s) available")
    done = runner.invoke(main, ["--dev", "presence", "reconcile"])
    assert done.exit_code == 0, done.output
    assert "advisor(s) changed" in done.output
    done = runner.invoke(main, ["--dev", "queue", "--json"])
    assert done.exit_code == 0, done.output
    assert isinstance(json.loads(done.output), dict)
