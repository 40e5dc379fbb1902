"""Sending a campaign: the audience resolved once, messages composed in batches, never twice.

- `schedule` refuses an empty or unreachable audience, a time in the past, a variant that does
  not render; else the campaign is `scheduled`.
- `start` (once, whichever worker comes first) resolves the audience into one recipient row per
  contact (unique per campaign), each with its variant (or `held` for an A/B winner).
- `compose_batch` takes pending recipients (locked, so two workers share the work), checks
  again that each still belongs to the audience and may receive marketing, and writes their
  messages as the rule engine does: `scheduled`, send time from the schedule, the throttle and
  the recipient's window, body with personalisation, short links and footer. Dispatch sends
  them and checks consent, window and caps once more at send time.
- `recheck` cancels waiting messages of contacts who left the audience since.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from automations import templating
from automations.campaign_compose import Composer, mark, memo, write
from automations.campaigns import start_time, variants
from automations.flow_messages import message_variables
from automations.models import (
    Campaign,
    CampaignRecipient,
    CampaignVariant,
    Contact,
    Message,
    Shop,
)
from automations.policy import ShopPolicy
from automations.segments import MarketingError
from automations.segments_sql import REACHABLE, REASON, Compiler, count, matching
from automations.shops import policy_for
from automations.windows import parse_phone, recipient_zones

HORIZON = timedelta(minutes=2)  # a throttled campaign composes this far ahead of time
_cursor: dict[int, int] = {}  # per campaign, the last recipient id this process composed


def audience(compiler: Compiler, campaign: Campaign) -> sa.ColumnElement[bool]:
    spec = campaign.audience or {}
    return matching(compiler, compiler.audience(spec.get("include", []), spec.get("exclude", [])))


def schedule(session: Session, shop: Shop, campaign: Campaign, body: Any, now: datetime) -> Campaign:
    if campaign.status != "draft":
        raise MarketingError(409, {"status": [f"only a draft can be scheduled; this campaign is {campaign.status}"]})
    at, stored = start_time(shop, body, now)
    compiler = Compiler(session, shop.id, now)
    counted = count(session, compiler, compiler.audience(campaign.audience["include"], campaign.audience["exclude"]))
    if counted["matching"] == 0:
        raise MarketingError(400, {"audience": ["no contact matches this audience"]})
    if counted["reachable"] == 0:
        reasons = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counted["unreachable"].items() if v)
        raise MarketingError(400, {"audience": [f"none of the {counted['matching']} matching contacts may "
                                                f"receive marketing ({reasons})"]})
    check_rendering(session, shop, campaign, compiler)
    campaign.status, campaign.send_at, campaign.schedule = "scheduled", at, stored
    session.flush()
    return campaign


def check_rendering(session: Session, shop: Shop, campaign: Campaign, compiler: Compiler) -> None:
    """Render every variant for a few reachable contacts of the audience; refuse what fails."""
    people = list(session.scalars(sa.select(Contact).where(audience(compiler, campaign), REACHABLE).limit(20)))
    errors: dict[str, Any] = {}
    for index, variant in enumerate(variants(session, campaign)):
        for locale, source in variant.templates.items():
            for contact in people or [Contact(first_name=None)]:
                try:
                    templating.render(source, message_variables(
                        shop, contact, {"discount_code": campaign.discount_code}, {}, locale))
                except templating.TemplateError as exc:
                    errors.setdefault(str(index), {}).setdefault("templates", {})[locale] = [str(exc)]
                    break
    if errors:
        raise MarketingError(400, {"variants": errors})


def _bucket(salt: int, campaign_id: int) -> sa.ColumnElement[int]:
    return (Contact.id * salt + campaign_id) % 100


def _variant_case(choices: list[CampaignVariant], bucket: sa.ColumnElement[int]) -> sa.ColumnElement[Any]:
    whens, edge = [], 0
    for variant in choices[:-1]:
        edge += variant.share
        whens.append((bucket < edge, variant.id))
    return sa.case(*whens, else_=choices[-1].id) if whens else sa.literal(choices[-1].id)


def start(session: Session, campaign: Campaign, now: datetime) -> bool:
    """Move a due scheduled campaign to sending and resolve its audience; False if another
    worker did it or it is not due."""
    won = session.execute(sa.update(Campaign).where(
        Campaign.id == campaign.id, Campaign.status == "scheduled", Campaign.send_at <= now,
    ).values(status="sending", started_at=now).execution_options(synchronize_session=False)).rowcount
    if not won:
        return False
    session.refresh(campaign)
    choices = variants(session, campaign)
    variant = _variant_case(choices, _bucket(104729, campaign.id))
    status: sa.ColumnElement[Any] = sa.literal("pending")
    if (campaign.ab or {}).get("mode") == "winner":
        in_test = _bucket(7919, campaign.id) < int(campaign.ab.get("test_share", 20))
        variant = sa.case((in_test, variant), else_=sa.null())
        status = sa.case((in_test, "pending"), else_="held")
    compiler = Compiler(session, campaign.shop_id, now)
    rows = sa.select(sa.literal(campaign.id), Contact.id, variant, status, sa.literal(0)).where(
        audience(compiler, campaign), REACHABLE)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(CampaignRecipient).from_select(
        ["campaign_id", "contact_id", "variant_id", "status", "attempt"], rows).on_conflict_do_nothing())
    total = session.scalar(sa.select(sa.func.count()).where(CampaignRecipient.campaign_id == campaign.id))
    if total > 10_000 and session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("ANALYZE campaign_recipients"))  # the batches' plans need to know it grew
    campaign.result = {**(campaign.result or {}), "audience": total}
    session.flush()
    return True


def _done(session: Session, campaign: Campaign) -> int:
    return session.scalar(sa.select(sa.func.count()).where(
        CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.status.in_(("queued", "skipped")))) or 0


def _quota(session: Session, campaign: Campaign, now: datetime, done: int) -> int | None:
    """How many more a throttled campaign may compose now (None: no throttle)."""
    if not campaign.throttle_hours or campaign.started_at is None:
        return None
    total = (campaign.result or {}).get("audience", 0)
    elapsed = (now + HORIZON - campaign.started_at).total_seconds() / (campaign.throttle_hours * 3600)
    return max(math.ceil(total * min(elapsed, 1.0)) - done, 0)


def _planner(campaign: Campaign, policy: ShopPolicy, now: datetime, done: int) -> Callable[[Contact, int], datetime]:
    """The time each message is asked for (its window may move it later)."""
    spec = campaign.schedule or {}
    if spec.get("mode") == "local":
        day, at = date.fromisoformat(spec["date"]), time.fromisoformat(spec["time"])

        def local(contact: Contact, _index: int) -> datetime:
            zone = recipient_zones(parse_phone(contact.phone_e164 or "", policy.default_region), policy)[0]
            return max(datetime.combine(day, at, tzinfo=ZoneInfo(zone)), now)
        return local
    if campaign.throttle_hours and campaign.started_at is not None:
        total = max((campaign.result or {}).get("audience", 1), 1)
        step = campaign.throttle_hours * 3600 / total
        started = campaign.started_at

        def spread(_contact: Contact, index: int) -> datetime:
            return max(started + timedelta(seconds=(done + index) * step), now)
        return spread
    asked = campaign.started_at or now  # every message is asked for the start; dispatch sends what is due
    return lambda _contact, _index: asked


def compose_batch(session: Session, shop: Shop, campaign: Campaign, now: datetime, limit: int = 1000) -> int:
    """Compose the messages of up to `limit` pending recipients; how many recipients it handled."""
    done = _done(session, campaign) if campaign.throttle_hours else 0  # a throttle spreads by position
    quota = _quota(session, campaign, now, done)
    if quota is not None:
        limit = min(limit, quota)
    if limit <= 0:
        return 0
    compiler = Compiler(session, shop.id, now)
    still_in = sa.case((audience(compiler, campaign), True), else_=False)
    query = (sa.select(CampaignRecipient, Contact, REASON, still_in)
             .join(Contact, Contact.id == CampaignRecipient.contact_id)
             .where(CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.status == "pending")
             .options(orm.load_only(CampaignRecipient.id, CampaignRecipient.contact_id, CampaignRecipient.variant_id,
                                    CampaignRecipient.attempt),
                      orm.load_only(Contact.id, Contact.first_name, Contact.last_name, Contact.locale,
                                    Contact.phone_e164, Contact.shop_id))
             .order_by(CampaignRecipient.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=CampaignRecipient)
    # from where this process stopped: the rows it left behind are dead index entries until vacuum
    found = session.execute(query.where(CampaignRecipient.id > _cursor.get(campaign.id, 0))).all()
    if not found and _cursor.pop(campaign.id, 0):
        found = session.execute(query).all()  # from the start again (a pause put some back)
    if not found:
        return 0
    _cursor[campaign.id] = found[-1][0].id
    policy = policy_for(shop)
    choices = {v.id: v for v in variants(session, campaign)}
    plan = _planner(campaign, policy, now, done)
    composer = Composer(shop, policy, campaign, memo(campaign.id))
    rows, link_rows, updates, index = [], [], [], 0
    for recipient, contact, state, inside in found:
        reason = None if inside else "left the audience"
        if reason is None and state != "reachable":
            reason = state.replace("_", " ")
        if reason is None:
            key = f"campaign:{campaign.id}:contact:{contact.id}:{recipient.attempt}"
            row, made_links, reason = composer.message(choices[recipient.variant_id], contact,
                                                       plan(contact, index), key)
            if row is not None:
                index += 1
                rows.append(row)
                link_rows += made_links
                updates.append({"id": recipient.id, "status": "queued", "reason": None, "key": key,
                                "planned_at": row["send_at"]})
                continue
        updates.append({"id": recipient.id, "status": "skipped", "reason": (reason or "")[:255], "key": None,
                        "planned_at": None})
    made = write(session, rows, link_rows)
    mark(session, [
        {"id": u["id"], "status": u["status"], "reason": u["reason"], "planned_at": u["planned_at"],
         "message_id": made.get(u["key"])} for u in updates])
    session.flush()
    return len(found)


def recheck(session: Session, campaign: Campaign, now: datetime) -> int:
    """Cancel the waiting messages of contacts no longer in the audience; how many."""
    compiler = Compiler(session, campaign.shop_id, now)
    left = (sa.select(CampaignRecipient.message_id)
            .join(Contact, Contact.id == CampaignRecipient.contact_id)
            .where(CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.status == "queued",
                   sa.not_(audience(compiler, campaign))))
    return session.execute(
        sa.update(Message).where(Message.id.in_(left), Message.status == "scheduled")
        .values(status="cancelled", status_reason="left the campaign audience", updated_at=now)
        .execution_options(synchronize_session=False)).rowcount


def finish_if_done(session: Session, campaign: Campaign, now: datetime) -> bool:
    """A sending campaign with nothing left to compose or to leave is sent."""
    todo = session.scalar(sa.select(sa.func.count()).where(
        CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.status.in_(("pending", "held"))))
    waiting = session.scalar(sa.select(sa.func.count()).select_from(Message).join(
        CampaignRecipient, CampaignRecipient.message_id == Message.id).where(
        CampaignRecipient.campaign_id == campaign.id, Message.status.in_(("scheduled", "sending"))))
    if todo or waiting:
        return False
    campaign.status, campaign.finished_at = "sent", now
    _cursor.pop(campaign.id, None)
    session.flush()
    return True


def due(session: Session, now: datetime) -> list[int]:
    """Campaigns to start or to move on: scheduled and due, or sending."""
    return list(session.scalars(sa.select(Campaign.id).where(sa.or_(
        sa.and_(Campaign.status == "scheduled", Campaign.send_at <= now), Campaign.status == "sending"))))
