"""Small helpers shared by connector tests: signing and posting Shopify deliveries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

from automations.models import Shop

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify" / "2026-01"
SHOP = "parlons-test.myshopify.com"


def topic_of(path: Path) -> str:
    return path.stem.replace("__", "/")


def sign(raw: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def shopify_headers(raw: bytes, topic: str, secret: str, *, shop: str = SHOP, webhook_id: str | None = None,
                    event_id: str | None = None) -> dict:
    return {
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(raw, secret),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-API-Version": "2026-01",
        "Content-Type": "application/json",
    }


def post_shopify(client, raw: bytes, topic: str, secret: str, **kw):
    return client.post("/webhooks/shopify", data=raw, headers=shopify_headers(raw, topic, secret, **kw))


def make_shop(db, domain: str = SHOP, **fields) -> int:
    with db.transaction() as session:
        shop = Shop(domain=domain, name="Boutique Test", **fields)
        session.add(shop)
        session.flush()
        return shop.id


def count(db, model, *where) -> int:
    with db.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _text(answer) -> str:  # noqa: ANN001 - a Flask test response or a requests response
    return answer.text if hasattr(answer, "ok") else answer.get_data(as_text=True)


def form_token(page: str, action: str) -> str:
    """The CSRF token of the admin form of `page` that posts to `action` (path, query ignored)."""
    for form in re.finditer(r'<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>', page, re.S):
        if html.unescape(form.group(1)).split("?")[0].endswith(action):
            found = re.search(r'name="csrf_token" value="([^"]+)"', form.group(2))
            if found:
                return html.unescape(found.group(1))
    raise AssertionError(f"no form posting to {action} on the page")


def post_form(http, page_url: str, action: str, data: dict | None = None, **kw):  # noqa: ANN001, ANN201
    """Open `page_url` as a merchant would, then post its form to `action` with the page's token."""
    path = urlsplit(action).path
    token = form_token(_text(http.get(page_url)), path)
    return http.post(action, data={**(data or {}), "csrf_token": token}, **kw)


def sign_in(http, shop: str, token: str, base: str = "", **kw):  # noqa: ANN001, ANN201
    """Sign in to the admin through its form (a Flask test client or a requests session)."""
    return post_form(http, f"{base}/admin/login", f"{base}/admin/login", {"token": token, "shop": shop}, **kw)


def form_token_for(app, http, action: str) -> str:  # noqa: ANN001
    """A valid CSRF token of this signed-in browser for `action`, as a form the page does not
    offer would carry (to check the route's own refusal)."""
    from flask import session

    from connector.web.admin_security import csrf_token

    cookie = http.cookies.get(app.config.get("SESSION_COOKIE_NAME", "session"))
    data = app.session_interface.get_signing_serializer(app).loads(cookie)
    with app.test_request_context():
        session.update(data)
        return csrf_token(action)
