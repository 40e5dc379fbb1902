"""A shop's SMS route: its provider and sender, and the failover used while the first is failing.
Checked here once for the CLI (`parlons sms route`) and the admin's Settings."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from automations.models import Shop, ShopSmsSettings
from integrations.providers import PROVIDERS
from integrations.sms import SenderKind

_SENDER_FORMS = {
    SenderKind.NUMBER: (re.compile(r"^\+[1-9]\d{6,14}$"), "a number in E.164, such as +33757000001"),
    SenderKind.SHORT_CODE: (re.compile(r"^\d{3,8}$"), "3 to 8 digits, such as 36180"),
    SenderKind.ALPHANUMERIC: (re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$"),
                              "1 to 11 letters, digits or spaces, at least one letter"),
    SenderKind.MESSAGING_SERVICE: (re.compile(r"^MG[0-9a-f]{32}$"), "a Messaging Service SID (MG + 32 hex)"),
}


class RouteSchema(Schema):
    provider = fields.String(required=True, validate=validate.OneOf(list(PROVIDERS)))
    sender_kind = fields.String(load_default="number", validate=validate.OneOf([k.value for k in SenderKind]))
    sender = fields.String(required=True)
    sender_mps = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0.01, max=10_000))
    failover_provider = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(list(PROVIDERS)))
    failover_sender_kind = fields.String(load_default=None, allow_none=True,
                                         validate=validate.OneOf([k.value for k in SenderKind]))
    failover_sender = fields.String(load_default=None, allow_none=True)

    @validates_schema(skip_on_field_errors=False)
    def _senders(self, data: dict, **_kwargs) -> None:
        errors: dict[str, list[str]] = {}
        for kind_key, sender_key in (("sender_kind", "sender"), ("failover_sender_kind", "failover_sender")):
            value = data.get(sender_key)
            if value is None:
                continue
            kind = data.get(kind_key) or "number"
            if kind not in set(SenderKind):
                continue
            pattern, form = _SENDER_FORMS[SenderKind(kind)]
            if not pattern.match(value):
                errors[sender_key] = [f"must be {form}"]
        if bool(data.get("failover_provider")) != bool(data.get("failover_sender")):
            errors["failover_sender"] = ["a failover needs both a provider and a sender"]
        if data.get("failover_provider") == data.get("provider") and data.get("failover_sender") == data.get("sender"):
            errors.setdefault("failover_sender", []).append("the failover must differ from the primary route")
        if errors:
            raise ValidationError(errors)


def load_route(values: dict[str, Any]) -> dict[str, Any]:
    """The route as stored; ValidationError with field-keyed messages when it is not valid."""
    return RouteSchema().load({k: v for k, v in values.items() if v not in (None, "")})


def save_route(session: Session, shop: Shop, route: dict[str, Any]) -> ShopSmsSettings:
    return session.merge(ShopSmsSettings(shop_id=shop.id, **route))


def current_route(session: Session, shop: Shop) -> ShopSmsSettings | None:
    return session.get(ShopSmsSettings, shop.id)
