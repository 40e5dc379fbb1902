"""`parlons sync …`: import customers and consent (subcommands live in sync_*.py modules)."""

from __future__ import annotations

import click


@click.group()
def sync() -> None:
    """Import customers and their SMS consent from a connected system."""


COMMANDS = [sync]
