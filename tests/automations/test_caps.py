"""Frequency caps: no contact is saturated, whatever flows and campaigns compete for them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import redis

from automations.caps import cap_key, release, reserve
from automations.policy import ShopPolicy
from tests.conftest import REDIS_URL

POLICY = ShopPolicy()  # 1 per 24 h, 4 per 7 days
MONDAY = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)


def test_second_marketing_sms_within_24_hours_is_refused_with_the_reason(redis_conn):
    # given a contact who was reserved an SMS on Monday at 10:00
    assert reserve(redis_conn, "shop1", "c1", MONDAY, POLICY, "m1").allowed
    # when a second one is asked 23 hours later
    decision = reserve(redis_conn, "shop1", "c1", MONDAY + timedelta(hours=23), POLICY, "m2")
    # then it is refused, saying which cap
    assert not decision.allowed
    assert decision.reason == "frequency cap: 1 marketing SMS per 24 h"
    # and 24 hours later it is fine
    assert reserve(redis_conn, "shop1", "c1", MONDAY + timedelta(hours=24), POLICY, "m3").allowed


def test_weekly_cap_of_four(redis_conn):
    # given four SMS on four consecutive days
    for day in range(4):
        at = MONDAY + timedelta(days=day)
        assert reserve(redis_conn, "shop1", "c1", at, POLICY, f"m{day}").allowed
    # then a fifth within the week is refused by the weekly cap
    friday = reserve(redis_conn, "shop1", "c1", MONDAY + timedelta(days=4), POLICY, "m4")
    assert not friday.allowed
    assert friday.reason == "frequency cap: 4 marketing SMS per 7 days"
    # and the day the first one leaves the 7-day window, one more is allowed
    assert reserve(redis_conn, "shop1", "c1", MONDAY + timedelta(days=7), POLICY, "m5").allowed


def test_a_future_reservation_counts_at_its_send_time(redis_conn):
    # given a deferred message reserved for Tuesday 08:00
    tuesday = MONDAY + timedelta(hours=22)
    assert reserve(redis_conn, "shop1", "c1", tuesday, POLICY, "deferred").allowed
    # then a message asked now (Monday 10:00, 22 h earlier) would saturate the contact
    assert not reserve(redis_conn, "shop1", "c1", MONDAY, POLICY, "now").allowed


def test_weekly_cap_checks_every_window_around_the_new_send(redis_conn):
    # given SMS on days 0, 2 and 4, then one on day 8
    for day in (0, 2, 4, 8):
        assert reserve(redis_conn, "s", "c", MONDAY + timedelta(days=day), POLICY, f"d{day}").allowed
    # then day 6 is allowed: every 7-day window around it holds four at most (0,2,4,6 / 2,4,6,8)
    # although five SMS fall within 7 days either side of it
    assert reserve(redis_conn, "s", "c", MONDAY + timedelta(days=6), POLICY, "d6").allowed
    # and day 7 is refused: days 2-8 would then hold five
    day7 = reserve(redis_conn, "s", "c", MONDAY + timedelta(days=7), POLICY, "d7")
    assert day7.reason == "frequency cap: 4 marketing SMS per 7 days"


def test_caps_are_per_contact_and_per_shop(redis_conn):
    assert reserve(redis_conn, "shop1", "c1", MONDAY, POLICY, "a").allowed
    assert reserve(redis_conn, "shop1", "c2", MONDAY, POLICY, "b").allowed
    assert reserve(redis_conn, "shop2", "c1", MONDAY, POLICY, "c").allowed


def test_reserving_the_same_message_twice_is_idempotent(redis_conn):
    assert reserve(redis_conn, "shop1", "c1", MONDAY, POLICY, "m1").allowed
    assert reserve(redis_conn, "shop1", "c1", MONDAY, POLICY, "m1").allowed
    assert redis_conn.zcard(cap_key("shop1", "c1")) == 1


def test_released_reservation_frees_the_slot(redis_conn):
    # given a reservation whose message is then not sent (consent withdrawn meanwhile)
    reserve(redis_conn, "shop1", "c1", MONDAY, POLICY, "m1")
    assert release(redis_conn, "shop1", "c1", "m1") is True
    # then another message may take its place, and releasing twice is harmless
    assert reserve(redis_conn, "shop1", "c1", MONDAY, POLICY, "m2").allowed
    assert release(redis_conn, "shop1", "c1", "m1") is False


def test_shop_caps_come_from_its_policy(redis_conn):
    generous = ShopPolicy(marketing_cap_24h=2, marketing_cap_7d=None)
    assert reserve(redis_conn, "s", "c", MONDAY, generous, "1").allowed
    assert reserve(redis_conn, "s", "c", MONDAY, generous, "2").allowed
    assert reserve(redis_conn, "s", "c", MONDAY, generous, "3").reason == (
        "frequency cap: 2 marketing SMS per 24 h"
    )
    closed = ShopPolicy(marketing_cap_24h=0)
    assert not reserve(redis_conn, "s", "other", MONDAY, closed, "x").allowed
    uncapped = ShopPolicy(marketing_cap_24h=None, marketing_cap_7d=None)
    assert all(reserve(redis_conn, "s", "u", MONDAY, uncapped, str(i)).allowed for i in range(10))


def test_reservations_expire_from_redis(redis_conn):
    reserve(redis_conn, "shop1", "c1", MONDAY, POLICY, "m1")
    ttl = redis_conn.pttl(cap_key("shop1", "c1"))
    assert 0 < ttl <= 14 * 24 * 3600 * 1000


def test_naive_datetime_is_refused(redis_conn):
    with pytest.raises(ValueError, match="aware"):
        reserve(redis_conn, "s", "c", datetime(2026, 3, 9, 10), POLICY, "t")


def test_racing_workers_cannot_both_pass_the_cap(redis_conn):
    # given 16 workers, each with its own connection, reserving for the same contact at once
    workers = 16
    barrier = threading.Barrier(workers)
    results: list[bool] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        conn = redis.Redis.from_url(REDIS_URL)
        try:
            barrier.wait()
            decision = reserve(conn, "shop1", "c1", MONDAY, POLICY, f"msg-{index}")
            with lock:
                results.append(decision.allowed)
        finally:
            conn.close()

    for _round in range(5):
        redis_conn.delete(cap_key("shop1", "c1"))
        results.clear()
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # then exactly one of them got the slot, and only one send is recorded
        assert results.count(True) == 1
        assert redis_conn.zcard(cap_key("shop1", "c1")) == 1
