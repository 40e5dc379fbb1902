"""`parlons secrets rotate`: re-encrypt stored secrets with the newest encryption key."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from connector.worker.key_rotation import rotate_job, rotate_secrets


@click.group()
def secrets() -> None:
    """Secrets stored encrypted (tokens, API secrets)."""


@secrets.command()
@click.option("--queue", "queued", is_flag=True, help="Let a worker do it (sync queue) and return.")
@with_appcontext
def rotate(queued: bool) -> None:
    """Re-encrypt every stored secret with the first key of PARLONS_ENCRYPTION_KEY.

    Put the new key first (PARLONS_ENCRYPTION_KEY=new,old), restart, run this, then drop the
    old key once nothing is left to rewrite and nothing is unreadable."""
    runtime = current_app.extensions["parlons"]
    if queued:
        job = runtime.queue("sync").enqueue(rotate_job)
        click.echo(f"queued on the sync queue (job {job.id})")
        return
    report = rotate_secrets(runtime)
    click.echo(json.dumps(report.as_dict()))
    if report.unreadable:
        raise click.ClickException(
            f"{len(report.unreadable)} secret(s) could not be decrypted with any configured key: "
            "keep the old keys until they are found")


COMMANDS = [secrets]
