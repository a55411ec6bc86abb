"""bench/storm.py starts: the entry script finds the stormbench package and every part imports.

The storm itself needs PostgreSQL, Redis and minutes; this only checks that the split package
holds together (`--help` imports cli, run and everything run imports, then exits), in a child
process run the way the README runs it, so that no test edits sys.path.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_storm_script_starts_and_shows_its_options():
    res = subprocess.run(
        [sys.executable, "bench/storm.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: storm.py")
    assert "Outage storm: 1,000 calls arriving within 60 s on 50 advisors" in res.stdout
    for option in ("--processes", "--restart-redis-at", "--private-redis", "--replay-wait", "--json"):
        assert option in res.stdout
