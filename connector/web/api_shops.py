"""REST API v1: the shop — what Parlons knows of it, and its settings.

`GET /shop` is the caller's shop (a key's own, or the one the operator names); `GET /shops` lists
every shop for the operator and only its own for a key. `PATCH /shop/settings` changes the
settings given and keeps the others; they are checked as the sending policy reads them (send
windows never wider than the law's, caps, footers, prices…): a bad one is 400 naming it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from marshmallow import INCLUDE, Schema, fields

from automations.models import Shop
from automations.policy import ShopPolicy
from connector.web import rt
from connector.web.rest import (
    ApiError,
    PageArgs,
    ShopQuery,
    api_blueprint,
    caller,
    page_schema,
    paginate,
    request_shop,
)
from connector.web.rest.auth import named_shop

bp = api_blueprint("shops", "The shop and its settings")

# Settings read elsewhere than the sending policy, with what each must be.
OTHER_SETTINGS: dict[str, tuple[type, ...]] = {
    "help_text": (str,), "support_contact": (str,), "shop_url": (str,), "review_url": (str,),
    "handoff_pause_hours": (int, float), "hubspot_create_contacts": (bool,), "webhook_url": (str,),
    "webhook_secret": (str,), "attribution_click_days": (int,), "attribution_receipt_days": (int,),
}
WRITE_ONLY = ("webhook_secret",)
POLICY_SETTINGS = set(ShopPolicy().to_settings())


class ShopSchema(Schema):
    id = fields.Integer(required=True)
    domain = fields.String(required=True)
    name = fields.String(allow_none=True)
    currency = fields.String(allow_none=True)
    timezone = fields.String(required=True)
    country = fields.String(allow_none=True)
    locale = fields.String(required=True)
    default_region = fields.String(required=True)
    sms_number = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={"description": "active, uninstalled or redacted"})
    installed_at = fields.DateTime(allow_none=True)
    uninstalled_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)
    settings = fields.Method("visible_settings", required=True,
                             metadata={"description": "the sending policy in force, and the other settings"})

    def visible_settings(self, shop: Shop) -> dict[str, Any]:
        stored = shop.settings or {}
        try:
            policy = ShopPolicy.from_settings(stored).to_settings()
        except ValueError:
            policy = {}
        others = {k: v for k, v in stored.items() if k in OTHER_SETTINGS and k not in WRITE_ONLY}
        return {**policy, **others, **{f"{k}_set": bool(stored.get(k)) for k in WRITE_ONLY}}


class SettingsBody(Schema):
    """Only the settings to change; `null` removes one (its default applies again)."""

    class Meta:
        unknown = INCLUDE

    shop = fields.String(metadata={"description": "the shop's domain (operator token only)"})
    marketing_cap_24h = fields.Integer(allow_none=True, strict=True)
    marketing_cap_7d = fields.Integer(allow_none=True, strict=True)
    smart_encoding = fields.Boolean(truthy={True}, falsy={False})
    sender_name = fields.String(allow_none=True)
    opt_out_footers = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)
    default_window = fields.Dict(allow_none=True)
    window_overrides = fields.Dict(allow_none=True)
    help_text = fields.String(allow_none=True)
    handoff_pause_hours = fields.Float(allow_none=True)


def validated(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The settings after `changes`, or ApiError 400 keyed by the settings that are wrong."""
    errors: dict[str, list[str]] = {}
    merged = dict(current)
    for key, value in changes.items():
        if key not in POLICY_SETTINGS and key not in OTHER_SETTINGS:
            errors[key] = ["unknown setting"]
        elif value is None:
            merged.pop(key, None)
        elif key in OTHER_SETTINGS and (not isinstance(value, OTHER_SETTINGS[key])
                                        or isinstance(value, bool) != (bool in OTHER_SETTINGS[key])):
            errors[key] = [f"must be {' or '.join(t.__name__ for t in OTHER_SETTINGS[key])}"]
        else:
            merged[key] = value
    if not errors:
        try:
            ShopPolicy.from_settings(merged)
        except ValueError as exc:
            text = str(exc)
            name = text.removeprefix("invalid setting ").split(":", 1)[0]
            errors[name if name in merged else "settings"] = [text]
    if errors:
        raise ApiError(400, errors)
    return merged


@bp.get("/shop")
@bp.arguments(ShopQuery, location="query")
@bp.response(200, ShopSchema)
def show_shop(_args: dict[str, Any]):  # noqa: ANN201
    with rt().db.session() as session:
        return request_shop(session)


@bp.get("/shops")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_schema(ShopSchema))
def list_shops(args: dict[str, Any]):  # noqa: ANN201
    """Every installed shop for the operator; a key's own shop for a key."""
    with rt().db.session() as session:
        if caller().operator and named_shop() is None:
            query = sa.select(Shop)
        else:
            query = sa.select(Shop).where(Shop.id == request_shop(session).id)
        return paginate(session, query, Shop.id, args)


@bp.patch("/shop/settings")
@bp.arguments(SettingsBody)
@bp.response(200, ShopSchema)
def change_settings(body: dict[str, Any]):  # noqa: ANN201
    with rt().db.transaction() as session:
        shop = request_shop(session)
        shop.settings = validated(shop.settings or {}, {k: v for k, v in body.items() if k != "shop"})
        return shop
