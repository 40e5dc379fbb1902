"""Shared test fixtures: real Redis, real database, payload files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis

FIXTURES = Path(__file__).parent / "fixtures"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def redis_conn():
    """A real Redis connection on the test database, flushed before and after each test."""
    conn = redis.Redis.from_url(REDIS_URL)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()
