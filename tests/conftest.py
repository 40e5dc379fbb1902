"""Shared test fixtures: real Redis, a real migrated database, the app, payload files.

The database is `DATABASE_URL` when set (PostgreSQL in CI), else a SQLite file in a temporary
directory. It is migrated with Alembic once per run and emptied between tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

FIXTURES = Path(__file__).parent / "fixtures"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
_stop_private_redis = None


def pytest_configure(config) -> None:
    """Without REDIS_URL and with no Redis on the default port, start a private redis-server."""
    global REDIS_URL, _stop_private_redis
    if "REDIS_URL" in os.environ:
        return
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return
    except redis.ConnectionError:
        pass
    import shutil
    import tempfile

    from connector.local.devservers import local_redis

    if shutil.which("redis-server") is None:
        raise pytest.UsageError("the tests need Redis: set REDIS_URL or install redis-server")
    url, _stop_private_redis, _ = local_redis(Path(tempfile.mkdtemp(prefix="parlons-test-redis-")))
    REDIS_URL = url.rsplit("/", 1)[0] + "/15"
    os.environ["REDIS_URL"] = REDIS_URL


def pytest_unconfigure(config) -> None:
    if _stop_private_redis is not None:
        _stop_private_redis()


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


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def migrated_database(database_url):
    """The schema as the migrations build it (dropped first, so every run starts clean)."""
    from connector.db import Database

    db = Database(database_url)
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Whatever an earlier run of another branch left (tables this tree does not know).
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        else:
            present = sa.MetaData()
            present.reflect(conn)
            present.drop_all(conn)
    db.upgrade("heads")
    yield db
    db.dispose()


def _empty_tables(db) -> None:
    from automations.models import Base

    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(sa.text(f"DELETE FROM {name}"))


@pytest.fixture
def database(migrated_database):
    _empty_tables(migrated_database)
    yield migrated_database


@pytest.fixture
def config(database_url):
    from connector.config import Config

    return Config(
        database_url=database_url,
        redis_url=REDIS_URL,
        secret_key="test-secret-key",
        public_url="http://127.0.0.1:5000",
        shopify_api_key="test-shopify-key",
        shopify_api_secret="test-shopify-secret",
        hubspot_client_id="test-hubspot-client",
        hubspot_client_secret="test-hubspot-secret",
        hubspot_app_id="777",
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="test-twilio-token",
        twilio_from="+33700000001",
        api_token="test-api-token",
        testing=True,
    )


@pytest.fixture
def app(config, database, redis_conn):
    from connector import create_app
    from connector.shops import forget

    forget()
    application = create_app(config)
    yield application
    application.extensions["parlons"].close()


@pytest.fixture
def client(app):
    return app.test_client()
