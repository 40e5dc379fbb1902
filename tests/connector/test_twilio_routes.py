"""Twilio webhooks check in the fixed order: signature (401), then the form (400), then store."""

from __future__ import annotations

from twilio.request_validator import RequestValidator

from automations.models import StoreEvent
from tests.connector.helpers import count

TOKEN = "test-twilio-token"
PUBLIC = "http://127.0.0.1:5000"


def _post(client, path: str, form: dict, token: str = TOKEN):
    signature = RequestValidator(token).compute_signature(f"{PUBLIC}{path}", form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def test_unsigned_or_badly_signed_callbacks_are_refused(app, client):
    form = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": "+33612345678", "From": "+33700000001"}
    assert client.post("/webhooks/twilio/status", data=form).status_code == 401
    assert _post(client, "/webhooks/twilio/status", form, token="another-token").status_code == 401
    assert count(app.extensions["parlons"].db, StoreEvent) == 0


def test_a_signed_but_incomplete_form_is_400_and_a_good_one_is_stored_once(app, client):
    answer = _post(client, "/webhooks/twilio/inbound", {"MessageSid": "SM2", "Body": "OUI"})
    assert answer.status_code == 400 and answer.json["outcome"] == "bad_payload"
    form = {"MessageSid": "SM3", "AccountSid": "AC" + "0" * 32, "From": "+33612345678",
            "To": "+33700000001", "Body": "OUI", "NumMedia": "0"}
    assert _post(client, "/webhooks/twilio/inbound", form).status_code == 200
    assert _post(client, "/webhooks/twilio/inbound", form).status_code == 200
    assert count(app.extensions["parlons"].db, StoreEvent) == 1
