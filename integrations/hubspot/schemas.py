"""HubSpot webhook payloads: a JSON array of up to 100 events, checked with marshmallow.

Fields we do not know are dropped (unknown=EXCLUDE); a batch that is not a list of events with
their ids, portal, time and type is a PayloadError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load

MAX_EVENTS = 100


class PayloadError(ValueError):
    """The webhook body is not a batch of HubSpot events we can read."""


class _Text(fields.Field):
    """HubSpot sends some ids as numbers or strings: keep them as text."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValidationError("must be text or a number")
        return str(value)


@dataclass(frozen=True)
class HubSpotEvent:
    event_id: int
    portal_id: int
    occurred_at_ms: int
    subscription_type: str
    subscription_id: int | None = None
    app_id: int | None = None
    attempt_number: int = 0
    object_id: int | None = None
    property_name: str | None = None
    property_value: str | None = None
    change_source: str | None = None
    source_id: str | None = None
    merged_object_ids: list[int] = field(default_factory=list)
    primary_object_id: int | None = None
    new_object_id: int | None = None

    @property
    def occurred_at(self) -> datetime:
        return datetime.fromtimestamp(self.occurred_at_ms / 1000, UTC)


class HubSpotEventSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    eventId = fields.Integer(required=True, data_key="eventId", attribute="event_id")
    portalId = fields.Integer(required=True, attribute="portal_id")
    occurredAt = fields.Integer(required=True, attribute="occurred_at_ms")
    subscriptionType = fields.String(required=True, attribute="subscription_type")
    subscriptionId = fields.Integer(allow_none=True, attribute="subscription_id")
    appId = fields.Integer(allow_none=True, attribute="app_id")
    attemptNumber = fields.Integer(load_default=0, attribute="attempt_number")
    objectId = fields.Integer(allow_none=True, attribute="object_id")
    propertyName = fields.String(allow_none=True, attribute="property_name")
    propertyValue = _Text(allow_none=True, attribute="property_value")
    changeSource = fields.String(allow_none=True, attribute="change_source")
    sourceId = _Text(allow_none=True, attribute="source_id")
    mergedObjectIds = fields.List(fields.Integer(), load_default=list, attribute="merged_object_ids")
    primaryObjectId = fields.Integer(allow_none=True, attribute="primary_object_id")
    newObjectId = fields.Integer(allow_none=True, attribute="new_object_id")

    @post_load
    def make(self, data, **kwargs) -> HubSpotEvent:
        return HubSpotEvent(**data)


_SCHEMA = HubSpotEventSchema(many=True)


def parse_batch(body: bytes, max_events: int = MAX_EVENTS) -> list[HubSpotEvent]:
    """The events of one webhook request, oldest first."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"not JSON: {exc}") from None
    if not isinstance(raw, list):
        raise PayloadError("a HubSpot webhook body is a JSON array of events")
    if len(raw) > max_events:
        raise PayloadError(f"{len(raw)} events in one batch; HubSpot sends at most {max_events}")
    try:
        events = _SCHEMA.load(raw)
    except ValidationError as exc:
        raise PayloadError(f"malformed events: {exc.messages}") from None
    return sorted(events, key=lambda e: (e.occurred_at_ms, e.event_id))
