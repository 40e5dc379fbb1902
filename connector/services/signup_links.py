"""Where people join a shop's SMS list, as links and QR codes (PNG or SVG, made with segno):
the hosted sign-up page, and an `sms:` link that opens a text to the shop's number with the
keyword already typed."""

from __future__ import annotations

import io
from urllib.parse import quote

import segno

from automations.models import Shop

FORMATS = {"png": "image/png", "svg": "image/svg+xml"}


def page_url(public_url: str, shop: Shop, variant: str | None = None) -> str:
    url = f"{public_url.rstrip('/')}/join/{shop.domain}"
    return f"{url}?variant={quote(variant)}" if variant else url


def embed_snippet(public_url: str, shop: Shop) -> str:
    return (f'<script src="{page_url(public_url, shop)}/embed.js" async></script>\n'
            "<div data-parlons-signup></div>")


def keyword_link(shop: Shop, keyword: str) -> str:
    """`sms:` link (RFC 5724) to the shop's number with the keyword as the body."""
    return f"sms:{shop.sms_number}?body={quote(keyword)}"


def qr_code(data: str, fmt: str, scale: int = 8) -> bytes:
    """The QR code of `data` as PNG or SVG bytes (error correction M, a quiet zone of 4)."""
    code = segno.make_qr(data, error="m")
    out = io.BytesIO()
    code.save(out, kind=fmt, scale=scale, border=4)
    return out.getvalue()
