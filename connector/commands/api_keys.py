"""`parlons api-keys …`: a shop's REST API keys, for the operator (make, list, revoke)."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from automations.models import Shop
from connector.services import api_keys as keys


def _shop(session: Session, domain: str) -> Shop:
    shop = session.scalar(sa.select(Shop).where(Shop.domain == domain.strip().lower()))
    if shop is None:
        raise click.BadParameter(f"no shop {domain!r} is installed", param_hint="--shop")
    return shop


@click.group("api-keys")
def api_keys() -> None:
    """A shop's REST API keys."""


@api_keys.command("create")
@click.option("--shop", "domain", required=True, help="The shop's domain.")
@click.option("--name", required=True, help="Who or what uses the key.")
@click.option("--scope", type=click.Choice(keys.SCOPES), default="read", show_default=True)
@with_appcontext
def create(domain: str, name: str, scope: str) -> None:
    """Make a key; it is printed this once only."""
    with current_app.extensions["parlons"].db.transaction() as session:
        try:
            made = keys.create_key(session, _shop(session, domain), name, scope, "operator")
        except keys.ApiKeyError as exc:
            raise click.ClickException("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.messages.items())) from None
    click.echo(made.secret)
    click.echo(f"Key {made.key.id} ({scope}) for {domain}: keep it now, it is not shown again.", err=True)


@api_keys.command("list")
@click.option("--shop", "domain", required=True, help="The shop's domain.")
@with_appcontext
def list_keys(domain: str) -> None:
    """The shop's keys: id, prefix, scope, name, last use, revoked."""
    with current_app.extensions["parlons"].db.session() as session:
        rows = keys.list_keys(session, _shop(session, domain))
    for key in rows:
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never used"
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "live"
        click.echo(f"{key.id}\t{key.prefix}…\t{key.scope}\t{state}\t{used}\t{key.name}")
    if not rows:
        click.echo("No API key.")


@api_keys.command("revoke")
@click.option("--shop", "domain", required=True, help="The shop's domain.")
@click.argument("key_id", type=int)
@with_appcontext
def revoke(domain: str, key_id: int) -> None:
    """Revoke a key at once."""
    with current_app.extensions["parlons"].db.transaction() as session:
        try:
            keys.revoke_key(session, _shop(session, domain), key_id)
        except keys.ApiKeyError as exc:
            raise click.ClickException(exc.messages["key"][0]) from None
    click.echo(f"Key {key_id} revoked.")


COMMANDS = [api_keys]
