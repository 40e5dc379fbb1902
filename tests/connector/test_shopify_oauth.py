"""Shopify public-app install through the real routes and the sandbox's OAuth over HTTP, and a
clear refusal for each bad input (shop domain, HMAC, timestamp, state, replay, code)."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
import pytest
import requests
import sqlalchemy as sa

from automations.models import Installation, Rule, Shop, utcnow
from connector import clients
from integrations.shopify.install import query_hmac

NEW_SHOP = "nouvelle-boutique.myshopify.com"


def signed(params: dict, secret: str) -> str:
    return urlencode({**params, "hmac": query_hmac(params, secret)})


def launch_query(live, shop: str = NEW_SHOP, **extra) -> str:
    params = {"shop": shop, "timestamp": str(int(time.time())), "host": "YWRtaW4uc2hvcGlmeS5jb20", **extra}
    return signed(params, live.runtime.config.shopify_api_secret)


def approve(live, client, shop: str = NEW_SHOP) -> str:
    """Launch the install and approve it on the sandbox; returns the callback's query string."""
    answer = client.get(f"/auth/shopify?{launch_query(live, shop)}")
    assert answer.status_code == 302
    granted = requests.get(answer.headers["Location"], allow_redirects=False, timeout=5)
    assert granted.status_code == 302
    return urlsplit(granted.headers["Location"]).query


@pytest.fixture
def client(live):
    live.boxes.shopify.add_shop(NEW_SHOP, name="Nouvelle Boutique", country="FR")
    return live.app.test_client()


def test_install_asks_our_scopes_with_a_state_and_stores_expiring_tokens_encrypted(live, client):
    # when the merchant installs the app from Shopify
    answer = client.get(f"/auth/shopify?{launch_query(live)}")
    # then they are sent to Shopify with our scopes, our callback and a state
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    query = dict(parse_qsl(target.query))
    assert target.path == f"/{NEW_SHOP}/admin/oauth/authorize"
    assert query["scope"] == live.runtime.config.shopify_scopes
    assert query["redirect_uri"] == f"{live.url}/auth/shopify/callback"
    assert len(query["state"]) >= 32
    # when they approve and Shopify calls back
    granted = requests.get(answer.headers["Location"], allow_redirects=False, timeout=5)
    done = client.get(f"/auth/shopify/callback?{urlsplit(granted.headers['Location']).query}")
    # then the store is connected and its admin opens
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin")
    with live.runtime.db.session() as s:
        shop = s.scalar(sa.select(Shop).where(Shop.domain == NEW_SHOP))
        inst = s.scalar(sa.select(Installation).where(Installation.shop_id == shop.id))
        rules = {r.key: r.enabled for r in s.scalars(sa.select(Rule).where(Rule.shop_id == shop.id))}
    assert (shop.name, shop.status, shop.default_region, shop.currency) == ("Nouvelle Boutique", "active", "FR", "EUR")
    # with an expiring token and its refresh token, both encrypted at rest
    token = live.runtime.secrets.decrypt(inst.access_token_enc)
    assert token.startswith("shpat_") and token not in inst.access_token_enc
    assert live.runtime.secrets.decrypt(inst.refresh_token_enc).startswith("shprt_")
    assert inst.expires_at > utcnow() + timedelta(minutes=50)
    # with its webhooks subscribed, ready-made rules (marketing off, transactional on), a sync queued
    topics = {h["topic"] for h in live.boxes.shopify.webhook_subscriptions(NEW_SHOP)}
    assert {"CHECKOUTS_CREATE", "ORDERS_CREATE", "APP_UNINSTALLED", "CUSTOMERS_MARKETING_CONSENT_UPDATE"} <= topics
    assert rules["abandoned_checkout"] is False and rules["order_shipped"] is True
    [job] = live.runtime.queue("sync").get_jobs()
    assert job.args[0] == NEW_SHOP


def test_a_token_about_to_expire_is_refreshed_and_the_rotated_refresh_token_kept(live, client):
    client.get(f"/auth/shopify/callback?{approve(live, client)}")
    with live.runtime.db.transaction() as s:
        shop = s.scalar(sa.select(Shop).where(Shop.domain == NEW_SHOP))
        inst = clients.installation(s, shop, "shopify")
        old_token, old_refresh = (live.runtime.secrets.decrypt(inst.access_token_enc),
                                  live.runtime.secrets.decrypt(inst.refresh_token_enc))
        inst.expires_at = utcnow() + timedelta(minutes=2)  # within the refresh margin
    # when a job needs the shop's client
    with live.runtime.db.transaction() as s:
        shop = s.scalar(sa.select(Shop).where(Shop.domain == NEW_SHOP))
        info = clients.shopify_for(live.runtime, s, shop).shop_info()
    # then it works with a new token, and the rotated refresh token replaced the old one
    assert info["name"] == "Nouvelle Boutique"
    with live.runtime.db.session() as s:
        inst = s.scalar(sa.select(Installation).join(Shop).where(Shop.domain == NEW_SHOP))
    assert live.runtime.secrets.decrypt(inst.access_token_enc) != old_token
    assert live.runtime.secrets.decrypt(inst.refresh_token_enc) != old_refresh
    assert old_refresh not in live.boxes.shopify.refresh_tokens


@pytest.mark.parametrize("shop", ["evil.com", "x.myshopify.com.evil.com", "https://x.myshopify.com/",
                                  "", "x.myshopify.com/admin", "-x.myshopify.com"])
@pytest.mark.parametrize("path", ["/auth/shopify", "/auth/shopify/callback"])
def test_a_shop_that_is_not_a_bare_myshopify_domain_is_refused(live, client, path, shop, caplog):
    answer = client.get(f"{path}?{launch_query(live, shop, state='s', code='c')}")
    assert answer.status_code == 400
    assert answer.json["error"] == "bad_shop"
    assert "bad_shop" in caplog.text


@pytest.mark.parametrize("path", ["/auth/shopify", "/auth/shopify/callback"])
def test_a_forged_or_missing_hmac_is_refused(live, client, path):
    params = {"shop": NEW_SHOP, "timestamp": str(int(time.time())), "state": "s", "code": "c"}
    forged = client.get(f"{path}?{signed(params, 'not-our-secret')}")
    missing = client.get(f"{path}?{urlencode(params)}")
    tampered = client.get(f"{path}?{signed(params, live.runtime.config.shopify_api_secret)}".replace("code=c", "code=d"))
    assert (forged.status_code, forged.json["error"]) == (401, "bad_hmac")
    assert (missing.status_code, missing.json["error"]) == (401, "missing_hmac")
    assert (tampered.status_code, tampered.json["error"]) == (401, "bad_hmac")


def test_an_old_signed_request_is_refused(live, client):
    query = launch_query(live, timestamp=str(int(time.time()) - 3600))
    answer = client.get(f"/auth/shopify?{query}")
    assert (answer.status_code, answer.json["error"]) == (401, "stale_request")


def test_a_callback_with_a_state_we_never_issued_is_refused(live, client):
    query = dict(parse_qsl(approve(live, client)))
    query.pop("hmac")
    query["state"] = "made-up-state"
    answer = client.get(f"/auth/shopify/callback?{signed(query, live.runtime.config.shopify_api_secret)}")
    assert (answer.status_code, answer.json["error"]) == (403, "bad_state")
    assert live.runtime.queue("sync").count == 0


def test_a_replayed_callback_is_refused_and_installs_nothing_twice(live, client):
    query = approve(live, client)
    assert client.get(f"/auth/shopify/callback?{query}").status_code == 302
    replay = client.get(f"/auth/shopify/callback?{query}")
    assert (replay.status_code, replay.json["error"]) == (403, "bad_state")
    assert live.runtime.queue("sync").count == 1


def test_a_state_issued_for_another_shop_is_refused(live, client):
    live.boxes.shopify.add_shop("autre.myshopify.com")
    query = dict(parse_qsl(approve(live, client)))
    other = dict(parse_qsl(approve(live, client, "autre.myshopify.com")))
    query.pop("hmac")
    query["state"] = other["state"]
    answer = client.get(f"/auth/shopify/callback?{signed(query, live.runtime.config.shopify_api_secret)}")
    assert (answer.status_code, answer.json["error"]) == (403, "bad_state")


def test_a_code_shopify_does_not_know_is_refused(live, client):
    query = dict(parse_qsl(approve(live, client)))
    query.pop("hmac")
    query["code"] = "0" * 32
    answer = client.get(f"/auth/shopify/callback?{signed(query, live.runtime.config.shopify_api_secret)}")
    assert (answer.status_code, answer.json["error"]) == (400, "code_refused")
    with live.runtime.db.session() as s:
        assert s.scalar(sa.select(Shop).where(Shop.domain == NEW_SHOP)) is None


def session_token(live, shop: str = NEW_SHOP) -> str:
    now = int(time.time())
    config = live.runtime.config
    return jwt.encode({"iss": f"https://{shop}/admin", "dest": f"https://{shop}", "aud": config.shopify_api_key,
                       "sub": "42", "exp": now + 60, "nbf": now - 5, "iat": now - 5},
                      config.shopify_api_secret, algorithm="HS256")


def test_an_installed_shop_opened_from_shopify_admin_gets_its_admin_not_a_new_install(live, client):
    # given a shop that installed the app
    client.get(f"/auth/shopify/callback?{approve(live, client)}")
    # when the merchant opens the app from Shopify admin (a signed launch with a session token)
    token = session_token(live)
    answer = client.get(f"/auth/shopify?{launch_query(live, id_token=token)}")
    # then the app's admin opens for that shop, and no new OAuth starts
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    assert target.path == "/admin" and dict(parse_qsl(target.query))["id_token"] == token
    admin = live.app.test_client().get(f"{target.path}?{target.query}")
    assert admin.status_code == 200 and "Nouvelle Boutique" in admin.text


def test_a_launch_without_session_token_or_for_a_shop_not_installed_starts_the_install(live, client):
    client.get(f"/auth/shopify/callback?{approve(live, client)}")
    without_token = client.get(f"/auth/shopify?{launch_query(live)}")
    assert urlsplit(without_token.headers["Location"]).path == f"/{NEW_SHOP}/admin/oauth/authorize"
    other = "autre-boutique.myshopify.com"
    live.boxes.shopify.add_shop(other, name="Autre")
    not_installed = client.get(f"/auth/shopify?{launch_query(live, other, id_token=session_token(live, other))}")
    assert urlsplit(not_installed.headers["Location"]).path == f"/{other}/admin/oauth/authorize"
