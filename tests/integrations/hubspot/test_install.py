"""Installing the app: authorize URL, code exchange, refresh exactly once, single-use state."""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import requests

from integrations.errors import ApiError
from integrations.hubspot.client import HubSpotClient
from integrations.hubspot.install import (
    SCOPES,
    TokenSet,
    authorize_url,
    consume_state,
    exchange_code,
    issue_state,
    refresh,
    refresh_once,
)
from tests.conftest import REDIS_URL

REDIRECT = "https://parlons.example.com/hubspot/oauth/callback"


def test_authorize_url_points_at_hubspot_with_scopes_and_state():
    url = authorize_url("cid", REDIRECT, SCOPES, "st4te")
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://app.hubspot.com/oauth/authorize"
    assert query["scope"] == [" ".join(SCOPES)]
    assert "%20" in parts.query  # scopes are space separated
    assert query["redirect_uri"] == [REDIRECT] and query["state"] == ["st4te"]


def test_install_flow_ends_with_tokens_for_the_portal(sandbox, hubspot_url, redis_conn):
    # given a merchant sent to the install screen with a fresh state
    state = issue_state(redis_conn, {"shop": "boutique.myshopify.com"})
    url = authorize_url(sandbox.client_id, REDIRECT, SCOPES, state, base_url=hubspot_url) + "&portal_id=777"

    # when they approve and HubSpot sends them back with a code
    back = requests.get(url, allow_redirects=False, timeout=5)
    query = parse_qs(urlsplit(back.headers["Location"]).query)
    assert consume_state(redis_conn, query["state"][0]) == {"shop": "boutique.myshopify.com"}
    started = time.time()
    tokens = exchange_code(query["code"][0], sandbox.client_id, sandbox.client_secret, REDIRECT,
                           base_url=hubspot_url)

    # then we hold tokens for portal 777, good for 30 minutes, that open its CRM
    assert tokens.hub_id == 777
    assert started + 1790 < tokens.expires_at < time.time() + 1801
    client = HubSpotClient(tokens.access_token, portal_id=tokens.hub_id, base_url=hubspot_url)
    assert client.contacts_page() == ([], None)
    # and the state cannot be used twice
    assert consume_state(redis_conn, query["state"][0]) is None
    assert consume_state(redis_conn, "never-issued") is None


def test_a_used_code_is_refused_without_retrying(sandbox, hubspot_url):
    code = sandbox.authorization_code(777, REDIRECT)
    exchange_code(code, sandbox.client_id, sandbox.client_secret, REDIRECT, base_url=hubspot_url)
    with pytest.raises(ApiError) as refused:
        exchange_code(code, sandbox.client_id, sandbox.client_secret, REDIRECT, base_url=hubspot_url)
    assert refused.value.status == 400
    assert refused.value.code == "BAD_AUTH_CODE"


def test_refresh_gives_a_new_access_token_for_the_same_portal(sandbox, hubspot_url):
    code = sandbox.authorization_code(777, REDIRECT)
    first = exchange_code(code, sandbox.client_id, sandbox.client_secret, REDIRECT, base_url=hubspot_url)
    fresh = refresh(first.refresh_token, sandbox.client_id, sandbox.client_secret, base_url=hubspot_url)
    assert fresh.access_token != first.access_token
    assert fresh.refresh_token == first.refresh_token
    assert fresh.hub_id == 777
    assert sandbox.refreshes == 1


def test_many_workers_refresh_an_expiring_token_exactly_once(sandbox, hubspot_url, redis_conn):
    # given a stored token that expires in one minute (inside the 5-minute margin)
    code = sandbox.authorization_code(777, REDIRECT)
    issued = exchange_code(code, sandbox.client_id, sandbox.client_secret, REDIRECT, base_url=hubspot_url)
    expiring = TokenSet(issued.access_token, issued.refresh_token, time.time() + 60, 777)
    store = {"tokens": expiring}
    results: list[TokenSet] = []
    lock = threading.Lock()

    def do_refresh() -> TokenSet:
        fresh = refresh(store["tokens"].refresh_token, sandbox.client_id, sandbox.client_secret,
                        base_url=hubspot_url, hub_id=777)
        time.sleep(0.2)  # the store write takes a while: the others are waiting meanwhile
        store["tokens"] = fresh
        return fresh

    def worker():
        conn = redis.Redis.from_url(REDIS_URL)  # each worker process has its own connection
        got = refresh_once(conn, "777", expiring, do_refresh, lambda: store["tokens"])
        with lock:
            results.append(got)
        conn.close()

    # when eight workers notice at the same moment
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then HubSpot saw one refresh, and every worker uses the same fresh token
    assert sandbox.refreshes == 1
    assert {t.access_token for t in results} == {store["tokens"].access_token}
    assert store["tokens"].access_token != expiring.access_token


def test_a_token_far_from_expiry_is_used_as_is(redis_conn):
    current = TokenSet("at", "rt", time.time() + 1500, 1)

    def must_not_run():
        raise AssertionError("no refresh expected")

    assert refresh_once(redis_conn, "1", current, must_not_run, must_not_run) is current
