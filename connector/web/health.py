"""Liveness and readiness."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify

from connector.web import rt

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    checks: dict[str, str] = {}
    try:
        with rt().db.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report, do not crash
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        rt().redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "degraded", checks=checks), 200 if healthy else 503


@bp.get("/ping")
def ping():
    """A bare endpoint (no database, no Redis): the baseline of the ingest benchmark."""
    return "pong"
