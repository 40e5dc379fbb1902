"""Admin: growing the list. The shop's sign-up page and the snippet that embeds its form, its
keywords with the text-to-join link of each, and their QR codes to download (PNG to print, SVG to
scale). Keywords and legal texts are changed through `PATCH /api/v1/signup`, which checks them."""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, render_template, request

from automations import signup
from connector.services import signup_links
from connector.web import rt
from connector.web.admin_auth import admin_required

bp = Blueprint("admin_signup", __name__, url_prefix="/admin/settings/signup")


@bp.get("")
@admin_required
def page():
    public_url = rt().config.public_url
    words = signup.shop_keywords(g.shop)
    links = {w: signup_links.keyword_link(g.shop, w) for w in words} if g.shop.sms_number else {}
    return render_template("admin_signup.html", shop=g.shop, page_url=signup_links.page_url(public_url, g.shop),
                           snippet=signup_links.embed_snippet(public_url, g.shop), keywords=words, links=links)


@bp.get("/qr.<fmt>")
@admin_required
def qr(fmt: str) -> Response:
    """The page's QR code, or a keyword's (`?keyword=`), as a file to download."""
    if fmt not in signup_links.FORMATS:
        abort(404)
    keyword = request.args.get("keyword")
    if keyword is None:
        data, name = signup_links.page_url(rt().config.public_url, g.shop), "page"
    else:
        if keyword not in signup.shop_keywords(g.shop) or not g.shop.sms_number:
            abort(404)
        data, name = signup_links.keyword_link(g.shop, keyword), keyword.lower()
    return Response(signup_links.qr_code(data, fmt), mimetype=signup_links.FORMATS[fmt], headers={
        "Content-Disposition": f'attachment; filename="sms-signup-{name}.{fmt}"'})
