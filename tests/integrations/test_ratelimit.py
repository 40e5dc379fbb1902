"""The shared Redis rate limiter: never more than the limit, across threads and connections."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from integrations.ratelimit import TokenBucket, WouldBlock
from tests.conftest import REDIS_URL


def _max_in_any_window(stamps: list[float], window: float) -> int:
    stamps = sorted(stamps)
    best, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_many_threads_on_separate_connections_never_exceed_the_limit(redis_conn):
    # given a limit of 10 per 0.5 s shared by 8 workers, each with its own Redis connection
    capacity, window = 10, 0.5
    stamps: list[float] = []
    lock = threading.Lock()

    def worker():
        conn = redis.Redis.from_url(REDIS_URL)
        bucket = TokenBucket(conn, "test:bucket", capacity, window)
        for _ in range(5):
            bucket.acquire()
            with lock:
                stamps.append(time.monotonic())
        conn.close()

    # when they all take tokens as fast as they can (40 in all)
    threads = [threading.Thread(target=worker) for _ in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    # then every request got through, no window of 0.5 s saw more than 10 (a few ms of slack
    # for the time between taking a token and noting it), and the limit was not wildly undershot
    assert len(stamps) == 40
    assert _max_in_any_window(stamps, window - 0.02) <= capacity
    assert 1.4 < elapsed < 3.0


def test_acquire_returns_the_time_waited_and_non_blocking_refuses(redis_conn):
    # given a bucket of 2 per second, emptied
    bucket = TokenBucket(redis_conn, "test:bucket", 2, 1.0)
    assert bucket.acquire() == pytest.approx(0, abs=0.05)
    bucket.acquire()

    # when a third caller will not wait, then it is refused with the wait it would need
    with pytest.raises(WouldBlock) as refused:
        bucket.acquire(block=False)
    assert 0.5 < refused.value.retry_after <= 1.0

    # when a caller waits with too short a timeout, then it is refused without sleeping it out
    started = time.monotonic()
    with pytest.raises(WouldBlock):
        bucket.acquire(timeout=0.1)
    assert time.monotonic() - started < 0.1

    # when a caller blocks, then it gets its token once the first one came back, and says so
    waited = bucket.acquire()
    assert 0.5 < waited <= 1.1


def test_penalise_stops_every_caller_until_the_retry_after_has_passed(redis_conn):
    # given a bucket with plenty of tokens, and a second handle on it (another process)
    bucket = TokenBucket(redis_conn, "test:bucket", 100, 10)
    other = TokenBucket(redis.Redis.from_url(REDIS_URL), "test:bucket", 100, 10)

    # when the outside system says "retry after 0.3 s"
    bucket.penalise(0.3)
    other.penalise(0.1)  # a shorter pause does not cut the longer one short

    # then nobody gets a token before then
    with pytest.raises(WouldBlock):
        other.acquire(block=False)
    waited = other.acquire()
    assert 0.2 < waited < 0.6
    assert bucket.acquire() == pytest.approx(0, abs=0.05)


def test_asking_for_more_than_the_capacity_is_an_error(redis_conn):
    bucket = TokenBucket(redis_conn, "test:bucket", 3, 1)
    with pytest.raises(ValueError):
        bucket.acquire(4)
