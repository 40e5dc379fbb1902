"""Schemas every part of the API shares: naming the shop (for the operator token)."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validate

SHOP_FIELD = {"description": "the shop's domain: required with the operator token, optional with a shop key"}
MAX_ID = 2**31 - 1  # ids are the database's 32-bit integers


def IdField(**kwargs: Any) -> fields.Integer:  # noqa: N802 - reads as a field class
    """An id in a query or a body: 1 to 2³¹−1, else the field is invalid (never a database error)."""
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class ShopQuery(Schema):
    """The query of an endpoint that takes nothing but the shop."""

    shop = fields.String(metadata=SHOP_FIELD)


class ShopBody(Schema):
    """The JSON body of a POST that takes nothing but the shop (it may be left out)."""

    class Meta:
        unknown = RAISE

    shop = fields.String(metadata=SHOP_FIELD)
