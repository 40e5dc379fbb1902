"""Account checks and phone number configuration through the official library."""

from __future__ import annotations

import pytest

from integrations.errors import ApiError, Unauthorized
from integrations.twilio.install import configure_number, verify_credentials
from integrations.twilio.webhooks import parse_inbound
from tests.integrations.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, SENDER

CUSTOMER = "+33612345678"


def test_good_credentials_return_the_account_without_its_token(sandbox_url):
    # given the merchant's Account SID and Auth Token
    # when we check them
    account = verify_credentials(ACCOUNT_SID, AUTH_TOKEN, base_url=sandbox_url)
    # then we get the account, and the token is not copied into what we keep or log
    assert account == {"sid": ACCOUNT_SID, "friendly_name": "Parlons sandbox",
                       "status": "active", "type": "Full"}


@pytest.mark.parametrize(("sid", "token"), [(ACCOUNT_SID, "typo"), ("AC" + "f" * 32, AUTH_TOKEN)])
def test_bad_credentials_are_unauthorized(sandbox_url, sid, token):
    # given a wrong token or a wrong SID  # when checked  # then Unauthorized
    with pytest.raises(Unauthorized):
        verify_credentials(sid, token, base_url=sandbox_url)


@pytest.mark.parametrize("by_sid", [False, True])
def test_configured_number_sends_replies_to_the_app(client, sandbox, receiver, by_sid):
    # given the merchant's number, not yet pointed at Parlons
    pn_sid = sandbox.add_number(SENDER)
    inbound_url = receiver.url + "/webhooks/twilio/inbound"
    # when we configure it (by sid or by E.164 number)
    number = configure_number(client, pn_sid if by_sid else SENDER, inbound_url)
    # then Twilio stores our URL, and a customer's reply reaches the app signed
    assert number == {"sid": pn_sid, "phone_number": SENDER, "sms_url": inbound_url,
                      "sms_method": "POST"}
    sandbox.send_inbound(CUSTOMER, SENDER, "OUI")
    assert receiver.posts[0].valid and parse_inbound(receiver.posts[0].form).body == "OUI"


def test_configuring_a_number_the_account_lacks_is_an_error(client, sandbox):
    # given an account without that number  # when configured  # then a 404 ApiError
    with pytest.raises(ApiError) as caught:
        configure_number(client, "+33757000099", "https://sms.example.com/webhooks/twilio/inbound")
    assert caught.value.status == 404
