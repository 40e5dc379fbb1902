"""`parlons shops …`: connect a custom-app store with its Admin API token, list connected shops."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from automations.models import Contact, Shop
from connector.install import connect_shopify
from connector.worker import shopify_sync
from integrations.errors import ApiError
from integrations.shopify.install import InstallError, validate_shop_domain


@click.group()
def shops() -> None:
    """Connected stores."""


@shops.command("connect")
@click.option("--domain", required=True, help="The store's x.myshopify.com domain.")
@click.option("--token", required=True, envvar="PARLONS_SHOPIFY_ADMIN_TOKEN",
              help="Admin API access token of the store's custom app (shpat_…).")
@click.option("--api-secret", required=True, envvar="PARLONS_SHOPIFY_CUSTOM_APP_SECRET",
              help="The custom app's API secret key (it signs the store's webhooks).")
@click.option("--sync/--no-sync", default=True, show_default=True, help="Queue the customer sync.")
@with_appcontext
def connect(domain: str, token: str, api_secret: str, sync: bool) -> None:
    """Connect a store through a custom app created in its admin (no OAuth)."""
    runtime = current_app.extensions["parlons"]
    try:
        domain = validate_shop_domain(domain)
    except InstallError as exc:
        raise click.BadParameter(str(exc), param_hint="--domain") from None
    try:
        with runtime.db.transaction() as session:
            shop = connect_shopify(runtime, session, domain, token, api_secret=api_secret)
            name = shop.name
    except ApiError as exc:
        raise click.ClickException(f"Shopify refused the connection: {exc}") from None
    click.echo(f"Connected {domain} ({name}): webhooks subscribed, ready-made rules created.")
    if sync:
        job = shopify_sync.enqueue_sync(runtime, domain)
        click.echo(f"Customer sync queued (job {job.id}); follow it with `parlons shops list`.")


@shops.command("list")
@with_appcontext
def list_shops() -> None:
    """Connected stores with their status and contact count."""
    runtime = current_app.extensions["parlons"]
    with runtime.db.session() as session:
        rows = session.execute(
            sa.select(Shop.domain, Shop.name, Shop.status, sa.func.count(Contact.id))
            .outerjoin(Contact, Contact.shop_id == Shop.id)
            .group_by(Shop.id).order_by(Shop.domain)
        ).all()
    if not rows:
        click.echo("No shop connected.")
    for domain, name, status, contacts in rows:
        click.echo(f"{domain}\t{status}\t{contacts} contacts\t{name or ''}")


COMMANDS = [shops]
