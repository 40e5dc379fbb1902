"""Fixtures for tests that run the whole product: sandboxes, the app served over HTTP, a worker."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from connector import create_app
from connector.install import connect_hubspot, connect_shopify
from connector.local.devservers import free_port
from connector.local.sandboxes import Sandboxes, start_sandboxes
from connector.runtime import Runtime
from connector.shops import forget
from connector.worker import jobs
from connector.worker.rq_workers import InProcessWorker
from integrations.serving import RunningServer, serve

SHOP = "boutique-lumiere.myshopify.com"
PORTAL = 4242


@dataclass
class Live:
    app: object
    runtime: Runtime
    boxes: Sandboxes
    server: RunningServer

    @property
    def url(self) -> str:
        return self.server.url

    def work(self) -> None:
        """Run a real RQ worker in burst mode until every queue is empty (ticks included)."""
        jobs.tick(reschedule=False)
        for _ in range(5):
            InProcessWorker(self.runtime.queues(), connection=self.runtime.redis).work(burst=True)
            if not any(len(q) for q in self.runtime.queues()):
                break

    def shop_id(self) -> int:
        import sqlalchemy as sa

        from automations.models import Shop

        with self.runtime.db.session() as s:
            return s.scalar(sa.select(Shop.id).where(Shop.domain == SHOP))


@pytest.fixture
def sandboxes():
    boxes = start_sandboxes()
    yield boxes
    boxes.stop()


@pytest.fixture
def live(config, database, redis_conn, sandboxes):
    """The app on a real port, pointed at the sandboxes, with a connected shop and portal."""
    forget()
    port = free_port()
    cfg = dataclasses.replace(sandboxes.configure(config), public_url=f"http://127.0.0.1:{port}",
                              twilio_from="+33757000001")
    app = create_app(cfg)
    runtime = app.extensions["parlons"]
    server = serve(app, port=port)
    sandboxes.shopify.add_shop(SHOP, name="Boutique Lumière")
    with runtime.db.transaction() as session:
        shop = connect_shopify(runtime, session, SHOP, sandboxes.shopify.grant_token(SHOP, expires_in=None))
        shop.sms_number = cfg.twilio_from
        connect_hubspot(runtime, session, shop, sandboxes.hubspot.issue_token(PORTAL, expires_in=86400),
                        hub_id=PORTAL)
    sandboxes.twilio.add_number(cfg.twilio_from, sms_url=f"{server.url}/webhooks/twilio/inbound")
    yield Live(app, runtime, sandboxes, server)
    server.stop()
    runtime.close()
