"""Admin security: every form carries a CSRF token made for this session and this form, signing
in starts a new session, and the pages say who may frame them and how to treat their content."""

from __future__ import annotations

from tests.connector.helpers import SHOP, form_token, make_shop, sign_in
from tests.connector.test_session_token import token as session_token

TOKEN = "test-api-token"


def test_a_form_without_its_token_or_with_another_forms_token_is_refused(app, client):
    make_shop(app.extensions["parlons"].db)
    assert sign_in(client, SHOP, TOKEN).status_code == 302
    page = client.get("/admin").get_data(as_text=True)
    logout_token = form_token(page, "/admin/logout")
    assert client.post("/admin/logout").status_code == 403
    assert client.post("/admin/logout", data={"csrf_token": "forged"}).status_code == 403
    # the sign-out form's token does not open another form
    assert client.post("/admin/contacts/1/erase", data={"csrf_token": logout_token, "confirm": "erase"}).status_code == 403
    # while the right one works
    assert client.post("/admin/logout", data={"csrf_token": logout_token}).status_code == 302


def test_signing_in_starts_a_new_session_that_old_tokens_do_not_open(app, client):
    make_shop(app.extensions["parlons"].db)
    before = form_token(client.get("/admin/login").get_data(as_text=True), "/admin/login")
    cookie_before = client.get_cookie("session").value
    assert client.post("/admin/login", data={"token": TOKEN, "shop": SHOP, "csrf_token": before}).status_code == 302
    assert client.get_cookie("session").value != cookie_before
    # the token of the sign-in page is worthless now: signing in again needs a fresh page
    again = client.post("/admin/login", data={"token": TOKEN, "shop": SHOP, "csrf_token": before})
    assert again.status_code == 403


def test_a_token_from_another_browser_is_refused(app, client):
    make_shop(app.extensions["parlons"].db)
    other = app.test_client()
    sign_in(other, SHOP, TOKEN)
    theirs = form_token(other.get("/admin").get_data(as_text=True), "/admin/logout")
    sign_in(client, SHOP, TOKEN)
    assert client.post("/admin/logout", data={"csrf_token": theirs}).status_code == 403


def test_standalone_pages_cannot_be_framed_and_carry_the_security_headers(app, client):
    make_shop(app.extensions["parlons"].db)
    sign_in(client, SHOP, TOKEN)
    answer = client.get("/admin")
    csp = answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp and "default-src 'self'" in csp
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    assert "cdn.shopify.com" not in answer.get_data(as_text=True)


def test_embedded_pages_may_be_framed_by_the_shops_admin_only_and_load_app_bridge(app, client):
    make_shop(app.extensions["parlons"].db)
    answer = client.get(f"/admin?id_token={session_token()}")
    csp = answer.headers["Content-Security-Policy"]
    assert f"frame-ancestors https://{SHOP} https://admin.shopify.com" in csp
    assert "script-src 'self' https://cdn.shopify.com/shopifycloud/app-bridge.js" in csp
    page = answer.get_data(as_text=True)
    assert '<meta name="shopify-api-key" content="test-shopify-key">' in page
    assert page.index("app-bridge.js") < page.index("admin.js")  # App Bridge is the first script


def test_embedded_forms_carry_a_token_of_the_shopify_session(app, client):
    make_shop(app.extensions["parlons"].db)
    page = client.get(f"/admin/contacts?id_token={session_token()}")
    assert page.status_code == 200
    home = client.get(f"/admin?id_token={session_token()}").get_data(as_text=True)
    assert "/admin/logout" not in home  # inside Shopify admin, Shopify signs the merchant out
    # a form of the Shopify session works with a later session token of the same session
    from connector.web.admin_security import csrf_token

    with app.test_request_context():
        from flask import g

        g.session_token_sid = f"{SHOP}:s1"
        made = csrf_token("/admin/contacts/999/erase")
    answer = client.post(f"/admin/contacts/999/erase?id_token={session_token()}", data={"csrf_token": made})
    assert answer.status_code == 404  # past the CSRF check: the contact does not exist
    other_session = client.post(f"/admin/contacts/999/erase?id_token={session_token(sid='s2')}",
                                data={"csrf_token": made})
    assert other_session.status_code == 403


def test_the_admin_serves_polaris_and_its_icons_from_the_installed_packages(client):
    css = client.get("/static/vendor/polaris/styles.css")
    assert css.status_code == 200 and b"--p-color-bg-surface" in css.data
    assert client.get("/static/vendor/polaris-icons/HomeIcon.svg").status_code == 200
    assert client.get("/static/vendor/chart.js/chart.umd.min.js").status_code == 200
    assert client.get("/static/vendor/lodash/index.js").status_code == 404
    assert client.get("/static/vendor/polaris/../../../package.json").status_code == 404


def test_inside_shopify_admin_a_redirect_carries_the_session_token_on(app, client):
    """There is no cookie in Shopify's frame: the page a form sends the merchant to gets the token."""
    make_shop(app.extensions["parlons"].db)
    from flask import g

    from connector.web.admin_security import csrf_token

    with app.test_request_context():
        g.session_token_sid = f"{SHOP}:s1"
        made = csrf_token("/admin/logout")
    fresh = session_token()
    answer = client.post(f"/admin/logout?id_token={fresh}", data={"csrf_token": made})
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/admin/login?id_token={fresh}"
    # a standalone redirect carries nothing of the kind
    sign_in(client, SHOP, TOKEN)
    home = client.get("/admin").get_data(as_text=True)
    plain = client.post("/admin/logout", data={"csrf_token": form_token(home, "/admin/logout")})
    assert plain.headers["Location"] == "/admin/login"
