"""What a message would look like, cost and when it would leave: one function behind
`parlons preview` and `POST /api/v1/messages/preview`, so both always agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from marshmallow import INCLUDE, Schema, ValidationError, fields, validates_schema

from automations.compose import compose
from automations.links import new_code
from automations.models import Shop
from automations.policy import ShopPolicy
from connector.runtime import Runtime


class PreviewRequest(Schema):
    class Meta:
        unknown = INCLUDE

    text = fields.String(required=True)
    to = fields.String(load_default=None, allow_none=True)
    at = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=UTC)
    marketing = fields.Boolean(load_default=True)
    shop = fields.String(load_default=None, allow_none=True)
    raw = fields.Boolean(load_default=False)
    smart = fields.Boolean(load_default=None, allow_none=True)
    locale = fields.String(load_default=None, allow_none=True)

    @validates_schema
    def _no_unknown(self, data: dict[str, Any], **_: Any) -> None:
        unknown = set(data) - set(self.fields)
        if unknown:
            raise ValidationError({k: ["Unknown field."] for k in sorted(unknown)})


class PreviewError(ValueError):
    def __init__(self, messages: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in messages.items()))
        self.messages = messages


def shop_policy(runtime: Runtime, domain: str | None) -> ShopPolicy:
    if not domain:
        return ShopPolicy(public_url=runtime.config.public_url)
    from automations.shops import policy_for

    with runtime.db.session() as session:
        shop = session.scalar(sa.select(Shop).where(Shop.domain == domain))
        if shop is None:
            raise PreviewError({"shop": [f"no shop {domain!r} is installed"]})
        policy = policy_for(shop)
        policy.public_url = policy.public_url or runtime.config.public_url
        return policy


def preview(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    try:
        req = PreviewRequest().load(params)
    except ValidationError as exc:
        raise PreviewError(exc.messages) from exc  # type: ignore[arg-type]
    policy = shop_policy(runtime, req["shop"])
    public = policy.public_url or runtime.config.public_url

    def shorten(_url: str) -> str:  # the length a real short link will have; nothing stored
        return f"{public.rstrip('/')}/l/{new_code()}"

    try:
        result = compose(
            req["text"], policy=policy, to=req["to"], at=req["at"] or datetime.now(UTC),
            marketing=req["marketing"], raw=req["raw"], smart=req["smart"], locale=req["locale"],
            shorten=shorten,
        )
    except ValueError as exc:
        raise PreviewError({"to": [str(exc)]}) from exc
    return result.to_json()
