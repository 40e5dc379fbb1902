"""Retries as data: one policy, applied in one place.

Retry 5xx, 429 and timeouts with exponential backoff (honouring `retry_after` when the
outside system gives one); never retry any other 4xx.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from integrations.errors import ApiError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, error: ApiError | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        if error is not None and error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.max_delay)
        return min(self.base_delay * (2 ** (attempt - 1)), self.max_delay)


DEFAULT_POLICY = RetryPolicy()


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `fn`; on a retryable ApiError wait and try again, up to `policy.attempts` times."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except ApiError as error:
            if not error.retryable or attempt >= policy.attempts:
                raise
            sleep(policy.delay(attempt, error))
