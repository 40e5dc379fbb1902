"""`parlons demo`: the whole product on this machine with a demo shop and phone.

Starts the Shopify, HubSpot and Twilio sandboxes, Redis (REDIS_URL, a private redis-server, or
an in-process stand-in), migrates the embedded SQLite database, connects a demo shop, serves the
web app and runs a worker in this process. Ctrl-C stops everything.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

import click

from connector.config import Config
from connector.local.devservers import local_redis
from connector.local.sandboxes import start_sandboxes
from connector.worker import jobs
from connector.worker.rq_workers import InProcessWorker


@click.command("demo")
@click.option("--port", default=5000, show_default=True, help="Port of the web app.")
@click.option("--host", default="127.0.0.1", show_default=True)
def demo(port: int, host: str) -> None:
    """Run Parlons locally on its embedded defaults, with a demo shop to play with."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request is noise here
    from connector import create_app
    from connector.local.demo import seed
    from integrations.serving import serve

    instance = Path(os.environ.get("PARLONS_INSTANCE_DIR", Path.cwd() / "instance"))
    redis_url, stop_redis, redis_note = local_redis(instance / "redis")
    boxes = start_sandboxes(auto_deliver=True)
    app_url = f"http://{host}:{port}"
    env = {k: v for k, v in os.environ.items()}
    env.setdefault("REDIS_URL", redis_url)
    config = boxes.configure(Config.from_env(env))
    config.public_url = app_url
    config.api_token = config.api_token or secrets.token_urlsafe(18)
    app = create_app(config)
    runtime = app.extensions["parlons"]
    runtime.db.upgrade("heads")
    demo_state = seed(runtime, boxes, app_url)
    app.extensions["parlons_demo"] = demo_state
    from connector.web import demo as demo_pages

    app.register_blueprint(demo_pages.bp)
    server = serve(app, port=port)
    click.secho(f"\n  Parlons is running: open {server.url}/demo\n", fg="green", bold=True)
    click.echo(f"  database  {config.database_url}")
    click.echo(f"  redis     {redis_note}")
    click.echo(f"  API       {app_url}/api/v1  (Authorization: Bearer {config.api_token})")
    click.echo(f"  sandboxes shopify {boxes.url('shopify')}  hubspot {boxes.url('hubspot')}  twilio {boxes.url('twilio')}")
    click.echo("  Ctrl-C to stop.\n")
    try:
        jobs.schedule_tick(runtime, delay=1)
        InProcessWorker(runtime.queues(), connection=runtime.redis).work(with_scheduler=True, logging_level="WARNING")
    finally:
        server.stop()
        boxes.stop()
        runtime.close()
        stop_redis()
COMMANDS = [demo]
