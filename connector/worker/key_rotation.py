"""Re-encrypting stored secrets with the newest `PARLONS_ENCRYPTION_KEY` (the sync queue's work,
or `parlons secrets rotate`).

A secret is a column whose name ends in `_enc`, or a key ending in `_enc` inside one of the JSON
columns listed in `JSON_HOLDERS`. Rows are read and rewritten in batches, one transaction each;
a value already under the newest key is left alone, so a rotation that stops can simply run
again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from automations.models import Base, Installation
from connector.runtime import Runtime, current

log = logging.getLogger("parlons.keys")

JSON_HOLDERS: tuple[sa.Column, ...] = (Installation.__table__.c.extra,)
BATCH = 500


@dataclass
class RotationReport:
    rewritten: int = 0  # secrets encrypted again with the newest key
    current: int = 0  # already under the newest key
    unreadable: list[str] = field(default_factory=list)  # "table.column#id": no key opens it

    def as_dict(self) -> dict[str, Any]:
        return {"rewritten": self.rewritten, "current": self.current, "unreadable": self.unreadable}


def rotate_secrets(runtime: Runtime, batch: int = BATCH) -> RotationReport:
    report = RotationReport()
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if c.name.endswith("_enc") or c in JSON_HOLDERS]
        if columns:
            _rotate_table(runtime, table, columns, batch, report)
    log.info("secrets rotated: %d rewritten, %d already current, %d unreadable",
             report.rewritten, report.current, len(report.unreadable))
    return report


def _rotate_table(runtime: Runtime, table: sa.Table, columns: list[sa.Column], batch: int,
                  report: RotationReport) -> None:
    (key,) = table.primary_key.columns
    after = None
    while True:
        with runtime.db.transaction() as session:
            query = sa.select(key, *columns).order_by(key).limit(batch)
            if after is not None:
                query = query.where(key > after)
            rows = session.execute(query).all()
            for row in rows:
                changes = {}
                for column, value in zip(columns, row[1:], strict=True):
                    where = f"{table.name}.{column.name}#{row[0]}"
                    if isinstance(value, dict):
                        new = {k: _rotated(runtime, v, f"{where}.{k}", report) if k.endswith("_enc") else v
                               for k, v in value.items()}
                        if new != value:
                            changes[column.name] = new
                    elif isinstance(value, str):
                        new_value = _rotated(runtime, value, where, report)
                        if new_value != value:
                            changes[column.name] = new_value
                if changes:
                    session.execute(sa.update(table).where(key == row[0]).values(**changes))
        if len(rows) < batch:
            return
        after = rows[-1][0]


def _rotated(runtime: Runtime, value: Any, where: str, report: RotationReport) -> Any:
    if not isinstance(value, str) or not value:
        return value
    if runtime.secrets.is_current(value):
        report.current += 1
        return value
    try:
        rotated = runtime.secrets.rotate(value)
    except ValueError:
        report.unreadable.append(where)
        return value
    report.rewritten += 1
    return rotated


def rotate_job() -> dict[str, Any]:
    return rotate_secrets(current()).as_dict()
