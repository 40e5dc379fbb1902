"""Check a merchant's Brevo API key and register the SMS webhook Parlons listens to.

Brevo has no OAuth install for this use: the merchant gives an API key. `verify_credentials`
proves it works (the account it belongs to and its SMS credits); `register_sms_webhook`
creates a transactional SMS webhook (delivery events, replies, unsubscriptions) that Brevo
calls with `Authorization: Bearer <token>`, a token Parlons makes and keeps.
"""

from __future__ import annotations

import secrets
from typing import Any

from integrations.brevo.client import BrevoClient

SMS_EVENTS = ["sent", "delivered", "hardBounce", "softBounce", "blocked", "unsubscribed", "reply"]


def verify_credentials(client: BrevoClient) -> dict[str, Any]:
    """The account's email, company and SMS credits. Raises `Unauthorized` for a wrong key."""
    account = client.account()
    sms = [p for p in account.get("plan") or [] if p.get("type") == "sms"]
    return {"email": account.get("email"), "company": account.get("companyName"),
            "sms_credits": sms[0].get("credits") if sms else None}


def register_sms_webhook(client: BrevoClient, url: str) -> dict[str, str]:
    """Create the SMS webhook; returns its id and the bearer token to store (encrypted)."""
    token = secrets.token_urlsafe(32)
    webhook_id = client.create_sms_webhook(url, token, SMS_EVENTS)
    return {"webhook_id": webhook_id, "token": token}
