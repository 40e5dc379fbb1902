"""Campaigns: one marketing message (one to four variants) to the contacts of segments.

States: draft -> scheduled -> sending -> sent, plus paused (from sending) and cancelled (from any
state but sent). A draft is edited freely; scheduling checks everything once more: an audience
that is empty or unreachable, a time in the past, or a variant that does not render is refused
with the reason, keyed by field. Sending is `automations.campaign_send`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from automations import templating
from automations.models import Campaign, CampaignRecipient, CampaignVariant, Message, Segment, Shop
from automations.segments import MarketingError

STATES = ("draft", "scheduled", "sending", "sent", "paused", "cancelled")
METRICS = ("clicks", "conversions", "revenue")
LABELS = "ABCD"
_HHMM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="must be HH:MM")


class VariantInput(Schema):
    class Meta:
        unknown = RAISE

    templates = fields.Dict(keys=fields.String(validate=validate.Length(max=8)),
                            values=fields.String(validate=validate.Length(min=1, max=1600)), required=True,
                            metadata={"description": 'template per locale, e.g. {"fr": "...", "en": "..."}'})
    share = fields.Integer(load_default=None, validate=validate.Range(min=1, max=100))

    @validates_schema
    def _renders(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data["templates"]:
            raise ValidationError("at least one locale", "templates")
        errors = {}
        for locale, source in data["templates"].items():
            try:
                templating.validate(source)
            except templating.TemplateError as exc:
                errors[locale] = [str(exc)]
        if errors:
            raise ValidationError(errors, "templates")


class AudienceInput(Schema):
    class Meta:
        unknown = RAISE

    include = fields.List(fields.Integer(), required=True, validate=validate.Length(min=1, max=20))
    exclude = fields.List(fields.Integer(), load_default=list, validate=validate.Length(max=20))


class AbInput(Schema):
    class Meta:
        unknown = RAISE

    mode = fields.String(required=True, validate=validate.OneOf(("fixed", "winner")))
    test_share = fields.Integer(load_default=20, validate=validate.Range(min=2, max=90),
                                metadata={"description": "percent of the audience in the test (winner mode)"})
    metric = fields.String(load_default="clicks", validate=validate.OneOf(METRICS))
    after_hours = fields.Float(load_default=4, validate=validate.Range(min=0, max=168))


class CampaignInput(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    audience = fields.Nested(AudienceInput, required=True)
    variants = fields.List(fields.Nested(VariantInput), required=True, validate=validate.Length(min=1, max=4))
    ab = fields.Nested(AbInput, load_default=None, allow_none=True)
    throttle_hours = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=72))
    media_url = fields.Url(load_default=None, allow_none=True, schemes={"https"})
    discount_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))

    @validates_schema
    def _split(self, data: dict[str, Any], **kwargs: Any) -> None:
        variants = data["variants"]
        if len(variants) > 1 and not data.get("ab"):
            raise ValidationError("two or more variants need ab: {mode: fixed | winner}", "ab")
        shares = [v.get("share") for v in variants]
        if len(variants) > 1 and None not in shares and sum(shares) != 100:
            raise ValidationError("the variants' shares must add up to 100", "variants")


class ScheduleInput(Schema):
    class Meta:
        unknown = RAISE

    mode = fields.String(required=True, validate=validate.OneOf(("now", "at", "local")), metadata={
        "description": "now; at: a time (without offset: in the shop's time zone); local: the same "
                       "local time for each recipient"})
    at = fields.DateTime(load_default=None, metadata={"description": "mode at"})
    date = fields.Date(load_default=None, metadata={"description": "mode local"})
    time = fields.String(load_default=None, validate=_HHMM, metadata={"description": "mode local, HH:MM"})

    @validates_schema
    def _complete(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["mode"] == "at" and data.get("at") is None:
            raise ValidationError("is required with mode at", "at")
        if data["mode"] == "local":
            for name in ("date", "time"):
                if data.get(name) is None:
                    raise ValidationError("is required with mode local", name)


def _load(schema: Schema, body: Any) -> dict[str, Any]:
    try:
        return schema.load(body if body is not None else {})
    except ValidationError as exc:
        raise MarketingError(400, exc.messages) from exc


def _shares(variants: list[dict[str, Any]]) -> list[int]:
    given = [v.get("share") for v in variants]
    if None not in given:
        return given
    base = 100 // len(variants)
    return [base + (1 if i < 100 - base * len(variants) else 0) for i in range(len(variants))]


def create(session: Session, shop: Shop, body: Any) -> Campaign:
    data = _load(CampaignInput(), body)
    _check_segments(session, shop, data["audience"])
    campaign = Campaign(shop_id=shop.id, name=data["name"], status="draft")
    _apply(session, campaign, data)
    return campaign


def update(session: Session, shop: Shop, campaign: Campaign, body: Any) -> Campaign:
    if campaign.status != "draft":
        raise MarketingError(409, {"status": [f"only a draft can change; this campaign is {campaign.status}"]})
    data = _load(CampaignInput(), body)
    _check_segments(session, shop, data["audience"])
    session.execute(sa.delete(CampaignVariant).where(CampaignVariant.campaign_id == campaign.id))
    _apply(session, campaign, data)
    return campaign


def _apply(session: Session, campaign: Campaign, data: dict[str, Any]) -> None:
    campaign.name = data["name"]
    campaign.audience = data["audience"]
    campaign.ab = data.get("ab") or {}
    campaign.throttle_hours = data.get("throttle_hours")
    campaign.media_url = data.get("media_url")
    campaign.discount_code = data.get("discount_code")
    session.add(campaign)
    session.flush()
    for index, (variant, share) in enumerate(zip(data["variants"], _shares(data["variants"]), strict=True)):
        session.add(CampaignVariant(campaign_id=campaign.id, label=LABELS[index], templates=variant["templates"],
                                    share=share))
    session.flush()


def _check_segments(session: Session, shop: Shop, audience: dict[str, Any]) -> None:
    ids = set(audience["include"]) | set(audience["exclude"])
    known = set(session.scalars(sa.select(Segment.id).where(Segment.shop_id == shop.id, Segment.id.in_(ids))))
    errors = {}
    for name in ("include", "exclude"):
        missing = [i for i in audience[name] if i not in known]
        if missing:
            errors[name] = [f"unknown segment ids: {missing}"]
    if errors:
        raise MarketingError(400, {"audience": errors})


def variants(session: Session, campaign: Campaign) -> list[CampaignVariant]:
    return list(session.scalars(sa.select(CampaignVariant).where(CampaignVariant.campaign_id == campaign.id)
                                .order_by(CampaignVariant.label)))


def start_time(shop: Shop, body: Any, now: datetime) -> tuple[datetime, dict[str, Any]]:
    """When a campaign starts, and its schedule as stored; MarketingError(400) for the past."""
    data = _load(ScheduleInput(), body)
    zone = ZoneInfo(shop.timezone or "UTC")
    if data["mode"] == "now":
        return now, {"mode": "now"}
    if data["mode"] == "at":
        at: datetime = data["at"]
        at = at if at.tzinfo else at.replace(tzinfo=zone)
        if at < now - timedelta(minutes=1):
            raise MarketingError(400, {"at": ["is in the past"]})
        return at, {"mode": "at", "at": at.isoformat()}
    day: date = data["date"]
    local = time.fromisoformat(data["time"])
    latest = datetime.combine(day, local, tzinfo=ZoneInfo("Etc/GMT+12"))  # the last place it is that time
    if latest < now:
        raise MarketingError(400, {"date": ["that local time has passed everywhere"]})
    earliest = datetime.combine(day, local, tzinfo=ZoneInfo("Etc/GMT-14"))  # the first place
    return max(earliest, now), {"mode": "local", "date": day.isoformat(), "time": data["time"]}


def pause(session: Session, campaign: Campaign, now: datetime) -> Campaign:
    """Stop composing; messages not handed to the provider yet go back to the queue of recipients
    (their contacts still have the campaign to come: nobody is lost, nobody gets it twice)."""
    if campaign.status not in ("sending", "scheduled"):
        raise MarketingError(409, {"status": [f"a {campaign.status} campaign cannot be paused"]})
    withdrawn = _withdraw(session, campaign, "campaign paused", now)
    session.execute(sa.update(CampaignRecipient).where(CampaignRecipient.message_id.in_(withdrawn or [-1]))
                    .values(status="pending", message_id=None, attempt=CampaignRecipient.attempt + 1))
    campaign.status, campaign.paused_at = "paused", now
    session.flush()
    return campaign


def resume(session: Session, campaign: Campaign, now: datetime) -> Campaign:
    if campaign.status != "paused":
        raise MarketingError(409, {"status": [f"a {campaign.status} campaign cannot be resumed"]})
    if campaign.started_at is None:
        campaign.status = "scheduled"
    else:
        campaign.status = "sending"
        if campaign.paused_at is not None:  # a throttled send continues where it stood
            campaign.started_at += now - campaign.paused_at
    campaign.paused_at = None
    session.flush()
    return campaign


def cancel(session: Session, campaign: Campaign, now: datetime) -> Campaign:
    """Stop what has not left: waiting messages are cancelled, the rest of the audience skipped."""
    if campaign.status in ("sent", "cancelled"):
        raise MarketingError(409, {"status": [f"a {campaign.status} campaign cannot be cancelled"]})
    withdrawn = _withdraw(session, campaign, "campaign cancelled", now)
    session.execute(sa.update(CampaignRecipient).where(
        CampaignRecipient.campaign_id == campaign.id,
        sa.or_(CampaignRecipient.status.in_(("pending", "held")), CampaignRecipient.message_id.in_(withdrawn or [-1])),
    ).values(status="skipped", reason="campaign cancelled"))
    campaign.status, campaign.finished_at = "cancelled", now
    session.flush()
    return campaign


def _withdraw(session: Session, campaign: Campaign, reason: str, now: datetime) -> list[int]:
    """Cancel the campaign's messages still waiting to leave; their ids."""
    mine = sa.select(CampaignRecipient.message_id).where(CampaignRecipient.campaign_id == campaign.id,
                                                          CampaignRecipient.message_id.is_not(None))
    return list(session.scalars(
        sa.update(Message).where(Message.id.in_(mine), Message.status == "scheduled")
        .values(status="cancelled", status_reason=reason, updated_at=now)
        .returning(Message.id).execution_options(synchronize_session=False)))


def progress(session: Session, campaign: Campaign) -> dict[str, Any]:
    """Recipients by state and their messages by status (queued = waiting to leave)."""
    recipients = dict(session.execute(
        sa.select(CampaignRecipient.status, sa.func.count()).where(CampaignRecipient.campaign_id == campaign.id)
        .group_by(CampaignRecipient.status)).all())
    messages = dict(session.execute(
        sa.select(Message.status, sa.func.count()).join(CampaignRecipient, CampaignRecipient.message_id == Message.id)
        .where(CampaignRecipient.campaign_id == campaign.id).group_by(Message.status)).all())
    return {
        "audience": sum(recipients.values()),
        "to_compose": recipients.get("pending", 0) + recipients.get("held", 0),
        "skipped": recipients.get("skipped", 0),
        "queued": messages.get("scheduled", 0) + messages.get("sending", 0),
        "sent": sum(messages.get(s, 0) for s in ("sent", "delivered", "partially_delivered", "undelivered")),
        "delivered": messages.get("delivered", 0) + messages.get("partially_delivered", 0),
        "failed": messages.get("failed", 0) + messages.get("undelivered", 0),
        "suppressed": messages.get("suppressed", 0),
        "cancelled": messages.get("cancelled", 0),
    }


def to_json(session: Session, campaign: Campaign) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": campaign.id, "name": campaign.name, "status": campaign.status, "audience": campaign.audience,
        "variants": [{"id": v.id, "label": v.label, "templates": v.templates, "share": v.share}
                     for v in variants(session, campaign)],
        "ab": campaign.ab or None, "throttle_hours": campaign.throttle_hours, "media_url": campaign.media_url,
        "discount_code": campaign.discount_code, "schedule": campaign.schedule or None,
        "send_at": iso(campaign.send_at), "started_at": iso(campaign.started_at),
        "finished_at": iso(campaign.finished_at), "ab_result": (campaign.result or {}).get("ab"),
        "progress": progress(session, campaign), "created_at": iso(campaign.created_at),
    }
