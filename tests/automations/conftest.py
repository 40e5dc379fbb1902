"""Fixtures for the automation core: a real database (PostgreSQL when DATABASE_URL is set, else a
temporary SQLite file), cleaned between tests, and a French shop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import rule_cache
from automations.models import Base, Shop


@pytest.fixture(scope="session")
def db_engine(migrated_database) -> sa.Engine:
    """The schema as the migrations build it (tests/conftest.py)."""
    return migrated_database.engine


def _clean(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def session(db_engine: sa.Engine) -> Iterator[Session]:
    _clean(db_engine)
    rule_cache._cache.clear()
    with Session(db_engine, expire_on_commit=False) as session:
        yield session
        session.rollback()
    _clean(db_engine)


@pytest.fixture
def shop(session: Session) -> Shop:
    shop = Shop(
        domain="boutique-lumiere.myshopify.com", name="Boutique Lumière", currency="EUR",
        timezone="Europe/Paris", country="FR", locale="fr", default_region="FR",
        sms_number="+33757000000", settings={"public_url": "https://sms.example.org"},
        installed_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    session.add(shop)
    session.commit()
    return shop
