"""What the benchmarks share: a PostgreSQL database of their own, created when missing."""

from __future__ import annotations

import sqlalchemy as sa


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in `url` when it does not exist yet."""
    if not url.startswith(("postgresql", "postgres:")):
        return
    from connector.db import make_engine

    base, _, name = url.rpartition("/")
    admin = make_engine(f"{base}/postgres").execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
