"""Inside Shopify admin: the page loads App Bridge from Shopify's CDN, and every link and form
carries a fresh session token from `shopify.idToken()`, which the server verifies.

Shopify's CDN is not reachable from the tests: its URL is answered with a stand-in that offers
App Bridge's `shopify.idToken()` (a session token signed as Shopify signs them)."""

from __future__ import annotations

import time

import jwt

from tests.browser.conftest import SHOP, Merchant
from tests.connector.test_session_token import KEY, SECRET

APP_BRIDGE = "https://cdn.shopify.com/shopifycloud/app-bridge.js"


def session_token() -> str:
    now = int(time.time())
    return jwt.encode({"iss": f"https://{SHOP}/admin", "dest": f"https://{SHOP}", "aud": KEY, "sub": "42",
                       "exp": now + 60, "nbf": now - 5, "iat": now - 5, "jti": str(now), "sid": "session-1"},
                      SECRET, algorithm="HS256")


def test_inside_shopify_admin_each_page_and_form_gets_a_fresh_session_token(live, chromium):
    live.runtime.config.shopify_api_key, live.runtime.config.shopify_api_secret = KEY, SECRET
    context = chromium.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    merchant = Merchant(page, live.url)
    issued: list[str] = []

    def app_bridge(route):  # noqa: ANN001, ANN202
        issued.append(session_token())
        route.fulfill(content_type="text/javascript", body=(
            "window.shopify = {idToken: async () => (await fetch('/__token__')).text()};"))

    def token_route(route):  # noqa: ANN001, ANN202
        issued.append(session_token())
        route.fulfill(content_type="text/plain", body=issued[-1])

    page.route(APP_BRIDGE, app_bridge)
    page.route(f"{live.url}/__token__", token_route)
    # opened from Shopify admin with a session token, as /auth/shopify sends an installed shop on
    answer = page.goto(f"{live.url}/admin?id_token={session_token()}&shop={SHOP}")
    assert f"frame-ancestors https://{SHOP} https://admin.shopify.com" in answer.headers["content-security-policy"]
    assert page.locator("body.embedded").count() == 1
    assert page.locator("header.topbar").count() == 0  # Shopify admin shows the shop and the menu
    # a link: the next page is opened with a fresh token
    page.goto(f"{live.url}/admin/flows?id_token={session_token()}")
    page.get_by_role("link", name="Panier abandonné").click()
    page.wait_for_url("**/admin/flows/*?id_token=*")
    assert page.get_by_role("heading", name="Panier abandonné").is_visible()
    # a form: posted with a fresh token and the form's CSRF token of this Shopify session
    page.get_by_role("button", name="Activer").click()
    page.get_by_role("button", name="Désactiver").wait_for()  # the flow's page again, the flow on
    assert "id_token=" in page.url
    assert page.get_by_role("status").inner_text() == "« Panier abandonné » est activée."
    merchant.shot("embedded")
    context.close()
    assert len(issued) >= 3
    assert merchant.problems == []
