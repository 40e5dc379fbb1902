"""REST API v1: a shop's API keys (create, list, revoke).

Who may: the operator token (naming the shop), or a read-write key of the shop itself (a key can
make another key of its own shop, never of another one, and never more than read-write). A read
key cannot manage keys, not even list them. The whole key is in the answer to its creation only;
afterwards a key is known by its prefix.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from marshmallow import RAISE, Schema, fields, validate

from automations.models import ApiKey
from connector.services import api_keys as keys
from connector.web import rt
from connector.web.rest import (
    SHOP_FIELD,
    ApiError,
    PageArgs,
    ShopQuery,
    api_blueprint,
    caller,
    idempotent,
    page_schema,
    paginate,
    request_shop,
    write_scope,
)

bp = api_blueprint("api-keys", "A shop's API keys: read or read-write, that shop only")


class KeyBody(Schema):
    class Meta:
        unknown = RAISE

    shop = fields.String(metadata=SHOP_FIELD)
    name = fields.String(required=True, validate=validate.Length(min=1, max=255),
                         metadata={"description": "who or what uses the key", "example": "ERP sync"})
    scope = fields.String(required=True, validate=validate.OneOf(keys.SCOPES))


class KeySchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    prefix = fields.String(required=True, metadata={"description": "how the key begins: plk_ and 8 characters"})
    scope = fields.String(required=True, validate=validate.OneOf(keys.SCOPES))
    created_by = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(allow_none=True, metadata={"description": "to the minute"})
    revoked_at = fields.DateTime(allow_none=True)


class NewKeySchema(KeySchema):
    key = fields.String(required=True, metadata={"description": "the whole key: shown this once only"})


class KeyListArgs(PageArgs):
    revoked = fields.Boolean(metadata={"description": "true: only revoked keys; false: only live ones"})


def _refused(exc: keys.ApiKeyError) -> ApiError:
    return ApiError(exc.status, exc.messages)


@bp.post("/api-keys")
@write_scope
@bp.arguments(KeyBody)
@idempotent
@bp.response(201, NewKeySchema)
def create_key(body: dict[str, Any]):  # noqa: ANN201
    with rt().db.transaction() as session:
        shop = request_shop(session)
        try:
            made = keys.create_key(session, shop, body["name"], body["scope"], caller().name)
        except keys.ApiKeyError as exc:
            raise _refused(exc) from exc
        return {**keys.key_json(made.key), "key": made.secret}


@bp.get("/api-keys")
@write_scope
@bp.arguments(KeyListArgs, location="query")
@bp.response(200, page_schema(KeySchema))
def list_keys(args: dict[str, Any]):  # noqa: ANN201
    with rt().db.session() as session:
        shop = request_shop(session)
        query = sa.select(ApiKey).where(ApiKey.shop_id == shop.id)
        if args.get("revoked") is not None:
            query = query.where(ApiKey.revoked_at.is_not(None) if args["revoked"] else ApiKey.revoked_at.is_(None))
        return paginate(session, query, ApiKey.id, args)


@bp.get("/api-keys/<id:key_id>")
@write_scope
@bp.arguments(ShopQuery, location="query")
@bp.response(200, KeySchema)
def show_key(_args: dict[str, Any], key_id: int):  # noqa: ANN201
    with rt().db.session() as session:
        shop = request_shop(session)
        key = session.scalar(sa.select(ApiKey).where(ApiKey.id == key_id, ApiKey.shop_id == shop.id))
        if key is None:
            raise ApiError(404, {"key": [f"no API key {key_id} in this shop"]})
        return key


@bp.delete("/api-keys/<id:key_id>")
@bp.arguments(ShopQuery, location="query")
@bp.response(200, KeySchema)
def revoke_key(_args: dict[str, Any], key_id: int):  # noqa: ANN201
    """Revoke at once: the next request with the key is refused (401). A key may revoke itself."""
    with rt().db.transaction() as session:
        shop = request_shop(session)
        try:
            return keys.revoke_key(session, shop, key_id)
        except keys.ApiKeyError as exc:
            raise _refused(exc) from exc
