"""Status callbacks: signed by the sandbox like Twilio, verified and ordered on our side."""

from __future__ import annotations

import pytest

from integrations.twilio.client import TwilioClient
from integrations.twilio.sandbox import TwilioSandbox
from integrations.twilio.webhooks import PayloadError, is_newer, parse_status, verify_signature
from tests.integrations.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, SENDER

CUSTOMER = "+33612345678"
STATUS_PATH = "/webhooks/twilio/status"


def test_callbacks_are_signed_and_walk_queued_sent_delivered(client, sandbox, receiver):
    # given a message sent with our status callback URL (with a query string, signed too)
    result = client.send(CUSTOMER, "Bonjour", status_callback=receiver.url + STATUS_PATH + "?m=7")
    # when Twilio reports delivery
    posted = sandbox.deliver_pending()
    # then our endpoint accepted three signed callbacks, in order, for that message
    assert [p.http_status for p in posted] == [204, 204, 204]
    updates = [parse_status(post.form) for post in receiver.posts]
    assert all(post.valid for post in receiver.posts)
    assert [u.status for u in updates] == ["queued", "sent", "delivered"]
    assert {(u.message_sid, u.to, u.from_, u.error_code) for u in updates} == {
        (result.sid, CUSTOMER, SENDER, None)
    }
    assert receiver.posts[0].headers["I-Twilio-Idempotency-Token"]


def test_signature_fails_with_another_token_or_a_changed_field(client, sandbox, receiver):
    # given a delivered callback as our endpoint received it
    client.send(CUSTOMER, "Bonjour", status_callback=receiver.url + STATUS_PATH)
    sandbox.deliver_pending()
    post = receiver.posts[-1]
    url = receiver.url + STATUS_PATH
    signature = post.headers["X-Twilio-Signature"]
    # when it is checked as received  # then it is valid
    assert verify_signature(url, post.form, signature, AUTH_TOKEN)
    # but not with another account's token, a changed status, another URL or no signature
    assert not verify_signature(url, post.form, signature, "other-token")
    assert not verify_signature(url, {**post.form, "MessageStatus": "failed"}, signature, AUTH_TOKEN)
    assert not verify_signature(url + "?x=1", post.form, signature, AUTH_TOKEN)
    assert not verify_signature(url, post.form, None, AUTH_TOKEN)
    assert not verify_signature(url, post.form, "", AUTH_TOKEN)


@pytest.mark.parametrize(
    ("outcome", "statuses"),
    [("undelivered", ["queued", "sent", "undelivered"]), ("failed", ["queued", "failed"])],
)
def test_failing_handset_reports_error_code(client, sandbox, receiver, outcome, statuses):
    # given a handset the carrier cannot reach
    sandbox.fail_delivery(CUSTOMER, status=outcome, error_code=30003)
    result = client.send(CUSTOMER, "Bonjour", status_callback=receiver.url + STATUS_PATH)
    # when delivery is attempted
    sandbox.deliver_pending()
    # then the last callback says why, and the message resource agrees
    updates = [parse_status(p.form) for p in receiver.posts]
    assert [u.status for u in updates] == statuses
    assert (updates[-1].error_code, updates[0].error_code) == (30003, None)
    message = client.fetch(result.sid)
    assert (message["status"], message["error_code"]) == (outcome, 30003)


def test_out_of_order_callbacks_never_move_a_message_backwards(client, sandbox, receiver):
    # given all callbacks of a message, received in the reverse order
    client.send(CUSTOMER, "Bonjour", status_callback=receiver.url + STATUS_PATH)
    sandbox.deliver_pending()
    arrivals = [parse_status(p.form).status for p in reversed(receiver.posts)]
    assert arrivals == ["delivered", "sent", "queued"]
    # when we apply each one only if it is newer
    current = None
    for status in arrivals:
        if is_newer(current, status):
            current = status
    # then the message stays delivered
    assert current == "delivered"


@pytest.mark.parametrize(
    ("current", "incoming", "newer"),
    [
        (None, "queued", True),
        ("queued", "sent", True),
        ("sending", "sent", True),
        ("sent", "delivered", True),
        ("sent", "undelivered", True),
        ("queued", "failed", True),
        ("delivered", "sent", False),
        ("delivered", "undelivered", False),
        ("delivered", "read", True),
        ("undelivered", "delivered", False),
        ("failed", "sent", False),
        ("sent", "queued", False),
        ("sent", "sent", False),
        ("scheduled", "canceled", True),
        ("canceled", "queued", False),
        ("queued", "mystery", False),
    ],
)
def test_status_order(current, incoming, newer):
    # given a recorded status  # when a callback brings another  # then only progress applies
    assert is_newer(current, incoming) is newer


def test_auto_delivery_posts_callbacks_in_the_background(sandbox_url, _sandbox_server, receiver):
    # given the demo's sandbox, delivering on its own
    sandbox = TwilioSandbox(ACCOUNT_SID, AUTH_TOKEN, auto_deliver=True, auto_delay=0.02)
    _sandbox_server[0].target = sandbox.app
    try:
        client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, from_number=SENDER, base_url=sandbox_url)
        # when a message is sent
        client.send(CUSTOMER, "Bonjour", status_callback=receiver.url + STATUS_PATH)
        # then its callbacks arrive by themselves, in order
        posts = receiver.wait_for(3)
        assert [parse_status(p.form).status for p in posts] == ["queued", "sent", "delivered"]
    finally:
        sandbox.close()


def test_without_delivery_messages_stay_queued(sandbox_url, _sandbox_server, receiver):
    # given a sandbox that never delivers
    sandbox = TwilioSandbox(ACCOUNT_SID, AUTH_TOKEN, deliver=False)
    _sandbox_server[0].target = sandbox.app
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, from_number=SENDER, base_url=sandbox_url)
    # when a message is sent and pending callbacks are flushed
    result = client.send(CUSTOMER, "Bonjour", status_callback=receiver.url + STATUS_PATH)
    # then nothing is posted and the message is still queued
    assert sandbox.deliver_pending() == [] and receiver.posts == []
    assert client.fetch(result.sid)["status"] == "queued"


@pytest.mark.parametrize("missing", ["MessageSid", "From", "To"])
def test_status_callback_without_required_field_is_a_payload_error(missing):
    # given a callback lacking a required field
    form = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "sent", "From": SENDER, "To": CUSTOMER}
    del form[missing]
    # when parsed  # then PayloadError
    with pytest.raises(PayloadError):
        parse_status(form)


def test_status_callback_with_unknown_status_is_a_payload_error():
    form = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "teleported", "From": SENDER,
            "To": CUSTOMER}
    with pytest.raises(PayloadError):
        parse_status(form)


def test_older_sms_status_field_and_empty_error_code_are_read():
    # given an older-style callback: SmsStatus only, an empty ErrorCode, and unknown fields
    form = {"SmsSid": "SM" + "b" * 32, "MessageSid": "SM" + "b" * 32, "SmsStatus": "sent",
            "ErrorCode": "", "From": SENDER, "To": CUSTOMER, "ChannelPrefix": "sms"}
    # when parsed
    update = parse_status(form)
    # then the status is read, no error code, and the raw form is kept whole
    assert (update.status, update.error_code) == ("sent", None)
    assert update.raw["ChannelPrefix"] == "sms"
