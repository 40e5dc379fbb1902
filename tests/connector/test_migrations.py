"""The migrations build exactly the schema the models describe (no drift either way)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from automations.models import Base


def test_migrated_schema_matches_the_models(migrated_database):
    with migrated_database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    assert diff == []


def test_delivery_payloads_are_compressed_with_lz4_on_postgresql(migrated_database):
    # the ingest path writes every delivery's JSON: lz4 costs PostgreSQL about half of pglz
    with migrated_database.engine.connect() as conn:
        if conn.dialect.name != "postgresql":
            pytest.skip("column compression is a PostgreSQL setting")
        lz4 = conn.exec_driver_sql(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        ).scalar()
        method = conn.exec_driver_sql(
            "SELECT attcompression FROM pg_attribute "
            "WHERE attrelid = 'store_events'::regclass AND attname = 'payload'"
        ).scalar()
    assert method == ("l" if lz4 else "")
