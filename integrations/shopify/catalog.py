"""Catalogue webhooks (`products/create`, `products/update`, `inventory_levels/update`): payload
-> our own plain records, for back-in-stock and price-drop alerts.

They are not engine events: the worker hands them to `automations.catalog_alerts`. A variant is
known by its gid; a stock level names only its inventory item (the variant's `inventory_item_id`).
A body missing what is needed raises PayloadError, keyed by field.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields

from automations.catalog_alerts import StockLevel, VariantData
from integrations.shopify.schemas import Gid, Lenient, Money, _date, _nested, _str
from integrations.shopify.webhooks import CATALOG_TOPICS as TOPICS
from integrations.shopify.webhooks import PayloadError


class VariantSchema(Lenient):
    admin_graphql_api_id = Gid("ProductVariant", required=True)
    title = _str()
    price = Money(load_default=None, allow_none=True)
    inventory_item_id = fields.Integer(load_default=None, allow_none=True)
    inventory_quantity = fields.Integer(load_default=None, allow_none=True)


class ProductSchema(Lenient):
    admin_graphql_api_id = Gid("Product", required=True)
    title = fields.String(required=True)
    handle = _str()
    status = _str()
    updated_at = _date()
    variants = _nested(VariantSchema, many=True)


class InventoryLevelSchema(Lenient):
    inventory_item_id = fields.Integer(required=True)
    location_id = fields.Integer(load_default=None, allow_none=True)
    available = fields.Integer(load_default=None, allow_none=True)
    updated_at = _date()


def parse(topic: str, payload: Any) -> list[VariantData] | StockLevel:
    """The variants a products webhook describes, or the stock level an inventory one gives."""
    if topic not in TOPICS:
        raise ValueError(f"not a catalogue topic: {topic!r}")
    if not isinstance(payload, dict):
        raise PayloadError(topic, {"_schema": ["Payload is not a JSON object."]})
    try:
        if topic == "inventory_levels/update":
            body = InventoryLevelSchema().load(payload)
            return StockLevel(inventory_item_id=_item(body["inventory_item_id"]), available=body["available"],
                              location_id=body["location_id"])
        body = ProductSchema().load(payload)
    except ValidationError as exc:
        raise PayloadError(topic, exc.messages_dict) from exc
    return [
        VariantData(
            product_id=body["admin_graphql_api_id"], variant_id=v["admin_graphql_api_id"],
            product_title=body["title"], variant_title=v.get("title"), handle=body.get("handle"),
            price=v.get("price"), inventory_item_id=_item(v.get("inventory_item_id")),
            available=v.get("inventory_quantity"), active=(body.get("status") or "active") == "active",
        )
        for v in body.get("variants") or []
    ]


def _item(numeric: int | None) -> str | None:
    return f"gid://shopify/InventoryItem/{numeric}" if numeric is not None else None
