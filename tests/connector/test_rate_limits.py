"""Rate limits on the public endpoints, kept in Redis so every web process shares them; a
well-signed Twilio or HubSpot delivery is never refused by them."""

from __future__ import annotations

import dataclasses

import pytest

from automations.models import Link, StoreEvent, utcnow
from connector import create_app
from connector.shops import forget
from tests.connector.helpers import FIXTURES, count, form_token, make_shop, post_shopify, sign_in
from tests.connector.test_twilio_routes import _post as post_twilio


@pytest.fixture
def limited(config, database, redis_conn):
    def build(**limits):
        forget()
        return create_app(dataclasses.replace(config, **limits))
    apps = []
    yield lambda **limits: apps.append(build(**limits)) or apps[-1]
    for app in apps:
        app.extensions["parlons"].close()


def test_sign_in_is_refused_after_too_many_wrong_tokens_even_with_the_right_one(limited):
    app = limited(limit_sign_in="3/minute")
    make_shop(app.extensions["parlons"].db)
    client = app.test_client()
    # given three wrong tokens from one address
    token = form_token(client.get("/admin/login").get_data(as_text=True), "/admin/login")
    for _ in range(3):
        assert client.post("/admin/login", data={"token": "guess", "shop": "x", "csrf_token": token}).status_code == 401
    # when the right token comes next, then it waits like the rest, and says how long
    refused = client.post("/admin/login", data={"token": "test-api-token", "shop": "boutique.myshopify.com",
                                                "csrf_token": token})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    # while another address may still sign in
    other = sign_in(app.test_client(), "x", "guess", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 401


def test_successful_sign_ins_do_not_use_up_the_limit(limited):
    app = limited(limit_sign_in="2/minute")
    make_shop(app.extensions["parlons"].db, domain="boutique.myshopify.com")
    client = app.test_client()
    for _ in range(4):
        answer = sign_in(client, "boutique.myshopify.com", "test-api-token")
        assert answer.status_code == 302


def test_a_robot_walking_link_codes_is_slowed_down_per_address_behind_a_trusted_proxy(limited):
    app = limited(limit_links="5/minute", trusted_proxies=1)
    runtime = app.extensions["parlons"]
    shop_id = make_shop(runtime.db)
    with runtime.db.transaction() as s:
        s.add(Link(shop_id=shop_id, code="abc123", target_url="https://shop.example/p", created_at=utcnow()))
    client = app.test_client()
    robot = {"X-Forwarded-For": "203.0.113.7"}
    answers = [client.get(f"/l/code{i}", headers=robot).status_code for i in range(5)]
    assert answers == [404] * 5
    assert client.get("/l/abc123", headers=robot).status_code == 429
    # and a customer behind the same proxy follows their link as usual
    assert client.get("/l/abc123", headers={"X-Forwarded-For": "198.51.100.20"}).status_code == 302


def test_a_flood_of_badly_signed_twilio_posts_gets_429_but_a_signed_status_still_lands(limited):
    app = limited(limit_bad_signatures="3/minute")
    client = app.test_client()
    form = {"MessageSid": "SM9", "MessageStatus": "delivered", "To": "+33612345678", "From": "+33700000001"}
    # given badly signed posts from one address: 401, then 429 with Retry-After
    codes = [post_twilio(client, "/webhooks/twilio/status", form, token="forged").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    # when Twilio itself posts a well-signed callback from that same address, it is stored
    assert post_twilio(client, "/webhooks/twilio/status", form).status_code == 200
    assert count(app.extensions["parlons"].db, StoreEvent) == 1


def test_a_shop_over_its_delivery_cap_gets_429_which_shopify_retries_and_others_go_on(limited):
    app = limited(limit_shopify_webhooks="2/minute")
    runtime = app.extensions["parlons"]
    make_shop(runtime.db)
    make_shop(runtime.db, domain="autre.myshopify.com")
    client = app.test_client()
    raw = (FIXTURES / "orders__create.json").read_bytes()
    secret = runtime.config.shopify_api_secret
    answers = [post_shopify(client, raw, "orders/create", secret).status_code for _ in range(3)]
    # then the third delivery of the minute waits (Shopify retries it later) and nothing is lost
    assert answers == [200, 200, 429]
    assert post_shopify(client, raw, "orders/create", secret, shop="autre.myshopify.com").status_code == 200


def test_badly_signed_deliveries_naming_a_shop_do_not_use_up_its_cap(limited):
    app = limited(limit_shopify_webhooks="2/minute")
    runtime = app.extensions["parlons"]
    make_shop(runtime.db)
    client = app.test_client()
    raw = (FIXTURES / "orders__create.json").read_bytes()
    for _ in range(3):
        assert post_shopify(client, raw, "orders/create", "forged").status_code == 401
    assert post_shopify(client, raw, "orders/create", runtime.config.shopify_api_secret).status_code == 200


def test_the_limits_can_be_turned_off(limited):
    app = limited(limit_bad_signatures="1/minute", rate_limits=False)
    client = app.test_client()
    form = {"MessageSid": "SM9", "MessageStatus": "delivered"}
    assert [post_twilio(client, "/webhooks/twilio/status", form, token="x").status_code for _ in range(3)] == [401] * 3


def test_the_shop_cap_is_shared_by_web_processes(limited):
    import time

    from connector.web.limits import ShopCap

    # given two web processes (two apps) sharing Redis, and a cap of 3 deliveries a minute
    first, second = limited(limit_shopify_webhooks="3/minute"), limited(limit_shopify_webhooks="3/minute")
    make_shop(first.extensions["parlons"].db)
    raw = (FIXTURES / "orders__create.json").read_bytes()
    secret = first.extensions["parlons"].config.shopify_api_secret

    def deliver(app) -> int:
        return post_shopify(app.test_client(), raw, "orders/create", secret).status_code

    # when the first stores two and the second one, each telling Redis in its next batch
    assert [deliver(first), deliver(first)] == [200, 200]
    assert deliver(second) == 200
    time.sleep(ShopCap.FLUSH_SECONDS * 2)
    deliver(first)  # sends its two to Redis; sees 2 + its own new one
    time.sleep(ShopCap.FLUSH_SECONDS * 2)
    # then the second process sees the shop's count across both and makes it wait
    assert deliver(second) == 429
