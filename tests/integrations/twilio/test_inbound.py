"""Inbound SMS: the sandbox's phone texts the app like Twilio would; we verify and parse."""

from __future__ import annotations

import pytest
import requests

from integrations.twilio.webhooks import PayloadError, parse_inbound
from tests.integrations.twilio.conftest import ACCOUNT_SID, SENDER

CUSTOMER = "+33612345678"
INBOUND_PATH = "/webhooks/twilio/inbound"


def test_inbound_mms_with_media_is_signed_and_parsed(sandbox, receiver):
    # given a customer sending two pictures with a caption
    media = ("https://api.twilio.example/media/ME1.jpg", "https://api.twilio.example/media/ME2.png")
    # when Twilio posts the inbound webhook to our app
    response = sandbox.send_inbound(CUSTOMER, SENDER, "Voici la photo", receiver.url + INBOUND_PATH,
                                    media_urls=media)
    # then the signature checks out and every field is read
    assert response.status_code == 204
    post = receiver.posts[0]
    assert post.valid and post.path == INBOUND_PATH
    sms = parse_inbound(post.form)
    assert (sms.from_, sms.to, sms.body, sms.account_sid) == (CUSTOMER, SENDER, "Voici la photo",
                                                              ACCOUNT_SID)
    assert sms.num_media == 2 and sms.media_urls == media
    assert sms.message_sid.startswith("MM") and sms.raw["MediaContentType1"] == "image/png"
    assert sms.raw["FromCountry"] == "FR" and sms.raw["SmsStatus"] == "received"


@pytest.mark.parametrize("body", ["", "OUI", "Да, спасибо 👍", "ARRÊT", "はい 3️⃣", " stop \n"])
def test_inbound_bodies_arrive_intact(sandbox, receiver, body):
    # given a reply that is empty, accented, Cyrillic, Japanese or emoji
    # when Twilio posts it
    sandbox.send_inbound(CUSTOMER, SENDER, body, receiver.url + INBOUND_PATH)
    # then its signature is valid and the body is exactly what the customer typed
    post = receiver.posts[0]
    assert post.valid
    sms = parse_inbound(post.form)
    assert sms.body == body and sms.num_media == 0 and sms.media_urls == ()
    assert sms.message_sid.startswith("SM")


def test_phone_view_lists_received_messages_and_replies_as_the_customer(
    client, sandbox, sandbox_url, receiver
):
    # given our number is configured to post replies to the app, and two messages went out
    sandbox.add_number(SENDER, sms_url=receiver.url + INBOUND_PATH)
    first = client.send(CUSTOMER, "Essai: 1, 2 ou 3 ?")
    second = client.send(CUSTOMER, "Répondez 1, 2 ou 3")
    # when the demo's phone view is opened
    inbox = requests.get(f"{sandbox_url}/sandbox/phones/{CUSTOMER}", timeout=5).json()
    # then it shows them oldest first
    assert [m["sid"] for m in inbox] == [first.sid, second.sid]
    # and when the customer replies from it
    answer = requests.post(f"{sandbox_url}/sandbox/phones/{CUSTOMER}/reply",
                           json={"body": "2"}, timeout=5)
    # then the app received a signed reply to our number, and the phone view is unchanged
    assert answer.status_code == 200 and answer.json()["app_status"] == 204
    sms = parse_inbound(receiver.posts[0].form)
    assert receiver.posts[0].valid
    assert (sms.from_, sms.to, sms.body, sms.message_sid) == (
        CUSTOMER, SENDER, "2", answer.json()["message_sid"])
    assert len(sandbox.inbox(CUSTOMER)) == 2


def test_reply_without_a_destination_is_refused(sandbox, sandbox_url):
    # given a phone that never received anything  # when it replies without `to`
    answer = requests.post(f"{sandbox_url}/sandbox/phones/{CUSTOMER}/reply",
                           json={"body": "Bonjour"}, timeout=5)
    # then the sandbox says what is missing
    assert answer.status_code == 400


@pytest.mark.parametrize("missing", ["MessageSid", "From", "To"])
def test_inbound_without_required_field_is_a_payload_error(missing):
    # given an inbound form lacking a required field
    form = {"MessageSid": "SM" + "c" * 32, "From": CUSTOMER, "To": SENDER, "Body": "OUI",
            "NumMedia": "0"}
    del form[missing]
    # when parsed  # then PayloadError
    with pytest.raises(PayloadError):
        parse_inbound(form)


def test_inbound_announcing_media_it_lacks_is_a_payload_error():
    form = {"MessageSid": "MM" + "c" * 32, "From": CUSTOMER, "To": SENDER, "Body": "",
            "NumMedia": "2", "MediaUrl0": "https://example.test/a.jpg"}
    with pytest.raises(PayloadError):
        parse_inbound(form)
