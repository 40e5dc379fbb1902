"""Two workers compose the same campaign at once (PostgreSQL): they share the recipients and
nobody gets the campaign twice."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from automations import campaign_send, campaigns, segments
from automations.models import CampaignRecipient, Contact, Message, Shop, utcnow
from connector.worker.campaigns import advance
from tests.connector.helpers import SHOP, make_shop


def test_two_workers_never_compose_a_recipient_twice(app):
    runtime = app.extensions["parlons"]
    if runtime.db.engine.dialect.name != "postgresql":
        pytest.skip("row locks (SKIP LOCKED) are what two workers share the work with: PostgreSQL")
    make_shop(runtime.db, SHOP, settings={"public_url": "http://127.0.0.1:5000"})
    now = utcnow()
    with runtime.db.transaction() as session:
        shop = session.scalar(sa.select(Shop).where(Shop.domain == SHOP))
        session.add_all([Contact(shop_id=shop.id, phone_e164=f"+3361{n:07d}", first_name=f"C{n}",
                                 consent_status="subscribed", tags=["vip"]) for n in range(600)])
        session.flush()
        segment = segments.create(session, shop, {"key": "vip-tag", "name": "VIP", "conditions": {
            "all": [{"field": "contact.tags", "op": "contains", "value": "vip"}]}})
        campaign = campaigns.create(session, shop, {"name": "Flash", "audience": {"include": [segment.id]},
                                                    "variants": [{"templates": {"fr": "Bonjour {{ first_name }}"}}]})
        campaign_send.schedule(session, shop, campaign, {"mode": "now"}, now)
        campaign_id = campaign.id
    results, errors = [], []

    def work() -> None:
        try:
            results.append(advance(runtime, campaign_id, batch=50))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert errors == []
    assert sum(r["started"] for r in results) == 1  # one worker started it
    assert sum(r["composed"] for r in results) == 600
    assert all(r["composed"] > 0 for r in results)  # both took batches
    with runtime.db.session() as session:
        per_contact = session.execute(sa.select(Message.contact_id, sa.func.count()).group_by(Message.contact_id)).all()
        queued = session.scalar(sa.select(sa.func.count()).where(CampaignRecipient.status == "queued"))
    assert len(per_contact) == 600 and all(n == 1 for _, n in per_contact) and queued == 600
