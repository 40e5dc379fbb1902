"""Check a merchant's Twilio account and point its phone number at Parlons.

Twilio has no OAuth install for this use: the merchant gives an Account SID and Auth Token.
`verify_credentials` proves they work; `configure_number` sets the number's incoming-message
URL (`SmsUrl`, POST) so replies reach `/webhooks/twilio/inbound`. Delivery status callbacks
are not a phone-number setting: `TwilioClient.send` passes `StatusCallback` with each message.
"""

from __future__ import annotations

from typing import Any

from integrations.errors import ApiError
from integrations.twilio.client import TwilioClient


def verify_credentials(
    account_sid: str, auth_token: str, base_url: str | None = None, timeout: float = 10.0
) -> dict[str, Any]:
    """Fetch the account: its sid, friendly name, status (`active`…) and type (`Trial`/`Full`).

    Raises `Unauthorized` for a wrong SID/token, `ApiError` otherwise. The account's auth token,
    which Twilio returns with the resource, is deliberately left out of the result.
    """
    client = TwilioClient(account_sid, auth_token, base_url=base_url, timeout=timeout)
    account = client.call(lambda: client.rest.api.v2010.account.fetch())
    return {
        "sid": account.sid,
        "friendly_name": account.friendly_name,
        "status": account.status,
        "type": account.type,
    }


def configure_number(client: TwilioClient, number: str, sms_url: str) -> dict[str, Any]:
    """Set the incoming-message webhook of `number` (a `PN…` sid or an E.164 number).

    Raises `ApiError` (status 404) when the account has no such number.
    """
    if number.startswith("PN"):
        sid = number
    else:
        found = client.call(
            lambda: client.rest.incoming_phone_numbers.list(phone_number=number, limit=1)
        )
        if not found:
            raise ApiError(f"{number} is not a phone number of this Twilio account",
                           status=404, code="20404")
        sid = found[0].sid
    updated = client.call(
        lambda: client.rest.incoming_phone_numbers(sid).update(sms_url=sms_url, sms_method="POST")
    )
    return {
        "sid": updated.sid,
        "phone_number": updated.phone_number,
        "sms_url": updated.sms_url,
        "sms_method": updated.sms_method,
    }
