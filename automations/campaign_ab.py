"""A/B winner: after the test group has had `after_hours`, the variant with the best rate by the
campaign's metric wins and goes to the held remainder of the audience.

Rates per message sent: clicks (recipients who clicked), conversions (attributed orders), revenue
(attributed revenue per message). Whether the lead is more than noise is a two-proportion z-test
(pooled, two-sided, 5% level) between the winner and the runner-up on the proportion of
recipients who clicked (metric clicks) or ordered (metrics conversions and revenue).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations.campaign_report import campaign_messages, figures
from automations.campaigns import variants
from automations.models import Campaign, CampaignRecipient

TEST = "two-proportion z-test (pooled, two-sided), 5% level"


def z_test(successes_a: int, n_a: int, successes_b: int, n_b: int) -> tuple[float, float]:
    """z and two-sided p-value for the difference of two proportions (pooled standard error)."""
    if not n_a or not n_b:
        return 0.0, 1.0
    pooled = (successes_a + successes_b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if spread == 0:
        return 0.0, 1.0
    z = (successes_a / n_a - successes_b / n_b) / spread
    return z, math.erfc(abs(z) / math.sqrt(2))


def pick_winner(session: Session, campaign: Campaign, now: datetime) -> dict[str, Any] | None:
    """Choose the winner when it is time, hand it the held recipients; the result, or None."""
    if session.get_bind().dialect.name == "postgresql":  # one worker decides; the others see its result
        session.execute(sa.select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())
        session.refresh(campaign)
    ab = campaign.ab or {}
    if ab.get("mode") != "winner" or "ab" in (campaign.result or {}) or campaign.started_at is None:
        return None
    if now < campaign.started_at + timedelta(hours=float(ab.get("after_hours", 4))):
        return None
    pending = session.scalar(sa.select(sa.func.count()).where(
        CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.status == "pending"))
    if pending:
        return None
    metric = ab.get("metric", "clicks")
    scored = []
    for variant in variants(session, campaign):
        got = figures(session, campaign_messages(campaign.id, variant.id))
        hits = got["unique_clicks"] if metric == "clicks" else got["orders"]
        value = Decimal(got["revenue"]) / got["sent"] if metric == "revenue" and got["sent"] else Decimal(0)
        rate = float(value) if metric == "revenue" else (hits / got["sent"] if got["sent"] else 0.0)
        scored.append({"label": variant.label, "variant_id": variant.id, "sent": got["sent"], "hits": hits,
                       "rate": round(rate, 6)})
    scored.sort(key=lambda s: (s["rate"], -s["variant_id"]), reverse=True)
    best, second = scored[0], scored[1] if len(scored) > 1 else scored[0]
    z, p = z_test(best["hits"], best["sent"], second["hits"], second["sent"])
    lift = (best["rate"] - second["rate"]) / second["rate"] if second["rate"] else None
    result = {
        "winner": best["label"], "winner_variant_id": best["variant_id"], "metric": metric, "variants": scored,
        "lift": round(lift, 4) if lift is not None else None, "z": round(z, 4), "p_value": round(p, 6),
        "significant": p < 0.05, "test": TEST, "decided_at": now.isoformat(),
    }
    released = session.execute(sa.update(CampaignRecipient).where(
        CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.status == "held",
    ).values(status="pending", variant_id=best["variant_id"]).execution_options(synchronize_session=False)).rowcount
    result["remainder"] = released
    campaign.result = {**(campaign.result or {}), "ab": result}
    session.flush()
    return result
