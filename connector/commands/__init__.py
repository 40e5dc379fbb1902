"""`parlons`: the Flask CLI of the app (db upgrade, worker, demo, preview, sync, …).

Every module of this package lists its commands in `COMMANDS`; they are all registered.
"""

from __future__ import annotations

import importlib
import pkgutil

import click
from flask.cli import FlaskGroup

from connector.app import create_app


def _create_app():  # noqa: ANN202 - FlaskGroup passes no arguments
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False, load_dotenv=False)
def cli() -> None:
    """Parlons: SMS marketing and conversations for Shopify and HubSpot."""


def _register() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for command in getattr(module, "COMMANDS", ()):
            cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="parlons")
