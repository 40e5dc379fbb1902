"""`parlons sync hubspot`: contacts both ways between a shop and its HubSpot portal."""

from __future__ import annotations

import json
from dataclasses import asdict

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from automations.models import Shop
from connector.commands.sync import sync


@sync.command("hubspot")
@click.option("--shop", "domain", required=True, help="The shop's myshopify.com domain.")
@click.option("--full", is_flag=True, help="Read every HubSpot contact, not only those changed since the last run.")
@click.option("--no-push", is_flag=True, help="Only read from HubSpot; do not create our contacts there.")
@with_appcontext
def hubspot(domain: str, full: bool, no_push: bool) -> None:
    """Import HubSpot contacts (matched by phone then email) and push ours that HubSpot lacks.

    An interrupted run resumes where it stopped. Unparseable phones and duplicates are listed.
    """
    from connector.worker.hubspot_sync import sync_hubspot
    from integrations.errors import ApiError

    runtime = current_app.extensions["parlons"]
    with runtime.db.session() as session:
        shop_id = session.scalar(sa.select(Shop.id).where(Shop.domain == domain.strip().lower()))
    if shop_id is None:
        raise click.ClickException(f"no shop {domain}")
    with tqdm(unit=" contacts", desc="HubSpot sync") as bar:
        try:
            report = sync_hubspot(runtime, shop_id, full=full, push=not no_push, progress=bar.update)
        except ApiError as error:
            raise click.ClickException(f"stopped (run again to resume): {error.status} {error}") from None
    summary = {k: v for k, v in asdict(report).items() if k != "problems"}
    click.echo(json.dumps(summary))
    for problem in report.problems[:50]:
        click.echo(f"  {json.dumps(problem, ensure_ascii=False)}")
    if len(report.problems) > 50:
        click.echo(f"  … {len(report.problems) - 50} more in the sync state")


COMMANDS: list = []
