"""`parlons`: the Flask CLI of the app (db upgrade, worker, demo, preview, sync, …)."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from connector.app import create_app


def _create_app():  # noqa: ANN202 - FlaskGroup passes no arguments
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False, load_dotenv=False)
def cli() -> None:
    """Parlons: SMS marketing and conversations for Shopify and HubSpot."""


def _register() -> None:
    from connector.commands import db, demo, preview, worker

    cli.add_command(db.db)
    cli.add_command(worker.worker)
    cli.add_command(preview.preview_command)
    cli.add_command(demo.demo)


_register()


def main() -> None:
    cli(prog_name="parlons")
