"""`parlons consent-proof`: every consent statement of a shop (or one contact) with its evidence,
as CSV or JSON, for an audit."""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from automations import consent_proof
from automations.models import Contact, Shop, utcnow


@click.command("consent-proof")
@click.option("--shop", "domain", required=True, help="The shop's domain.")
@click.option("--contact", "contact_id", type=int, help="One contact's id (else the whole base).")
@click.option("--format", "fmt", type=click.Choice(("csv", "json")), default="csv", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="A file (else standard output).")
@with_appcontext
def consent_proof_command(domain: str, contact_id: int | None, fmt: str, output: str | None) -> None:
    """Export the consent proof: channel, keyword or page, legal text and version, IP, user agent,
    messages exchanged, who captured it."""
    with current_app.extensions["parlons"].db.session() as session:
        shop = session.scalar(sa.select(Shop).where(Shop.domain == domain.strip().lower()))
        if shop is None:
            raise click.BadParameter(f"no shop {domain!r} is installed", param_hint="--shop")
        if contact_id is not None and session.scalar(
                sa.select(Contact.id).where(Contact.id == contact_id, Contact.shop_id == shop.id)) is None:
            raise click.BadParameter(f"no contact {contact_id} in this shop", param_hint="--contact")
        records = consent_proof.rows(session, shop, contact_id)
        chunks = (consent_proof.to_csv(records) if fmt == "csv"
                  else consent_proof.to_json(shop, records, utcnow().isoformat()))
        out = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout  # noqa: SIM115
        try:
            for chunk in chunks:
                out.write(chunk)
        finally:
            if output:
                out.close()


COMMANDS = [consent_proof_command]
