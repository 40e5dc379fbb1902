"""Campaign jobs (queue `sync`): start a due campaign, compose its messages in batches (one
transaction each, signalling dispatch as they land), cancel what left the audience, pick the A/B
winner, and finish. `run_campaign` re-enqueues itself while the campaign is scheduled or sending
(RQ's scheduler: `parlons worker` runs with it); two workers share the batches (recipients are
taken with SKIP LOCKED) and never compose one recipient twice (unique per campaign and contact).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from automations import attribution, campaign_ab, campaign_send
from automations.models import Campaign, Shop, utcnow
from connector.runtime import Runtime, current

log = logging.getLogger("parlons.campaigns")
BATCH = 1000
AGAIN = timedelta(seconds=60)


def enqueue(runtime: Runtime, campaign_id: int, at: datetime | None) -> None:
    """Run the campaign's job at `at` (now when None or past)."""
    queue = runtime.queue("sync")
    if at is None or at <= utcnow():
        queue.enqueue(run_campaign, campaign_id)
    else:
        queue.enqueue_at(at, run_campaign, campaign_id)


def advance(runtime: Runtime, campaign_id: int, now: datetime | None = None, batch: int = BATCH) -> dict[str, Any]:
    """Move one campaign on as far as it can go now; what it did."""
    moment = now or utcnow()
    done: dict[str, Any] = {"campaign_id": campaign_id, "started": False, "composed": 0, "left": 0, "winner": None}
    with runtime.db.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            return {**done, "status": None}
        if campaign.status == "scheduled":
            done["started"] = campaign_send.start(session, campaign, moment)
            session.refresh(campaign)  # another worker may have started it: then help it compose
        if campaign.status == "sending":
            shop = session.get(Shop, campaign.shop_id)
            done["left"] = campaign_send.recheck(session, campaign, moment)
            if (campaign.ab or {}).get("mode") == "winner" and "ab" not in (campaign.result or {}):
                attribution.attribute_orders(session, shop, moment)
                winner = campaign_ab.pick_winner(session, campaign, moment)
                done["winner"] = winner["winner"] if winner else None
        status = campaign.status
    while status == "sending":
        with runtime.db.transaction() as session:
            campaign = session.get(Campaign, campaign_id)
            status = campaign.status
            if status != "sending":
                break
            count = campaign_send.compose_batch(session, session.get(Shop, campaign.shop_id), campaign,
                                                now or utcnow(), batch)
        if not count:
            break
        done["composed"] += count
        runtime.signal("dispatch")
    with runtime.db.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign.status == "sending":
            campaign_send.finish_if_done(session, campaign, moment)
        done["status"] = campaign.status
    return done


def run_campaign(campaign_id: int) -> dict[str, Any]:
    """The RQ job: advance the campaign, and come back in a minute while it is not over."""
    runtime = current()
    done = advance(runtime, campaign_id)
    if done["status"] in ("scheduled", "sending"):
        runtime.queue("sync").enqueue_in(AGAIN, run_campaign, campaign_id)
    log.info("campaign %s: %s", campaign_id, done)
    return done


def advance_due(runtime: Runtime, now: datetime | None = None) -> list[dict[str, Any]]:
    """Advance every campaign that is due or sending (the CLI's `campaigns run`)."""
    with runtime.db.session() as session:
        ids = campaign_send.due(session, now or utcnow())
    return [advance(runtime, campaign_id, now) for campaign_id in ids]
