"""Admin forms: the sign-in cookie is same-site only, and a form posted from another site is refused."""

from __future__ import annotations

from tests.connector.helpers import make_shop, sign_in


def test_a_cross_site_form_post_to_the_admin_is_refused(app, client):
    make_shop(app.extensions["parlons"].db)
    answer = client.post("/admin/login", data={"shop": "parlons-test.myshopify.com", "token": "test-api-token"},
                         headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403


def test_a_same_site_sign_in_sets_a_lax_http_only_cookie(app, client):
    make_shop(app.extensions["parlons"].db)
    answer = sign_in(client, "parlons-test.myshopify.com", "test-api-token", headers={"Origin": "http://localhost"})
    assert answer.status_code == 302
    cookie = answer.headers["Set-Cookie"]
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie
