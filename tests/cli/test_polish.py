"""The CLI's rough edges, filed down: --version, a fresh database, reports' errors and empty CSVs,
`export -o`, `queue` as a table, `worker --help`, the audit actor without $USER, load's progress."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner

from cli import common
from cli.main import main
from cli.queue_text import queue_text
from tests.cli.test_call import _db


def _run(*args: str):
    return CliRunner().invoke(main, ["--dev", *args])


def test_version() -> None:
    done = _run("--version")
    assert done.exit_code == 0
    assert done.output.startswith("supportline, version ")


def test_a_fresh_database_says_to_upgrade(tmp_path, monkeypatch, shared_state) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    monkeypatch.setenv("SUPPORTLINE_INSTANCE", str(tmp_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    for args in (["queue"], ["presence", "list"], ["report", "surveys"], ["export"]):
        done = _run(*args)
        assert done.exit_code == 1, (args, done.output)
        assert "run `supportline db upgrade` first" in done.output
        assert "Traceback" not in done.output


def test_report_dates_name_their_option(tmp_path, monkeypatch) -> None:
    _db(tmp_path, monkeypatch)
    done = _run("report", "queue", "--since", "2026-13-01")
    assert done.exit_code == 2
    assert "Invalid value for --since: '2026-13-01' is not a date (YYYY-MM-DD)" in done.output
    done = _run("report", "queue", "--until", "soon")
    assert "Invalid value for --until" in done.output
    done = _run("report", "queue", "--since", "2026-11-20", "--until", "2026-11-10")
    assert "Invalid value for --since: 2026-11-20 is after --until 2026-11-10" in done.output


def test_an_empty_report_still_has_its_header(tmp_path, monkeypatch) -> None:
    _db(tmp_path, monkeypatch)
    done = _run("report", "surveys", "--since", "2026-01-01", "--until", "2026-01-31")
    assert done.exit_code == 0, done.output
    assert done.output == "product_area,answered,courtesy,knowledge,timeliness,quality,overall\n"
    out = tmp_path / "surveys.csv"
    done = _run("report", "surveys", "--since", "2026-01-01", "--until", "2026-01-31", "-o", str(out))
    assert done.output.strip() == f"0 row(s) written to {out}"
    assert next(csv.reader(io.StringIO(out.read_text())))[0] == "product_area"


def test_export_to_a_file_says_what_it_wrote(tmp_path, monkeypatch) -> None:
    _db(tmp_path, monkeypatch)
    out = tmp_path / "tables.yaml"
    done = _run("export", "-o", str(out))
    assert done.exit_code == 0, done.output
    lines = len(out.read_text().splitlines())
    assert done.output.strip() == f"routing tables written to {out} (yaml, {lines} lines)"


def test_queue_is_a_table_and_json_on_request(tmp_path, monkeypatch, shared_state) -> None:
    _db(tmp_path, monkeypatch)
    done = _run("queue")
    assert done.exit_code == 0, done.output
    assert "Nobody is waiting." in done.output
    assert "Advisors: available" in done.output
    assert json.loads(_run("queue", "--json").output)["waiting"] == 0


def test_queue_text_lays_out_the_line_and_the_figures() -> None:
    figs = {
        "offered": 12,
        "answered": 10,
        "abandoned": 1,
        "left_message_or_callback": 1,
        "asa_seconds": 83.4,
        "service_level": 0.8,
        "abandonment_rate": 0.091,
    }
    data = {
        "now": "2026-12-02T16:05:00+00:00",
        "waiting": 2,
        "longest_wait_seconds": 185,
        "line": [
            {
                "position": 1,
                "priority": "critical",
                "skill": "attendance",
                "waiting_seconds": 185,
                "waiting_for_owner": True,
            },
            {"position": 2, "priority": "medium", "skill": "general", "waiting_seconds": 9, "waiting_for_owner": False},
        ],
        "advisors": {"available": 3, "on_call": 2, "wrap_up": 1, "away": 1, "offline": 7},
        "advisors_away": [{"advisor": 4, "name": "Sam Ortiz", "reason": "missed 2 calls in a row"}],
        "open_callback_tasks": 4,
        "today": figs,
        "by_skill": {"attendance": figs},
    }
    text = queue_text(data, "America/Chicago")
    lines = text.splitlines()
    assert lines[0] == "Queue at Wed 2026-12-02 10:05 CST"
    assert "Waiting: 2, the longest for 3m 05s" in lines
    assert "  1  critical  attendance  3m 05s   for their case owner" in lines
    assert "  2  medium    general     9s" in lines
    assert "Advisors: available 3, on call 2, wrap up 1, away 1, offline 7" in lines
    assert "  away: Sam Ortiz (missed 2 calls in a row)" in lines
    assert "Open callback tasks: 4" in lines
    assert any(line.split() == ["all", "12", "10", "1", "1", "1m", "23s", "80%", "9%"] for line in lines)
    assert any(line.split()[:2] == ["attendance", "12"] for line in lines)


def test_worker_help_names_what_it_runs() -> None:
    done = _run("worker", "--help")
    for job in ("outage paging", "follow-ups", "surveys", "heartbeat", "spooled", "hosted-contacts"):
        assert job in done.output


def test_the_audit_actor_without_user_is_the_os_user(monkeypatch) -> None:
    monkeypatch.delenv("USER", raising=False)
    monkeypatch.setattr(common.getpass, "getuser", lambda: "deploy")
    assert common.actor() == "cli:deploy"
    assert common.actor("load") == "cli:load:deploy"
    monkeypatch.setenv("USER", "ana")
    assert common.actor() == "cli:ana"


def test_the_audit_actor_with_no_user_at_all(monkeypatch) -> None:
    def nobody() -> str:
        raise OSError("no passwd entry")

    monkeypatch.delenv("USER", raising=False)
    monkeypatch.setattr(common.getpass, "getuser", nobody)
    assert common.actor() == "cli:unknown"


def test_load_reports_progress_for_every_row(tmp_path, monkeypatch) -> None:
    _db(tmp_path, monkeypatch)
    out = tmp_path / "tables.yaml"
    assert _run("export", "-o", str(out)).exit_code == 0
    done = _run("load", str(out))
    assert done.exit_code == 0, done.output
    assert "writing rows" in done.output  # the progress bar's label (stderr; no bar without a terminal)
    assert "unchanged" in done.output
