"""cli/localredis.py: one Redis per development instance, found by every command while it answers."""

from __future__ import annotations

import shutil

import pytest
import redis

from cli import localredis


def test_serve_find_and_stop(tmp_path) -> None:
    assert localredis.find(tmp_path) is None
    local = localredis.serve(tmp_path, prefer_redis_server=False)
    try:
        assert local.kind == "fakeredis"
        assert localredis.find(tmp_path) == local.url
        assert (tmp_path / localredis.URL_FILE).read_text().strip() == local.url
        client = redis.Redis.from_url(local.url, decode_responses=True)
        client.set("k", "v")
        assert redis.Redis.from_url(localredis.find(tmp_path), decode_responses=True).get("k") == "v"
        again = localredis.serve(tmp_path, prefer_redis_server=False)  # a second demo joins the first
        assert again.url == local.url and again.kind == "already running"
        again.stop()  # ... and stopping it leaves the first one running
        assert localredis.find(tmp_path) == local.url
    finally:
        local.stop()
    assert localredis.find(tmp_path) is None
    assert not (tmp_path / localredis.URL_FILE).exists()


def test_a_stale_file_is_not_a_running_state(tmp_path) -> None:
    (tmp_path / localredis.URL_FILE).write_text("redis://127.0.0.1:9/0\n")  # port 9: nothing answers
    assert localredis.find(tmp_path) is None
    local = localredis.serve(tmp_path, prefer_redis_server=False)
    try:
        assert local.url != "redis://127.0.0.1:9/0" and localredis.find(tmp_path) == local.url
    finally:
        local.stop()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server on PATH")
def test_a_real_redis_server_when_there_is_one(tmp_path) -> None:
    local = localredis.serve(tmp_path)
    try:
        assert local.kind == "redis-server"
        assert redis.Redis.from_url(local.url).ping()
    finally:
        local.stop()
    assert localredis.find(tmp_path) is None
