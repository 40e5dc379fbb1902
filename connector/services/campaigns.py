"""Segments and campaigns as the merchant and the developer see them: one set of functions behind
`parlons segments …`, `parlons campaigns …` and /api/v1/segments, /api/v1/campaigns, so both
agree. Refusals are `MarketingError(status, {field: [...]})`; `shop` is the shop's domain.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import attribution, campaign_estimate, campaign_send, campaigns, segments
from automations.campaign_report import campaign_report, flow_report, shop_report
from automations.models import Campaign, Rule, Segment, Shop, utcnow
from automations.segments import MarketingError
from automations.segments_sql import Compiler, count, sample
from connector.runtime import Runtime
from connector.worker.campaigns import enqueue

SAMPLE_LIMIT = 100


@contextmanager
def shop_session(runtime: Runtime, domain: str | None) -> Iterator[tuple[Session, Shop]]:
    with runtime.db.transaction() as session:
        if not domain:
            raise MarketingError(400, {"shop": ["the shop's domain is required"]})
        shop = session.scalar(sa.select(Shop).where(Shop.domain == domain.strip().lower()))
        if shop is None:
            raise MarketingError(404, {"shop": [f"no shop {domain!r} is installed"]})
        yield session, shop


def _segment(session: Session, shop: Shop, segment_id: int) -> Segment:
    segment = session.get(Segment, segment_id)
    if segment is None or segment.shop_id != shop.id:
        raise MarketingError(404, {"segment": [f"no segment {segment_id}"]})
    return segment


def _campaign(session: Session, shop: Shop, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.shop_id != shop.id:
        raise MarketingError(404, {"campaign": [f"no campaign {campaign_id}"]})
    return campaign


# --- Segments ------------------------------------------------------------------------------------


def list_segments(runtime: Runtime, shop: str | None) -> list[dict[str, Any]]:
    with shop_session(runtime, shop) as (session, owner):
        segments.ensure_builtin(session, owner)
        rows = session.scalars(sa.select(Segment).where(Segment.shop_id == owner.id).order_by(Segment.id))
        return [segments.to_json(s) for s in rows]


def show_segment(runtime: Runtime, shop: str | None, segment_id: int) -> dict[str, Any]:
    with shop_session(runtime, shop) as (session, owner):
        return segments.to_json(_segment(session, owner, segment_id))


def create_segment(runtime: Runtime, shop: str | None, body: dict[str, Any]) -> dict[str, Any]:
    with shop_session(runtime, shop) as (session, owner):
        return segments.to_json(segments.create(session, owner, body))


def update_segment(runtime: Runtime, shop: str | None, segment_id: int, body: dict[str, Any]) -> dict[str, Any]:
    with shop_session(runtime, shop) as (session, owner):
        return segments.to_json(segments.update(session, owner, _segment(session, owner, segment_id), body))


def delete_segment(runtime: Runtime, shop: str | None, segment_id: int) -> None:
    with shop_session(runtime, shop) as (session, owner):
        segment = _segment(session, owner, segment_id)
        if segment.builtin:
            raise MarketingError(409, {"segment": ["a built-in segment cannot be deleted"]})
        users = [c.id for c in session.scalars(sa.select(Campaign).where(
            Campaign.shop_id == owner.id, Campaign.status.not_in(("sent", "cancelled"))))
            if segment.id in (c.audience or {}).get("include", []) + (c.audience or {}).get("exclude", [])]
        named = [s.key for s in session.scalars(sa.select(Segment).where(Segment.shop_id == owner.id))
                 if segment.id in segments.referenced(s.definition or {})]
        if users or named:
            raise MarketingError(409, {"segment": [f"in use by campaigns {users} and segments {named}"]})
        session.delete(segment)


def count_segment(runtime: Runtime, shop: str | None, body: dict[str, Any], sample_size: int = 0) -> dict[str, Any]:
    """Count (and sample) a saved segment (`segment_id`) or an unsaved definition (`conditions`)."""
    with shop_session(runtime, shop) as (session, owner):
        if body.get("segment_id"):
            definition = _segment(session, owner, int(body["segment_id"])).definition
        else:
            definition = segments.validate_definition(
                session, owner, {"key": "draft", "name": "draft", "conditions": body.get("conditions")})["conditions"]
        compiler = Compiler(session, owner.id, utcnow())
        where = compiler.where(definition)
        result = count(session, compiler, where)
        if sample_size:
            result["sample"] = sample(session, compiler, where, min(sample_size, SAMPLE_LIMIT))
        return result


# --- Campaigns -----------------------------------------------------------------------------------


def list_campaigns(runtime: Runtime, shop: str | None) -> list[dict[str, Any]]:
    with shop_session(runtime, shop) as (session, owner):
        rows = session.scalars(sa.select(Campaign).where(Campaign.shop_id == owner.id).order_by(Campaign.id.desc()))
        return [campaigns.to_json(session, c) for c in rows]


def show_campaign(runtime: Runtime, shop: str | None, campaign_id: int) -> dict[str, Any]:
    with shop_session(runtime, shop) as (session, owner):
        return campaigns.to_json(session, _campaign(session, owner, campaign_id))


def create_campaign(runtime: Runtime, shop: str | None, body: dict[str, Any]) -> dict[str, Any]:
    with shop_session(runtime, shop) as (session, owner):
        return campaigns.to_json(session, campaigns.create(session, owner, body))


def update_campaign(runtime: Runtime, shop: str | None, campaign_id: int, body: dict[str, Any]) -> dict[str, Any]:
    with shop_session(runtime, shop) as (session, owner):
        campaign = campaigns.update(session, owner, _campaign(session, owner, campaign_id), body)
        return campaigns.to_json(session, campaign)


def delete_campaign(runtime: Runtime, shop: str | None, campaign_id: int) -> None:
    with shop_session(runtime, shop) as (session, owner):
        campaign = _campaign(session, owner, campaign_id)
        if campaign.status != "draft":
            raise MarketingError(409, {"status": ["only a draft can be deleted; cancel it instead"]})
        session.delete(campaign)


def estimate(runtime: Runtime, shop: str | None, campaign_id: int) -> dict[str, Any]:
    with shop_session(runtime, shop) as (session, owner):
        return campaign_estimate.estimate(session, owner, _campaign(session, owner, campaign_id), utcnow())


def test_send(runtime: Runtime, shop: str | None, campaign_id: int, phone: str, variant: str | None) -> dict[str, Any]:
    with shop_session(runtime, shop) as (session, owner):
        message = campaign_estimate.test_message(session, owner, _campaign(session, owner, campaign_id), phone, variant, utcnow())
        result = {"message_id": message.id, "body": message.body, "segments": message.segments,
                  "encoding": message.encoding, "status": message.status}
    runtime.signal("dispatch")
    return result


def schedule(runtime: Runtime, shop: str | None, campaign_id: int, body: dict[str, Any]) -> dict[str, Any]:
    with shop_session(runtime, shop) as (session, owner):
        campaign = campaign_send.schedule(session, owner, _campaign(session, owner, campaign_id), body, utcnow())
        at, result = campaign.send_at, campaigns.to_json(session, campaign)
    enqueue(runtime, campaign_id, at)
    return result


def transition(runtime: Runtime, shop: str | None, campaign_id: int, action: str) -> dict[str, Any]:
    """pause, resume or cancel."""
    now = utcnow()
    with shop_session(runtime, shop) as (session, owner):
        campaign = getattr(campaigns, action)(session, _campaign(session, owner, campaign_id), now)
        at, status, result = campaign.send_at, campaign.status, campaigns.to_json(session, campaign)
    if action == "resume":
        enqueue(runtime, campaign_id, at if status == "scheduled" else now)
    return result


def report(runtime: Runtime, shop: str | None, campaign_id: int) -> dict[str, Any]:
    with shop_session(runtime, shop) as (session, owner):
        attribution.attribute_orders(session, owner, utcnow())
        return campaign_report(session, _campaign(session, owner, campaign_id))


def analytics(runtime: Runtime, shop: str | None, days: int = 30, rule_id: int | None = None) -> dict[str, Any]:
    """Shop-wide figures over the last `days` days, or one flow's (with its steps)."""
    with shop_session(runtime, shop) as (session, owner):
        now = utcnow()
        attribution.attribute_orders(session, owner, now)
        if rule_id is not None:
            rule = session.get(Rule, rule_id)
            if rule is None or rule.shop_id != owner.id:
                raise MarketingError(404, {"rule_id": [f"no flow {rule_id}"]})
            return flow_report(session, rule)
        return shop_report(session, owner.id, now - timedelta(days=days), now + timedelta(seconds=1))
