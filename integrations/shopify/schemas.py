"""Shapes of the Shopify webhook payloads we act on (API 2026-01), and what Shopify's values mean.

Strict about what we key on or act on (gids, tokens, names, dates, line items, totals,
tracking); lenient about the rest (`unknown=EXCLUDE`, optional fields allow null). Numeric IDs
may have been rounded through a float by whoever relayed the JSON, so we key on
`admin_graphql_api_id`, `token` and `checkout_token`; since 2026-04 checkouts carry no `id` and
orders no `checkout_id`. A phone is any string: it is kept raw and normalised later.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from automations.events import NOT_SUBSCRIBED, PENDING, SUBSCRIBED, UNSUBSCRIBED, ConsentData

GID_RE = re.compile(r"^gid://shopify/(?P<type>[A-Za-z]+)/(?P<id>\d+)$")


class Gid(fields.String):
    """A Shopify global id of one type, e.g. `gid://shopify/Order/123`."""

    def __init__(self, gid_type: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gid_type = gid_type

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        match = GID_RE.match(text)
        if not match or match["type"] != self.gid_type:
            raise ValidationError(f"Not a gid://shopify/{self.gid_type}/<id>.")
        return text


class Money(fields.Field):
    """A decimal amount given as a string (or number); kept as a canonical string."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValidationError("Not a decimal amount.")
        try:
            amount = Decimal(str(value))
        except InvalidOperation as exc:
            raise ValidationError("Not a decimal amount.") from exc
        if not amount.is_finite():
            raise ValidationError("Not a decimal amount.")
        return str(amount)


def _str(**kwargs: Any) -> fields.String:
    return fields.String(load_default=None, allow_none=True, **kwargs)


def _date() -> fields.DateTime:
    return fields.DateTime(load_default=None, allow_none=True)


def _nested(schema: type[Schema], many: bool = False) -> fields.Field:
    if many:
        return fields.List(fields.Nested(schema), load_default=list, allow_none=True)
    return fields.Nested(schema, load_default=None, allow_none=True)


class Lenient(Schema):
    class Meta:
        unknown = EXCLUDE


class AddressSchema(Lenient):
    first_name = _str()
    last_name = _str()
    phone = _str()
    country_code = _str(validate=validate.Length(equal=2))


class CustomerRefSchema(Lenient):
    """A customer as embedded in a checkout or an order."""

    admin_graphql_api_id = Gid("Customer", load_default=None, allow_none=True)
    email = _str()
    phone = _str()
    first_name = _str()
    last_name = _str()
    default_address = _nested(AddressSchema)


class LineItemSchema(Lenient):
    title = fields.String(required=True)
    quantity = fields.Integer(required=True, validate=validate.Range(min=0))
    price = Money(load_default=None, allow_none=True)
    product_id = fields.Integer(load_default=None, allow_none=True)
    variant_title = _str()
    sku = _str()


class CheckoutSchema(Lenient):
    token = fields.String(required=True, validate=validate.Length(min=1))
    created_at = _date()
    updated_at = _date()
    completed_at = _date()
    email = _str()
    phone = _str()
    sms_marketing_phone = _str()
    buyer_accepts_sms_marketing = fields.Boolean(load_default=None, allow_none=True)
    customer_locale = _str()
    currency = _str(validate=validate.Length(equal=3))
    total_price = Money(load_default=None, allow_none=True)
    abandoned_checkout_url = fields.Url(
        load_default=None, allow_none=True, require_tld=False, schemes={"http", "https"}
    )
    line_items = _nested(LineItemSchema, many=True)
    billing_address = _nested(AddressSchema)
    shipping_address = _nested(AddressSchema)
    customer = _nested(CustomerRefSchema)


class CheckoutDeleteSchema(Lenient):
    """Deleted checkouts say little: nothing here is required."""

    token = _str()
    cart_token = _str()


class DiscountCodeSchema(Lenient):
    code = fields.String(required=True)


class OrderSchema(Lenient):
    admin_graphql_api_id = Gid("Order", required=True)
    name = fields.String(required=True, validate=validate.Length(min=1))
    token = _str()
    checkout_token = _str()
    email = _str()
    contact_email = _str()
    phone = _str()
    customer_locale = _str()
    currency = _str(validate=validate.Length(equal=3))
    total_price = Money(load_default=None, allow_none=True)
    financial_status = _str()
    fulfillment_status = _str()
    cancel_reason = _str()
    order_status_url = _str()
    created_at = _date()
    updated_at = _date()
    processed_at = _date()
    cancelled_at = _date()
    line_items = _nested(LineItemSchema, many=True)
    billing_address = _nested(AddressSchema)
    shipping_address = _nested(AddressSchema)
    customer = _nested(CustomerRefSchema)
    discount_codes = _nested(DiscountCodeSchema, many=True)


class FulfillmentSchema(Lenient):
    admin_graphql_api_id = Gid("Fulfillment", required=True)
    order_id = fields.Integer(load_default=None, allow_none=True)
    name = _str()
    status = _str()
    shipment_status = _str()
    tracking_company = _str()
    tracking_number = _str()
    tracking_numbers = fields.List(fields.String(), load_default=list, allow_none=True)
    tracking_url = _str()
    tracking_urls = fields.List(fields.String(), load_default=list, allow_none=True)
    email = _str()
    destination = _nested(AddressSchema)
    line_items = _nested(LineItemSchema, many=True)
    created_at = _date()
    updated_at = _date()


class CustomerSchema(Lenient):
    admin_graphql_api_id = Gid("Customer", required=True)
    email = _str()
    phone = _str()
    first_name = _str()
    last_name = _str()
    locale = _str()
    state = _str()
    tags = _str()
    default_address = _nested(AddressSchema)
    created_at = _date()
    updated_at = _date()


class CustomerDeleteSchema(Lenient):
    admin_graphql_api_id = Gid("Customer", required=True)


SMS_CONSENT_STATES = ("subscribed", "unsubscribed", "pending", "not_subscribed", "redacted", "invalid")


class SmsConsentSchema(Lenient):
    state = _str(validate=validate.OneOf(SMS_CONSENT_STATES))
    opt_in_level = _str()
    consent_updated_at = _date()
    consent_collected_from = _str()


class MarketingConsentSchema(Lenient):
    """customers_marketing_consent/update: the customer is named by numeric id (gid if given)."""

    id = fields.Integer(load_default=None, allow_none=True, strict=True)
    admin_graphql_api_id = Gid("Customer", load_default=None, allow_none=True)
    phone = _str()
    sms_marketing_consent = _nested(SmsConsentSchema)

    @validates_schema
    def _names_a_customer(self, data: dict, **kwargs: Any) -> None:
        if data.get("id") is None and not data.get("admin_graphql_api_id"):
            raise ValidationError("Missing data for required field.", "id")


class ShopSchema(Lenient):
    id = fields.Integer(load_default=None, allow_none=True)
    name = _str()
    email = _str()
    domain = _str()
    myshopify_domain = _str()


class ComplianceCustomerSchema(Lenient):
    id = fields.Integer(required=True, strict=True)
    email = _str()
    phone = _str()


class DataRequestIdSchema(Lenient):
    id = fields.Integer(load_default=None, allow_none=True)


class DataRequestSchema(Lenient):
    shop_id = fields.Integer(required=True)
    shop_domain = fields.String(required=True)
    customer = fields.Nested(ComplianceCustomerSchema, required=True)
    orders_requested = fields.List(fields.Integer(), load_default=list, allow_none=True)
    data_request = _nested(DataRequestIdSchema)


class CustomerRedactSchema(Lenient):
    shop_id = fields.Integer(required=True)
    shop_domain = fields.String(required=True)
    customer = fields.Nested(ComplianceCustomerSchema, required=True)
    orders_to_redact = fields.List(fields.Integer(), load_default=list, allow_none=True)


class ShopRedactSchema(Lenient):
    shop_id = fields.Integer(required=True)
    shop_domain = fields.String(required=True)


# Webhook topic -> the schema its payload must satisfy.
TOPIC_SCHEMAS: dict[str, type[Schema]] = {
    "checkouts/create": CheckoutSchema,
    "checkouts/update": CheckoutSchema,
    "checkouts/delete": CheckoutDeleteSchema,
    "orders/create": OrderSchema,
    "orders/paid": OrderSchema,
    "orders/cancelled": OrderSchema,
    "orders/fulfilled": OrderSchema,
    "orders/updated": OrderSchema,
    "orders/partially_fulfilled": OrderSchema,
    "fulfillments/create": FulfillmentSchema,
    "fulfillments/update": FulfillmentSchema,
    "customers/create": CustomerSchema,
    "customers/update": CustomerSchema,
    "customers/delete": CustomerDeleteSchema,
    "customers_marketing_consent/update": MarketingConsentSchema,
    "app/uninstalled": ShopSchema,
    "customers/data_request": DataRequestSchema,
    "customers/redact": CustomerRedactSchema,
    "shop/redact": ShopRedactSchema,
}

# Shopify's SMS marketing states (webhook lower case, GraphQL upper case) -> our consent states.
_SMS_STATE_TO_CONSENT = {
    "subscribed": SUBSCRIBED,
    "unsubscribed": UNSUBSCRIBED,
    "pending": PENDING,
    "not_subscribed": NOT_SUBSCRIBED,
    "redacted": NOT_SUBSCRIBED,
    "invalid": NOT_SUBSCRIBED,
}


def sms_consent(
    state: str | None,
    *,
    opt_in_level: str | None = None,
    consent_updated_at: datetime | None = None,
    collected_from: str | None = None,
) -> ConsentData:
    """Shopify's SMS marketing consent as our ConsentData; no state at all means not subscribed."""
    status = _SMS_STATE_TO_CONSENT.get((state or "").lower(), NOT_SUBSCRIBED)
    return ConsentData(
        status=status,
        source="shopify",
        occurred_at=consent_updated_at,
        evidence={
            "consent_collected_from": collected_from,
            "opt_in_level": opt_in_level,
            "consent_updated_at": consent_updated_at.isoformat() if consent_updated_at else None,
            "state": state,
        },
    )
