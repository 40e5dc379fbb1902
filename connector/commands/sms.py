"""`parlons sms …`: choose a shop's SMS provider, sender and failover; run a dispatch worker."""

from __future__ import annotations

import threading

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from marshmallow import ValidationError

from automations.models import Shop
from connector.services.sms_routes import load_route, save_route
from connector.worker.dispatch_loop import run
from integrations.providers import PROVIDERS


@click.group("sms")
def sms() -> None:
    """SMS providers and dispatch."""


@sms.command("route")
@click.argument("domain")
@click.option("--provider", required=True, help=f"One of {', '.join(PROVIDERS)}.")
@click.option("--sender", required=True, help="Number, short code, alphanumeric sender or MG… SID.")
@click.option("--kind", "sender_kind", default="number", show_default=True,
              help="number, short_code, alphanumeric or messaging_service.")
@click.option("--mps", "sender_mps", type=float, help="Messages per second of this sender (default: the provider's).")
@click.option("--failover", "failover_provider", help="Provider to send through while the first is failing.")
@click.option("--failover-sender")
@click.option("--failover-kind", "failover_sender_kind")
@with_appcontext
def route(domain: str, **options) -> None:
    """Choose how the shop DOMAIN sends its SMS."""
    try:
        data = load_route(options)
    except ValidationError as error:
        for field, messages in sorted(error.normalized_messages().items()):
            click.echo(f"{field}: {'; '.join(messages)}", err=True)
        raise SystemExit(2) from None
    runtime = current_app.extensions["parlons"]
    with runtime.db.transaction() as session:
        shop = session.scalar(sa.select(Shop).where(Shop.domain == domain))
        if shop is None:
            raise click.ClickException(f"no shop {domain}")
        save_route(session, shop, data)
    failover = f", failover {data['failover_provider']} from {data['failover_sender']}" if data["failover_provider"] else ""
    click.echo(f"{domain} sends through {data['provider']} from {data['sender']}{failover}")


@sms.command("dispatch")
@with_appcontext
def dispatch() -> None:
    """Run a dispatch worker in this process until interrupted (Ctrl-C)."""
    stop = threading.Event()
    try:
        run(current_app.extensions["parlons"], stop)
    except KeyboardInterrupt:
        stop.set()


COMMANDS = [sms]
