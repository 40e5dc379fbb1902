"""OAuth install: shop domains, the callback HMAC, single-use state, code exchange and refresh."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from integrations.errors import Unauthorized
from integrations.shopify.install import (
    InstallError,
    TokenSet,
    authorize_url,
    consume_state,
    exchange_code,
    issue_state,
    needs_refresh,
    refresh_token,
    timestamp_fresh,
    validate_shop_domain,
    verify_query_hmac,
)

from .conftest import API_KEY, API_SECRET, SHOP

REDIRECT = "https://parlons.example/shopify/callback"


def approve(sandbox_url: str, state: str) -> dict[str, str]:
    """Given the merchant sent to the authorize URL, when Shopify approves, the callback query."""
    url = authorize_url(SHOP, API_KEY, ["read_customers", "write_customers"], REDIRECT, state, base_url=sandbox_url)
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return dict(parse_qsl(location.query))


# --- shop domains and HMAC -------------------------------------------------------------------


@pytest.mark.parametrize("shop", ["parlons-demo.myshopify.com", "A1.myshopify.com"])
def test_myshopify_domains_are_accepted(shop):
    assert validate_shop_domain(shop) == shop.lower()


@pytest.mark.parametrize(
    "shop",
    ["evil.com", "x.myshopify.com.evil.com", "https://x.myshopify.com/", "-x.myshopify.com",
     "x.myshopify.com/admin", "x..myshopify.com", "", "x.myshopify.co"],
)
def test_other_domains_are_refused(shop):
    with pytest.raises(InstallError):
        validate_shop_domain(shop)


def test_query_hmac_matches_shopify_rule_computed_by_hand():
    # Given Shopify's documented rule: hex HMAC-SHA256 of sorted k=v pairs joined by &.
    params = {"shop": SHOP, "code": "abc", "timestamp": "1700000000", "state": "s t", "host": "aG9zdA=="}
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    signed = {**params, "hmac": hmac.new(b"secret", message.encode(), hashlib.sha256).hexdigest()}
    assert verify_query_hmac(signed, "secret")
    assert verify_query_hmac({**signed, "signature": "ignored"}, "secret")
    assert not verify_query_hmac(signed, "other-secret")
    assert not verify_query_hmac(params, "secret")  # no hmac at all


def test_timestamp_freshness():
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert timestamp_fresh(str(int(now.timestamp()) - 299), now)
    assert not timestamp_fresh(str(int(now.timestamp()) - 301), now)
    assert not timestamp_fresh(int(now.timestamp()) + 3600, now)
    assert not timestamp_fresh("yesterday", now)
    assert not timestamp_fresh(None, now.timestamp())


# --- state in Redis --------------------------------------------------------------------------


def test_state_is_single_use_and_bound_to_its_shop(redis_conn):
    state = issue_state(redis_conn, SHOP)
    assert 0 < redis_conn.ttl(f"parlons:shopify:oauth_state:{state}") <= 600
    assert consume_state(redis_conn, state, SHOP)
    assert not consume_state(redis_conn, state, SHOP)  # replayed

    other = issue_state(redis_conn, SHOP)
    assert not consume_state(redis_conn, other, "someone-else.myshopify.com")
    assert not consume_state(redis_conn, other, SHOP)  # a failed attempt burns it too
    assert not consume_state(redis_conn, "made-up", SHOP)
    assert not consume_state(redis_conn, None, SHOP)


def test_state_for_a_bad_shop_is_never_issued(redis_conn):
    with pytest.raises(InstallError):
        issue_state(redis_conn, "evil.com")


# --- the whole flow against the sandbox ------------------------------------------------------


def test_install_flow_gives_an_expiring_token_that_refreshes_with_rotation(sandbox, sandbox_url, redis_conn):
    # Given a state issued for the shop and the merchant's approval
    state = issue_state(redis_conn, SHOP)
    callback = approve(sandbox_url, state)

    # When the callback is checked and its code exchanged
    assert verify_query_hmac(callback, API_SECRET)
    assert timestamp_fresh(callback["timestamp"], datetime.now(UTC))
    assert callback["shop"] == SHOP
    assert consume_state(redis_conn, callback["state"], callback["shop"])
    tokens = exchange_code(SHOP, callback["code"], API_KEY, API_SECRET, base_url=sandbox_url)

    # Then an expiring offline token and a refresh token come back
    now = datetime.now(UTC)
    assert tokens.scope == "read_customers,write_customers"
    assert timedelta(minutes=59) < tokens.expires_at - now <= timedelta(hours=1)
    assert tokens.refresh_token and tokens.refresh_token_expires_at > tokens.expires_at
    assert not needs_refresh(tokens, now)
    assert needs_refresh(tokens, tokens.expires_at - timedelta(minutes=4))
    assert tokens.access_token not in repr(tokens) and tokens.refresh_token not in repr(tokens)

    # When refreshed, the refresh token rotates and the old one no longer works
    renewed = refresh_token(SHOP, tokens.refresh_token, API_KEY, API_SECRET, base_url=sandbox_url)
    assert renewed.access_token != tokens.access_token
    assert renewed.refresh_token != tokens.refresh_token
    with pytest.raises(Unauthorized):
        refresh_token(SHOP, tokens.refresh_token, API_KEY, API_SECRET, base_url=sandbox_url)
    assert refresh_token(SHOP, renewed.refresh_token, API_KEY, API_SECRET, base_url=sandbox_url).access_token


def test_forged_callback_hmac_is_refused(sandbox, sandbox_url, redis_conn):
    callback = approve(sandbox_url, issue_state(redis_conn, SHOP))
    assert not verify_query_hmac({**callback, "shop": "attacker.myshopify.com"}, API_SECRET)
    assert not verify_query_hmac({**callback, "hmac": "0" * 64}, API_SECRET)
    assert not verify_query_hmac(callback, "not-our-secret")


def test_replayed_or_unknown_state_is_refused(sandbox, sandbox_url, redis_conn):
    state = issue_state(redis_conn, SHOP)
    callback = approve(sandbox_url, state)
    assert consume_state(redis_conn, callback["state"], SHOP)
    replay = approve(sandbox_url, state)
    assert verify_query_hmac(replay, API_SECRET)  # Shopify signed it, yet
    assert not consume_state(redis_conn, replay["state"], SHOP)
    assert not consume_state(redis_conn, approve(sandbox_url, "forged-state")["state"], SHOP)


def test_replayed_code_is_refused(sandbox, sandbox_url, redis_conn):
    callback = approve(sandbox_url, issue_state(redis_conn, SHOP))
    exchange_code(SHOP, callback["code"], API_KEY, API_SECRET, base_url=sandbox_url)
    with pytest.raises(Unauthorized):
        exchange_code(SHOP, callback["code"], API_KEY, API_SECRET, base_url=sandbox_url)


def test_code_for_another_shop_or_with_wrong_secret_is_refused(sandbox, sandbox_url, redis_conn):
    sandbox.add_shop("other-shop.myshopify.com")
    callback = approve(sandbox_url, issue_state(redis_conn, SHOP))
    with pytest.raises(Unauthorized):
        exchange_code("other-shop.myshopify.com", callback["code"], API_KEY, API_SECRET, base_url=sandbox_url)
    callback = approve(sandbox_url, issue_state(redis_conn, SHOP))
    with pytest.raises(Unauthorized):
        exchange_code(SHOP, callback["code"], API_KEY, "wrong-secret", base_url=sandbox_url)


@pytest.mark.parametrize("shop", ["evil.com", "x.myshopify.com.evil.com", "https://x.myshopify.com/"])
def test_bad_shop_domains_never_reach_the_network(shop):
    with pytest.raises(InstallError):
        authorize_url(shop, API_KEY, ["read_customers"], REDIRECT, "state")
    with pytest.raises(InstallError):
        exchange_code(shop, "code", API_KEY, API_SECRET)


def test_production_urls_point_at_the_shop():
    url = authorize_url(SHOP, API_KEY, ["read_customers", "write_customers"], REDIRECT, "xyz")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", SHOP, "/admin/oauth/authorize")
    assert dict(parse_qsl(parts.query)) == {
        "client_id": API_KEY, "scope": "read_customers,write_customers", "redirect_uri": REDIRECT, "state": "xyz",
    }


def test_non_expiring_token_never_needs_refresh():
    assert not needs_refresh(TokenSet(access_token="t", scope="s"), datetime.now(UTC))
