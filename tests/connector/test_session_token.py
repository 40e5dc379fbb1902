"""The embedded admin: Shopify session tokens (JWT, HS256 with the app secret) are verified
(signature, aud, exp, nbf, iss = dest, an installed shop) before any shop data is shown."""

from __future__ import annotations

import time

import jwt
import pytest

from connector.web.admin_auth import SessionTokenError, shop_from_session_token
from tests.connector.helpers import SHOP, make_shop

KEY, SECRET = "test-shopify-key", "test-shopify-secret"


def token(secret: str = SECRET, algorithm: str = "HS256", **overrides) -> str:
    now = int(time.time())
    claims = {"iss": f"https://{SHOP}/admin", "dest": f"https://{SHOP}", "aud": KEY, "sub": "42",
              "exp": now + 60, "nbf": now - 5, "iat": now - 5, "jti": "j1", "sid": "s1", **overrides}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm=algorithm)


@pytest.fixture
def shop(app):
    return make_shop(app.extensions["parlons"].db)


def test_a_valid_token_names_its_shop():
    assert shop_from_session_token(token(), KEY, SECRET) == SHOP


def test_the_admin_opens_for_a_valid_token_in_the_header_or_the_query(client, shop):
    by_header = client.get("/admin", headers={"Authorization": f"Bearer {token()}"})
    by_query = client.get(f"/admin?id_token={token()}")
    assert by_header.status_code == 200 and SHOP in by_header.get_data(as_text=True)
    assert by_query.status_code == 200 and SHOP in by_query.get_data(as_text=True)


BAD_TOKENS = {
    "expired": lambda: token(exp=int(time.time()) - 60),
    "not yet valid": lambda: token(nbf=int(time.time()) + 60),
    "another app": lambda: token(aud="someone-elses-key"),
    "wrong secret": lambda: token(secret="not-our-secret"),
    "issuer is another shop": lambda: token(iss="https://evil.myshopify.com/admin"),
    "no expiry": lambda: token(exp=None),
    "no destination": lambda: token(dest=None),
    "unsigned": lambda: jwt.encode({"dest": f"https://{SHOP}", "aud": KEY, "exp": int(time.time()) + 60,
                                    "nbf": int(time.time()) - 5}, None, algorithm="none"),
    "not a jwt": lambda: "garbage",
}


@pytest.mark.parametrize("name", BAD_TOKENS)
def test_a_bad_token_is_refused_before_any_shop_data(client, shop, name):
    bad = BAD_TOKENS[name]()
    with pytest.raises(SessionTokenError):
        shop_from_session_token(bad, KEY, SECRET)
    answer = client.get("/admin", headers={"Authorization": f"Bearer {bad}"})
    assert answer.status_code == 401
    assert SHOP not in answer.get_data(as_text=True)


def test_a_valid_token_for_a_shop_that_has_not_installed_us_is_403(client, shop):
    other = token(iss="https://other.myshopify.com/admin", dest="https://other.myshopify.com")
    assert client.get("/admin", headers={"Authorization": f"Bearer {other}"}).status_code == 403


def test_without_a_token_or_a_session_the_admin_asks_to_sign_in(client, shop):
    answer = client.get("/admin")
    assert answer.status_code == 302 and "/admin/login" in answer.headers["Location"]


def test_an_app_without_credentials_accepts_no_token():
    with pytest.raises(SessionTokenError, match="not configured"):
        shop_from_session_token(token(), "", "")
