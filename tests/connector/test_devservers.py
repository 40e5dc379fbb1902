"""Redis for `make run`: REDIS_URL, else a private redis-server, else an in-process stand-in."""

from __future__ import annotations

import logging
import shutil

import pytest
import redis

from connector.local.devservers import local_redis


def test_redis_url_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")
    url, stop, note = local_redis(tmp_path)
    assert url == "redis://127.0.0.1:6379/15" and note == "REDIS_URL"
    stop()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server on the PATH")
def test_a_private_redis_server_is_started_when_one_is_installed(monkeypatch, tmp_path):
    monkeypatch.delenv("REDIS_URL", raising=False)
    url, stop, note = local_redis(tmp_path)
    try:
        assert "private redis-server" in note
        assert redis.Redis.from_url(url).ping()
    finally:
        stop()


def test_without_redis_an_in_process_server_answers_with_a_warning(monkeypatch, tmp_path, caplog):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server to be found
    with caplog.at_level(logging.WARNING, logger="parlons.dev"):
        url, stop, note = local_redis(tmp_path)
    try:
        conn = redis.Redis.from_url(url)
        conn.set("k", "v")
        assert conn.get("k") == b"v"
        assert "trying out only" in note
        assert any("trying Parlons out only" in r.message for r in caplog.records)
    finally:
        stop()
