"""`parlons sync shopify --shop DOMAIN [--full]`: import a store's customers and SMS consent."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from connector.commands.sync import sync
from connector.worker import shopify_sync
from integrations.errors import ApiError


@sync.command("shopify")
@click.option("--shop", "domain", required=True, help="The store's x.myshopify.com domain.")
@click.option("--full", is_flag=True, help="Import every customer, not only those changed since the last sync.")
@click.option("--queue", "queued", is_flag=True, help="Run it in a worker instead of here.")
@with_appcontext
def shopify(domain: str, full: bool, queued: bool) -> None:
    """Import customers and SMS consent from Shopify (resumes an interrupted sync)."""
    runtime = current_app.extensions["parlons"]
    if queued:
        job = shopify_sync.enqueue_sync(runtime, domain, full)
        click.echo(f"Sync of {domain} queued (job {job.id}).")
        return
    bar = tqdm(desc=f"customers of {domain}", unit=" customers")

    def progress(done: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        result = shopify_sync.run_sync(runtime, domain, full=full, progress=progress)
    except (shopify_sync.SyncError, ApiError) as exc:
        raise click.ClickException(f"sync stopped: {exc} (run it again to resume)") from None
    finally:
        bar.close()
    resumed = " (resumed)" if result.resumed else ""
    click.echo(f"{result.imported} customers read{resumed} via {result.mode}; "
               f"{result.processed} in this sync; {result.invalid_phones} invalid phones.")


COMMANDS: list = []
