"""`parlons hubspot connect`: link a HubSpot portal to a shop with a private app's token."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from automations.models import Shop


@click.group()
def hubspot() -> None:
    """The HubSpot portal a shop logs its SMS to."""


@hubspot.command("connect")
@click.option("--shop", "domain", required=True, help="The shop's myshopify.com domain.")
@click.option("--token", required=True, help="The private app's access token (pat-…).")
@click.option("--portal-id", required=True, type=int, help="The portal's Hub ID (HubSpot's account menu).")
@click.option("--rate-limit", type=int, default=None,
              help="Requests per 10 s the app may make (private apps: 100, or 190 on higher tiers).")
@click.option("--sync/--no-sync", "then_sync", default=True, show_default=True,
              help="Queue a full contact sync for a worker afterwards.")
@with_appcontext
def connect(domain: str, token: str, portal_id: int, rate_limit: int | None, then_sync: bool) -> None:
    """Connect a private app: keep its token (encrypted) and create our contact properties."""
    from connector.install import connect_hubspot
    from connector.worker import hubspot_sync
    from integrations.errors import ApiError

    runtime = current_app.extensions["parlons"]
    with runtime.db.transaction() as session:
        shop = session.scalar(sa.select(Shop).where(Shop.domain == domain.strip().lower()))
        if shop is None:
            raise click.ClickException(f"no shop {domain}: install the Shopify app first")
        try:
            connect_hubspot(runtime, session, shop, token, hub_id=portal_id, rate_limit=rate_limit)
        except ApiError as error:
            raise click.ClickException(f"HubSpot refused: {error.status} {error}") from None
        shop_id = shop.id
    click.echo(f"HubSpot portal {portal_id} connected to {domain}")
    if then_sync:
        hubspot_sync.enqueue(runtime, shop_id, full=True)
        click.echo("a full contact sync is queued (or run: parlons sync hubspot --shop DOMAIN)")


COMMANDS = [hubspot]
