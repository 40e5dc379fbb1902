"""Shapes of the form posts Twilio sends us: message status callbacks and inbound SMS.

Twilio posts `application/x-www-form-urlencoded` forms and adds fields without notice, so
every schema ignores unknown fields (`unknown=EXCLUDE`); the signature check happens before
(it covers every field, known or not).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

# Statuses of the Message resource. The first seven are those of an outbound message
# (`partially_delivered`: only some parts of a split message were delivered); the others
# (WhatsApp read receipts, inbound messages, scheduled messages) are tolerated.
OUTBOUND_STATUSES = ("queued", "sending", "sent", "delivered", "undelivered", "failed",
                     "partially_delivered")
OTHER_STATUSES = ("read", "receiving", "received", "accepted", "scheduled", "canceled")
STATUSES = OUTBOUND_STATUSES + OTHER_STATUSES


class PayloadError(ValueError):
    """A Twilio form is missing a required field or carries a value we cannot read."""


class _TwilioForm(Schema):
    class Meta:
        unknown = EXCLUDE

    message_sid = fields.Str(data_key="MessageSid", required=True, validate=validate.Length(min=1))
    account_sid = fields.Str(data_key="AccountSid", load_default=None)
    from_ = fields.Str(data_key="From", required=True, validate=validate.Length(min=1))
    to = fields.Str(data_key="To", required=True, validate=validate.Length(min=1))


class StatusCallbackSchema(_TwilioForm):
    """A message status callback: `MessageStatus` (or the older `SmsStatus`), `ErrorCode`."""

    message_status = fields.Str(data_key="MessageStatus", load_default=None)
    sms_status = fields.Str(data_key="SmsStatus", load_default=None)
    error_code = fields.Int(data_key="ErrorCode", load_default=None, allow_none=True)
    error_message = fields.Str(data_key="ErrorMessage", load_default=None)


class InboundSmsSchema(_TwilioForm):
    """An incoming message: `Body` (may be empty), `NumMedia` and `MediaUrl0`…`MediaUrlN`."""

    body = fields.Str(data_key="Body", load_default="")
    num_media = fields.Int(data_key="NumMedia", load_default=0, validate=validate.Range(min=0))


@dataclass(frozen=True)
class StatusUpdate:
    message_sid: str
    status: str
    error_code: int | None
    error_message: str | None
    to: str
    from_: str
    raw: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class InboundSms:
    message_sid: str
    account_sid: str | None
    from_: str
    to: str
    body: str
    num_media: int
    media_urls: tuple[str, ...]
    raw: dict[str, str] = field(repr=False)


def flat(form: Mapping[str, Any]) -> dict[str, str]:
    """The form as a plain dict (first value of each field, as Flask's MultiDict gives it)."""
    return {key: form[key] for key in form}


def load(schema: Schema, form: Mapping[str, Any]) -> dict[str, Any]:
    """Load `form` with `schema`; any validation problem becomes a PayloadError."""
    try:
        return schema.load(flat(form))
    except ValidationError as error:
        raise PayloadError(f"invalid Twilio form: {error.messages}") from error


def empty_to_none(form: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    """Twilio sends `ErrorCode=` (empty) on healthy messages: treat an empty value as absent."""
    data = flat(form)
    for key in keys:
        if data.get(key) == "":
            data.pop(key)
    return data


status_callback_schema = StatusCallbackSchema()
inbound_sms_schema = InboundSmsSchema()
