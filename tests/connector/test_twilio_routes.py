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


def test_a_partially_delivered_report_is_stored_and_becomes_the_messages_status(app, client):
    from automations.models import Message, utcnow
    from connector.worker.jobs import drain_events
    from tests.connector.helpers import make_shop

    # given a long SMS Twilio accepted in three parts
    db = app.extensions["parlons"].db
    shop_id = make_shop(db)
    with db.transaction() as s:
        s.add(Message(shop_id=shop_id, direction="outbound", kind="marketing", to_phone="+33612345678",
                      body="x" * 400, status="sent", provider="twilio", provider_message_id="SMpart",
                      idempotency_key="part-1", created_at=utcnow()))
    # when Twilio reports that only some parts arrived
    form = {"MessageSid": "SMpart", "MessageStatus": "partially_delivered", "AccountSid": "AC" + "0" * 32,
            "To": "+33612345678", "From": "+33700000001", "ErrorCode": "30008"}
    assert _post(client, "/webhooks/twilio/status", form).status_code == 200
    drain_events()
    # then the message says so, with Twilio's error code, and no later report moves it back
    with db.session() as s:
        message = s.query(Message).one()
        assert (message.status, message.error_code) == ("partially_delivered", "30008")
