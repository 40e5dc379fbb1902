"""A HubSpot sandbox served over real HTTP, and clients of it."""

from __future__ import annotations

import pytest

from integrations.hubspot.client import HubSpotClient
from integrations.hubspot.sandbox import HubSpotSandbox
from integrations.retry import RetryPolicy

PORTAL = 4455


@pytest.fixture
def sandbox():
    return HubSpotSandbox(rate_limit=None)


@pytest.fixture
def hubspot_url(sandbox):
    server = sandbox.start()
    yield server.url
    server.stop()


@pytest.fixture
def make_client(sandbox, hubspot_url, redis_conn):
    """A client of the sandbox's portal, rate-limited through the test Redis, with a fast policy."""

    def make(**options) -> HubSpotClient:
        options.setdefault("retry", RetryPolicy(attempts=4, base_delay=0.01, max_delay=2.0))
        token = options.pop("token", None) or sandbox.issue_token(PORTAL)
        return HubSpotClient(token, portal_id=PORTAL, base_url=hubspot_url, redis_conn=redis_conn, **options)

    return make
