"""`parlons db …`: schema migrations."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group()
def db() -> None:
    """Database schema."""


@db.command()
@click.argument("revision", default="heads")
@with_appcontext
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    runtime = current_app.extensions["parlons"]
    runtime.db.upgrade(revision)
    click.echo(f"database at {revision}")


@db.command()
@with_appcontext
def current() -> None:
    """Show the applied migration."""
    from alembic import command

    command.current(current_app.extensions["parlons"].db.alembic_config())
COMMANDS = [db]
