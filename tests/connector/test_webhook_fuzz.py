"""Fuzzing the three webhook endpoints with well-signed bodies of every shape: each is answered
by one of its documented statuses (never a 5xx), and whatever is stored ends in a final status
once the worker has run (nothing stays `received`)."""

from __future__ import annotations

import json
import time

import pytest
from hubspot.utils.signature import Signature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automations.models import StoreEvent
from connector.worker.jobs import drain_events
from tests.connector.helpers import count, make_shop, post_shopify
from tests.connector.test_twilio_routes import _post as post_twilio

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
# Keys the parsers look at, so that fuzzed objects reach past the first checks.
SHOPIFY_KEYS = st.sampled_from(["id", "admin_graphql_api_id", "email", "phone", "customer", "line_items",
                                "checkout_token", "destination", "shipment_status", "total_price",
                                "sms_marketing_consent", "updated_at", "token", "order_id"])
HUBSPOT_KEYS = st.sampled_from(["eventId", "subscriptionType", "objectId", "portalId", "occurredAt",
                                "propertyName", "propertyValue", "changeSource", "appId", "attemptNumber"])
BODIES = st.one_of(
    st.binary(max_size=200),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(SHOPIFY_KEYS | HUBSPOT_KEYS | st.text(max_size=8), JSON, max_size=8)
    .map(lambda v: json.dumps(v).encode()),
    st.lists(st.dictionaries(HUBSPOT_KEYS, JSON, max_size=10), max_size=3).map(lambda v: json.dumps(v).encode()),
)
TOPICS = st.sampled_from(["orders/create", "orders/paid", "checkouts/update", "fulfillments/create",
                          "customers/update", "customers_marketing_consent/update", "customers/redact",
                          "app/uninstalled", "products/update", ""])


def _settle(app) -> None:
    """Run the events drain; then nothing stored may still wait."""
    drain_events()
    db = app.extensions["parlons"].db
    assert count(db, StoreEvent, StoreEvent.status == "received") == 0
    assert count(db, StoreEvent, StoreEvent.status.not_in(("processed", "invalid", "failed"))) == 0


@pytest.fixture
def shop(app):
    return make_shop(app.extensions["parlons"].db, sms_number="+33700000001")


@FUZZ
@given(body=BODIES, topic=TOPICS)
def test_shopify_answers_every_signed_body_as_documented(app, client, shop, body, topic):
    answer = post_shopify(client, body, topic, app.extensions["parlons"].config.shopify_api_secret)
    assert answer.status_code in (200, 400), answer.get_data(as_text=True)
    _settle(app)


@FUZZ
@given(body=BODIES)
def test_hubspot_answers_every_signed_body_as_documented(app, client, shop, body):
    config = app.extensions["parlons"].config
    timestamp = str(int(time.time() * 1000))
    uri = "http://127.0.0.1:5000/webhooks/hubspot"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    headers = {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": timestamp}
    if text is not None:
        headers["X-HubSpot-Signature-v3"] = Signature.get_signature(
            config.hubspot_client_secret, text, "v3", http_uri=uri, http_method="POST", timestamp=timestamp)
    answer = client.post("/webhooks/hubspot", data=body, headers=headers)
    assert answer.status_code in ((200, 400) if text is not None else (401,)), answer.get_data(as_text=True)
    _settle(app)


FORM_VALUES = st.text(max_size=20) | st.sampled_from(["+33612345678", "delivered", "failed", "30003",
                                                      "STOP", "0", "2", "SM1", "AC" + "0" * 32])
FORM = st.dictionaries(st.sampled_from(["MessageSid", "MessageStatus", "AccountSid", "To", "From", "Body",
                                        "NumMedia", "ErrorCode", "MediaUrl0", "SmsStatus", "NumSegments"]),
                       FORM_VALUES, max_size=9)


@FUZZ
@given(form=FORM, path=st.sampled_from(["/webhooks/twilio/status", "/webhooks/twilio/inbound"]))
def test_twilio_answers_every_signed_form_as_documented(app, client, shop, form, path):
    answer = post_twilio(client, path, form)
    assert answer.status_code in (200, 400), answer.get_data(as_text=True)
    _settle(app)
