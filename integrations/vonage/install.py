"""Check a merchant's Vonage credentials and read the application its webhooks belong to.

Vonage has no OAuth install for this use: the merchant gives the API key and secret (Reports
API, account), the id and private key of a Messages API application (sending; status and
inbound webhooks are the application's `status_url` and `inbound_url`), and the account's
signature secret, with signed webhooks enabled, so that Parlons can verify each webhook.
"""

from __future__ import annotations

from typing import Any

from integrations.vonage.client import VonageClient


def verify_credentials(client: VonageClient, application_id: str) -> dict[str, Any]:
    """The account balance and the application's Messages webhooks, proving the key, secret and
    application id work. Raises `Unauthorized` for a wrong key or secret, `ApiError` (404)
    for an application that is not this account's."""
    balance = client.balance()
    app = client.application(application_id)
    webhooks = (((app.get("capabilities") or {}).get("messages") or {}).get("webhooks") or {})
    return {
        "balance": balance["value"],
        "application": {"id": app.get("id"), "name": app.get("name")},
        "inbound_url": (webhooks.get("inbound_url") or {}).get("address"),
        "status_url": (webhooks.get("status_url") or {}).get("address"),
    }
