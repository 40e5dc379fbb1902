"""Shapes of the JSON bodies the Vonage Messages API (v1) posts to us: message status
webhooks and inbound messages.

Vonage adds fields without notice (`usage`, `destination`, `sms`, `workflow`...), so every schema
ignores unknown fields (`unknown=EXCLUDE`); the signature check happens before, over the raw
body. Numbers come in E.164 without the `+` (`447700900000`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

STATUSES = ("submitted", "delivered", "rejected", "undeliverable", "read")
MEDIA_TYPES = ("image", "audio", "video", "file", "vcard")


class PayloadError(ValueError):
    """A Vonage webhook body is not JSON, misses a required field, or has a value we cannot read."""


class _Base(Schema):
    class Meta:
        unknown = EXCLUDE


class ErrorSchema(_Base):
    """`error` of a status webhook: RFC 7807 fields; `title` carries the numeric code."""

    type = fields.Str(load_default=None)
    title = fields.Raw(load_default=None)
    detail = fields.Str(load_default=None)


class StatusSchema(_Base):
    message_uuid = fields.Str(required=True, validate=validate.Length(min=1))
    to = fields.Str(required=True, validate=validate.Length(min=1))
    from_ = fields.Str(data_key="from", required=True, validate=validate.Length(min=1))
    timestamp = fields.DateTime(required=True)
    status = fields.Str(required=True, validate=validate.OneOf(STATUSES))
    channel = fields.Str(load_default="sms")
    client_ref = fields.Str(load_default=None)
    error = fields.Nested(ErrorSchema, load_default=None)


class MediaSchema(_Base):
    url = fields.Str(required=True, validate=validate.Length(min=1))


class InboundSchema(_Base):
    channel = fields.Str(required=True)
    message_uuid = fields.Str(required=True, validate=validate.Length(min=1))
    to = fields.Str(required=True, validate=validate.Length(min=1))
    from_ = fields.Str(data_key="from", required=True, validate=validate.Length(min=1))
    timestamp = fields.DateTime(required=True)
    message_type = fields.Str(required=True)
    text = fields.Str(load_default="")
    image = fields.Nested(MediaSchema, load_default=None)
    audio = fields.Nested(MediaSchema, load_default=None)
    video = fields.Nested(MediaSchema, load_default=None)
    file = fields.Nested(MediaSchema, load_default=None)
    vcard = fields.Nested(MediaSchema, load_default=None)


@dataclass(frozen=True)
class VonageStatus:
    message_uuid: str
    status: str
    to: str
    from_: str
    timestamp: datetime
    client_ref: str | None
    error_code: str | None
    error_detail: str | None
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class VonageInbound:
    message_uuid: str
    channel: str
    to: str
    from_: str
    text: str
    media_urls: tuple[str, ...]
    timestamp: datetime
    raw: dict[str, Any] = field(repr=False)


def load(schema: Schema, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise PayloadError("a Vonage webhook body is a JSON object")
    try:
        return schema.load(body)
    except ValidationError as error:
        raise PayloadError(f"invalid Vonage webhook: {error.messages}") from error


status_schema = StatusSchema()
inbound_schema = InboundSchema()
