"""Errors every integration client raises, built from the outside system's response.

`automations` and `connector` only ever see these, never a `requests` or SDK exception.
"""

from __future__ import annotations


class ApiError(Exception):
    """The outside system answered with an error (or did not answer)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        body: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.body = body
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """5xx, 429 and transport failures (status None) are worth retrying; other 4xx never."""
        return self.status is None or self.status == 429 or self.status >= 500


class RateLimited(ApiError):
    """429 or a provider-specific throttle; `retry_after` says how long to wait when known."""


class Unauthorized(ApiError):
    """401/403: the token is wrong, expired or revoked."""
