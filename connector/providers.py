"""The SMS provider the running configuration uses (Twilio, or its sandbox)."""

from __future__ import annotations

from connector.config import Config
from integrations.twilio.client import TwilioClient


def sms_client(config: Config, from_number: str | None = None) -> TwilioClient:
    if not config.twilio_account_sid or not config.twilio_auth_token:
        raise RuntimeError(
            "no SMS provider configured: set PARLONS_TWILIO_ACCOUNT_SID and PARLONS_TWILIO_AUTH_TOKEN"
        )
    return TwilioClient(
        config.twilio_account_sid,
        config.twilio_auth_token,
        from_number=from_number or config.twilio_from or None,
        messaging_service_sid=config.twilio_messaging_service_sid or None,
        base_url=config.twilio_base_url or None,
    )


def status_callback_url(config: Config) -> str:
    return config.public_url.rstrip("/") + "/webhooks/twilio/status"
