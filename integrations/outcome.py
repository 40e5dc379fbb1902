"""Did a request reach the provider? The answer decides whether a send may ever be retried.

A send is retried only when it clearly did not reach the provider: the connection was refused,
the name did not resolve, the connection could not be opened in time, or the provider answered
that it did not take it (429, 4xx). Once the request may have arrived (a timeout while waiting
for the answer, a connection dropped after the body went out, a 5xx after the body was sent),
its outcome is unknown: `OutcomeUnknown` says so, and the caller reconciles with the
provider's `find` instead of sending again.
"""

from __future__ import annotations

import httpx
import requests
import urllib3.exceptions

from integrations.errors import ApiError


class OutcomeUnknown(ApiError):
    """The provider may or may not have accepted the request: reconcile, never resend blindly."""

    @property
    def retryable(self) -> bool:
        return False


def _causes(error: BaseException):
    """`error`, then what it wraps: exception arguments, `reason`, `__cause__`, `__context__`."""
    seen: set[int] = set()
    stack = [error]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for arg in getattr(current, "args", ()):
            if isinstance(arg, BaseException):
                stack.append(arg)
        for attribute in ("reason", "__cause__", "__context__"):
            linked = getattr(current, attribute, None)
            if isinstance(linked, BaseException):
                stack.append(linked)


def never_sent(error: BaseException) -> bool:
    """True when `error` (from requests/urllib3 or httpx) happened before any byte of the
    request left: the connection could not be opened. Anything else may have reached the server."""
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return True
    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError):
        return any(isinstance(cause, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)
                   for cause in _causes(error))
    return False


def transport_error(provider: str, error: BaseException) -> ApiError:
    """Our error for a transport failure of a send: retryable when never sent, else unknown."""
    name = type(error).__name__
    if never_sent(error):
        return ApiError(f"{provider} unreachable before sending: {name}", status=None)
    return OutcomeUnknown(f"{provider} did not answer after the request was sent: {name}", status=None)
