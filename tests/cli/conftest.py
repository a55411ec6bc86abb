"""The CLI tests' shared state: the instance's local Redis (`cli.localredis`), as a running demo serves it."""

from __future__ import annotations

import pytest

from cli import localredis


@pytest.fixture
def shared_state(tmp_path):
    """fakeredis' TCP server for the instance in `tmp_path` (the folder `_db` makes the instance)."""
    local = localredis.serve(tmp_path, prefer_redis_server=False)
    yield local
    local.stop()
