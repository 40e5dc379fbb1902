"""The JSON Brevo posts for transactional SMS webhooks.

Fields follow Brevo's documented sample (`id` is the webhook's id, `to`, `sms_count`,
`credits_used`, `messageId`, `remaining_credit`, `msg_status`, `date` in CET/CEST, `type`,
`reference`, `tag`); the `msg_status` values are the SMS events Brevo's webhook API offers
(sent, delivered, soft/hard bounce, blocked, unsubscribed, reply) plus those its events report
names (accepted, rejected, skip). A reply carries its text in `reply`. Unknown fields are
ignored (`unknown=EXCLUDE`): Brevo adds fields without notice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

DELIVERY = ("accepted", "sent", "delivered", "soft_bounce", "hard_bounce", "blocked", "rejected",
            "skip")
CONTACT = ("reply", "replied", "unsubscribed", "unsubscribe", "subscribe")
MSG_STATUSES = DELIVERY + CONTACT


class PayloadError(ValueError):
    """A Brevo webhook body is not JSON, misses a required field, or has a value we cannot read."""


class SmsEventSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    msg_status = fields.Str(required=True, validate=validate.OneOf(MSG_STATUSES))
    to = fields.Str(required=True, validate=validate.Length(min=1))
    message_id = fields.Raw(data_key="messageId", required=True)
    reference = fields.Str(load_default=None)
    tag = fields.Raw(load_default=None)
    date = fields.Str(load_default=None)
    reply = fields.Str(load_default=None)
    description = fields.Str(load_default=None)
    sms_count = fields.Int(load_default=None)


@dataclass(frozen=True)
class BrevoSmsEvent:
    msg_status: str
    to: str
    message_id: str
    reference: str | None
    tags: tuple[str, ...]
    date: str | None
    reply: str | None
    raw: dict[str, Any] = field(repr=False)


def load_event(body: Any) -> BrevoSmsEvent:
    if not isinstance(body, dict):
        raise PayloadError("a Brevo webhook body is a JSON object")
    try:
        data = SmsEventSchema().load(body)
    except ValidationError as error:
        raise PayloadError(f"invalid Brevo SMS webhook: {error.messages}") from error
    tag = data["tag"]
    tags = tuple(str(t) for t in tag) if isinstance(tag, list) else ((str(tag),) if tag else ())
    return BrevoSmsEvent(data["msg_status"], data["to"], str(data["message_id"]), data["reference"],
                         tags, data["date"], data["reply"], raw=body)
