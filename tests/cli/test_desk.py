"""`supportline presence set|reconcile` and `supportline queue` against a file database (embedded Redis)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cli.main import main
from tests.cli.test_call import _db


def test_presence_set_all_then_reconcile_and_queue(tmp_path, monkeypatch, shared_state):
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


def test_every_command_sees_one_state(tmp_path, monkeypatch, shared_state):
    """A presence set by one command is what the next command (another process, in real use) sees."""
    _db(tmp_path, monkeypatch)
    runner = CliRunner()
    assert runner.invoke(main, ["--dev", "presence", "set", "available", "--all"]).exit_code == 0
    done = runner.invoke(main, ["--dev", "presence", "set", "away", "Priya Raman", "--reason", "lunch"])
    assert done.exit_code == 0, done.output
    rows = {row["name"]: row for row in json.loads(runner.invoke(main, ["--dev", "presence", "list", "--json"]).output)}
    assert rows["Priya Raman"]["state"] == "away" and rows["Priya Raman"]["away_reason"] == "lunch"
    assert rows["Marcus Bell"]["state"] == "available"
    queue = json.loads(runner.invoke(main, ["--dev", "queue", "--json"]).output)
    assert queue["advisors_away"] == [
        {"advisor": rows["Priya Raman"]["advisor"], "name": "Priya Raman", "reason": "lunch"}
    ]


def test_without_a_running_demo_the_commands_say_so(tmp_path, monkeypatch):
    _db(tmp_path, monkeypatch)
    for args in (["presence", "list"], ["queue"], ["presence", "set", "away", "--all"], ["dispatcher", "--once"]):
        done = CliRunner().invoke(main, ["--dev", *args])
        assert done.exit_code == 1, (args, done.output)
        assert f"no shared state to reach: no `supportline demo` is running for the instance {tmp_path}" in done.output
