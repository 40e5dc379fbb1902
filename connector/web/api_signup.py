"""REST API v1: growing the SMS list — the shop's sign-up keywords, page, pop-up snippet, legal
texts and QR codes.

Keywords are checked when saved: one colliding with an opt-out, opt-in, confirmation or help word,
or with an answer a conversation flow expects, is refused with the reason (keyed by position).
QR codes (PNG or SVG) lead to the hosted sign-up page or open a text to the shop's number with a
keyword already typed (`sms:` link).
"""

from __future__ import annotations

from typing import Any

from flask import Response
from marshmallow import RAISE, Schema, fields, validate

from automations import signup
from automations.models import Shop
from automations.signup_texts import LEGAL_TEXTS, legal
from connector.services import signup_links
from connector.web import rt
from connector.web.rest import (
    SHOP_FIELD,
    ApiError,
    ShopQuery,
    api_blueprint,
    request_shop,
)

bp = api_blueprint("signup", "Growing the SMS list: keywords, sign-up page and pop-up, QR codes")


class LegalSchema(Schema):
    text = fields.String(required=True)
    version = fields.String(required=True)


class SignupSettingsSchema(Schema):
    keywords = fields.List(fields.String(), required=True)
    keyword_links = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                                metadata={"description": "an sms: link per keyword"})
    sms_number = fields.String(allow_none=True)
    page_url = fields.String(required=True, metadata={"description": "the hosted sign-up page"})
    embed_snippet = fields.String(required=True, metadata={"description": "to paste into the theme"})
    legal = fields.Dict(keys=fields.String(), values=fields.Nested(LegalSchema), required=True)
    welcome_code = fields.Dict(allow_none=True, metadata={"description": "unique welcome codes: "
                                                          "percentage, prefix, days (None: off)"})
    price_drop_share = fields.Float(required=True)


class WelcomeCodeSchema(Schema):
    class Meta:
        unknown = RAISE

    percentage = fields.Float(required=True, validate=validate.Range(min=1, max=100))
    prefix = fields.String(load_default="BIENVENUE", validate=validate.Regexp(
        r"^[A-Z0-9]{1,20}$", error="1 to 20 capital letters or digits"))
    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=365))


class LegalTextsSchema(Schema):
    class Meta:
        unknown = RAISE

    fr = fields.String(validate=validate.Length(min=20, max=1000))
    en = fields.String(validate=validate.Length(min=20, max=1000))
    version = fields.String(required=True, validate=validate.Length(min=1, max=32))


class SignupChanges(Schema):
    """Only what changes; `null` turns welcome codes off or brings back the default texts or share."""

    class Meta:
        unknown = RAISE

    shop = fields.String(metadata=SHOP_FIELD)
    keywords = fields.List(fields.String(validate=validate.Length(min=1, max=32)),
                           validate=validate.Length(min=1, max=20))
    welcome_code = fields.Nested(WelcomeCodeSchema, allow_none=True)
    legal = fields.Nested(LegalTextsSchema, allow_none=True)
    price_drop_share = fields.Float(allow_none=True, validate=validate.Range(min=0.01, max=0.9),
                                    metadata={"description": "price fall that triggers alerts (0.1: 10 %)"})


class QrArgs(ShopQuery):
    target = fields.String(load_default="page", validate=validate.OneOf(("page", "keyword")),
                           metadata={"description": "the sign-up page, or a text with a keyword"})
    keyword = fields.String(validate=validate.Length(min=1, max=32),
                            metadata={"description": "one of the shop's keywords (target=keyword)"})
    format = fields.String(load_default="png", validate=validate.OneOf(tuple(signup_links.FORMATS)))
    scale = fields.Integer(load_default=8, validate=validate.Range(min=1, max=40),
                           metadata={"description": "pixels per module"})


_IMAGE = {"schema": {"type": "string", "format": "binary"}}


def settings_of(shop: Shop) -> dict[str, Any]:
    public = rt().config.public_url
    words = signup.shop_keywords(shop)
    return {
        "keywords": words, "sms_number": shop.sms_number,
        "keyword_links": {w: signup_links.keyword_link(shop, w) for w in words} if shop.sms_number else {},
        "page_url": signup_links.page_url(public, shop),
        "embed_snippet": signup_links.embed_snippet(public, shop),
        "legal": {lang: dict(zip(("text", "version"), legal(shop, lang), strict=True)) for lang in LEGAL_TEXTS},
        "welcome_code": ((shop.settings or {}).get("signup") or {}).get("welcome_code"),
        "price_drop_share": ((shop.settings or {}).get("signup") or {}).get("price_drop_share") or 0.1,
    }


@bp.get("/signup")
@bp.arguments(ShopQuery, location="query")
@bp.response(200, SignupSettingsSchema)
def show_signup(_args: dict[str, Any]):  # noqa: ANN201
    """The shop's keywords, sign-up page, pop-up snippet and legal texts."""
    with rt().db.session() as session:
        return settings_of(request_shop(session))


@bp.patch("/signup")
@bp.arguments(SignupChanges)
@bp.response(200, SignupSettingsSchema)
def change_signup(body: dict[str, Any]):  # noqa: ANN201
    """Change keywords, welcome codes, legal texts (with a new version) or the price-drop share."""
    with rt().db.transaction() as session:
        shop = request_shop(session)
        if "keywords" in body:
            try:
                signup.save_keywords(shop, body["keywords"])
            except signup.KeywordsRefused as refused:
                raise ApiError(400, {"keywords": refused.errors},
                               message="some keywords cannot be used") from None
        changes = {k: v for k, v in body.items() if k not in ("shop", "keywords")}
        current = {**((shop.settings or {}).get("signup") or {}), **changes}
        shop.settings = {**(shop.settings or {}), "signup": {k: v for k, v in current.items() if v is not None}}
        return settings_of(shop)


@bp.get("/signup/qr")
@bp.arguments(QrArgs, location="query")
@bp.doc(responses={"200": {"description": "the QR code as a file",
                           "content": {"image/png": _IMAGE, "image/svg+xml": _IMAGE}}})
def qr_code(args: dict[str, Any]) -> Response:
    """A QR code to print: the sign-up page, or a text to the shop's number with a keyword."""
    with rt().db.session() as session:
        shop = request_shop(session)
        if args["target"] == "keyword":
            words = {signup.keywords.phrase(w): w for w in signup.shop_keywords(shop)}
            chosen = words.get(signup.keywords.phrase(args.get("keyword")))
            if chosen is None:
                raise ApiError(400, {"keyword": [f"one of the shop's keywords: {', '.join(words.values())}"]})
            if not shop.sms_number:
                raise ApiError(409, {"shop": ["the shop has no SMS number yet"]})
            data, name = signup_links.keyword_link(shop, chosen), chosen.lower()
        else:
            data, name = signup_links.page_url(rt().config.public_url, shop), "page"
    fmt = args["format"]
    body = signup_links.qr_code(data, fmt, args["scale"])
    return Response(body, mimetype=signup_links.FORMATS[fmt], headers={
        "Content-Disposition": f'attachment; filename="sms-signup-{name}.{fmt}"'})
