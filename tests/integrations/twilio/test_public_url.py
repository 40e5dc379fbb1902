"""Signatures behind a reverse proxy: check against the URL Twilio called, not the one we see."""

from __future__ import annotations

import pytest
import requests
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

from integrations.serving import serve
from integrations.twilio.webhooks import public_url, verify_signature
from tests.integrations.twilio.conftest import AUTH_TOKEN, SENDER

CUSTOMER = "+33612345678"


@pytest.fixture(scope="module")
def proxy(_receiver_server):
    """A reverse proxy in front of the receiving app, adding X-Forwarded-* as nginx would."""
    app = Flask("proxy")
    upstream = _receiver_server[1]

    @app.post("/<path:path>")
    def forward(path):
        headers = {"X-Twilio-Signature": request.headers.get("X-Twilio-Signature", ""),
                   "X-Forwarded-Proto": request.scheme, "X-Forwarded-Host": request.host}
        answer = requests.post(f"{upstream}/{path}", data=request.form, headers=headers,
                               params=request.args, timeout=5)
        return Response(answer.content, status=answer.status_code)

    running = serve(app)
    yield running.url
    running.stop()


def test_callback_through_a_proxy_verifies_with_the_public_url(client, sandbox, receiver, proxy):
    # given our app behind a proxy, and Twilio calling the proxy's address
    client.send(CUSTOMER, "Bonjour", status_callback=f"{proxy}/webhooks/twilio/status?shop=7")
    # when the callbacks come through the proxy
    sandbox.deliver_pending()
    # then the app accepts them by rebuilding the public URL from X-Forwarded-*
    assert len(receiver.posts) == 3
    assert all(p.valid for p in receiver.posts)
    # while checking the URL the app itself saw would have rejected them
    assert not any(p.valid_as_seen for p in receiver.posts)


def test_inbound_through_a_proxy_verifies_with_the_public_url(sandbox, receiver, proxy):
    # given a customer reply posted by Twilio to the proxy
    response = sandbox.send_inbound(CUSTOMER, SENDER, "STOP", f"{proxy}/webhooks/twilio/inbound")
    # then the app accepted it
    assert response.status_code == 204 and receiver.posts[0].valid


def test_configured_public_url_with_a_path_prefix():
    # given Twilio calls https://sms.example.com/parlons/webhooks/twilio/inbound and the proxy
    # strips /parlons before our app
    called = "https://sms.example.com/parlons/webhooks/twilio/inbound?x=1"
    form = {"MessageSid": "SM" + "d" * 32, "From": CUSTOMER, "To": SENDER, "Body": "OUI"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(called, form)
    seen = "http://10.0.0.5:8000/webhooks/twilio/inbound?x=1"
    # when the app rebuilds the URL from its configured public URL
    rebuilt = public_url(seen, {}, "https://sms.example.com/parlons/")
    # then it is the URL Twilio signed, and the signature verifies
    assert rebuilt == called
    assert verify_signature(rebuilt, form, signature, AUTH_TOKEN)
    assert not verify_signature(seen, form, signature, AUTH_TOKEN)


@pytest.mark.parametrize(
    ("seen", "headers", "configured", "expected"),
    [
        ("http://127.0.0.1:8000/w?a=1", {}, None, "http://127.0.0.1:8000/w?a=1"),
        ("http://app:8000/w", {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.example.com"},
         None, "https://sms.example.com/w"),
        ("http://app:8000/w", {"x-forwarded-proto": "https, http",
                               "x-forwarded-host": "sms.example.com, app"},
         None, "https://sms.example.com/w"),
        ("http://app/w", {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.example.com",
                          "X-Forwarded-Port": "8443"}, None, "https://sms.example.com:8443/w"),
        ("http://app/w", {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.example.com",
                          "X-Forwarded-Port": "443"}, None, "https://sms.example.com/w"),
        ("http://app/w", {"X-Forwarded-Host": "evil.example"}, "https://sms.example.com",
         "https://sms.example.com/w"),
        ("http://app/parlons/w", {}, "https://sms.example.com/parlons", "https://sms.example.com/parlons/w"),
    ],
)
def test_public_url_rebuilding(seen, headers, configured, expected):
    # given what the app saw  # when rebuilt  # then the URL Twilio called
    assert public_url(seen, headers, configured) == expected
