"""Signature checks over raw bytes, and payloads that bend or break the rules."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from automations import events as ev
from integrations.shopify.webhooks import PayloadError, translate, verify_hmac

FIXTURES = Path(__file__).parents[2] / "fixtures" / "shopify" / "2026-01"
SECRET = "shpss_app_secret"


def raw(topic: str) -> bytes:
    return (FIXTURES / f"{topic.replace('/', '__')}.json").read_bytes()


def payload(topic: str) -> dict:
    return copy.deepcopy(json.loads(raw(topic)))


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


# --- HMAC ------------------------------------------------------------------------------------


def test_signature_over_the_exact_bytes_is_accepted():
    body = raw("orders/create")
    assert verify_hmac(body, sign(body), SECRET)


def test_re_serialised_body_does_not_match_the_original_signature():
    # Given a signature over Shopify's bytes, when the body is parsed and dumped again, it fails.
    body = raw("orders/create")
    assert not verify_hmac(json.dumps(json.loads(body)).encode(), sign(body), SECRET)


def test_one_changed_byte_is_refused():
    body = raw("checkouts/create")
    tampered = body.replace(b'"421.88"', b'"421.89"')
    assert tampered != body
    assert not verify_hmac(tampered, sign(body), SECRET)


@pytest.mark.parametrize("header", [None, "", "not base64 at all", sign(b"{}")])
def test_missing_or_wrong_header_is_refused(header):
    assert not verify_hmac(raw("shop/redact"), header, SECRET)


def test_signature_with_another_secret_is_refused():
    body = raw("shop/redact")
    assert not verify_hmac(body, sign(body, "someone-else"), SECRET)


# --- payloads --------------------------------------------------------------------------------


def test_checkout_without_token_is_a_payload_error_keyed_by_field():
    body = payload("checkouts/update")
    del body["token"]
    with pytest.raises(PayloadError) as caught:
        translate("checkouts/update", body)
    assert "token" in caught.value.messages


def test_order_with_a_foreign_gid_is_refused():
    body = payload("orders/paid")
    body["admin_graphql_api_id"] = "gid://shopify/Customer/1"
    with pytest.raises(PayloadError) as caught:
        translate("orders/paid", body)
    assert "admin_graphql_api_id" in caught.value.messages


def test_line_item_with_bad_quantity_and_total_are_refused():
    body = payload("orders/create")
    body["line_items"][1]["quantity"] = "lots"
    body["total_price"] = "free"
    with pytest.raises(PayloadError) as caught:
        translate("orders/create", body)
    assert caught.value.messages["line_items"][1] == {"quantity": ["Not a valid integer."]}
    assert "total_price" in caught.value.messages


def test_body_that_is_not_an_object_is_a_payload_error():
    with pytest.raises(PayloadError):
        translate("orders/create", [1, 2])  # type: ignore[arg-type]


def test_unknown_topic_is_not_translated():
    with pytest.raises(ValueError, match="unsupported"):
        translate("products/create", {})


def test_compliance_request_without_customer_is_refused():
    body = payload("customers/redact")
    del body["customer"]
    with pytest.raises(PayloadError) as caught:
        translate("customers/redact", body)
    assert "customer" in caught.value.messages


def test_invalid_or_missing_phone_keeps_the_event():
    body = payload("checkouts/create")
    body["phone"] = "call me maybe"
    event = translate("checkouts/create", body)[0]
    assert event.contact.phone == "call me maybe"

    for key in ("shipping_address", "billing_address"):
        body[key]["phone"] = None
    body["phone"] = None
    event = translate("checkouts/create", body)[0]
    assert event.type == ev.CHECKOUT_UPDATED and event.contact.phone is None


def test_checkout_phone_prefers_checkout_then_sms_marketing_phone():
    body = payload("checkouts/update")
    body["sms_marketing_phone"] = "+33612345678"
    assert translate("checkouts/update", body)[0].contact.phone == "+33612345678"
    body["phone"] = "+33700000000"
    assert translate("checkouts/update", body)[0].contact.phone == "+33700000000"


def test_checkout_without_an_id_since_2026_04_is_fine():
    body = payload("checkouts/create")
    del body["id"]
    assert translate("checkouts/create", body)[0].subject_key == "123123123"


@pytest.mark.parametrize(
    "status,event_type",
    [
        ("in_transit", ev.ORDER_SHIPPED),
        ("out_for_delivery", ev.OUT_FOR_DELIVERY),
        ("delivered", ev.DELIVERED),
        ("failure", ev.DELIVERY_PROBLEM),
        ("attempted_delivery", ev.DELIVERY_PROBLEM),
    ],
)
def test_shipment_status_transitions_are_their_own_events(status, event_type):
    body = payload("fulfillments/update")
    body["shipment_status"] = status
    event = translate("fulfillments/update", body)[0]
    assert event.type == event_type
    gid = "gid://shopify/Fulfillment/123456"
    assert event.subject_key == (gid if event_type == ev.ORDER_SHIPPED else f"{gid}:{status}")


def test_cancelled_fulfillment_yields_nothing():
    body = payload("fulfillments/update")
    body["status"] = "cancelled"
    assert translate("fulfillments/update", body) == []


def test_fulfillment_without_gid_is_refused():
    body = payload("fulfillments/create")
    del body["admin_graphql_api_id"]
    with pytest.raises(PayloadError):
        translate("fulfillments/create", body)


@pytest.mark.parametrize(
    "state,status",
    [
        ("subscribed", ev.SUBSCRIBED),
        ("unsubscribed", ev.UNSUBSCRIBED),
        ("pending", ev.PENDING),
        ("not_subscribed", ev.NOT_SUBSCRIBED),
        ("redacted", ev.NOT_SUBSCRIBED),
        ("invalid", ev.NOT_SUBSCRIBED),
    ],
)
def test_sms_consent_states_map_to_ours_with_evidence(state, status):
    body = payload("customers_marketing_consent/update")
    body["phone"] = "+33612345678"
    body["sms_marketing_consent"] = {
        "state": state, "opt_in_level": "single_opt_in",
        "consent_updated_at": "2026-03-01T10:00:00+01:00", "consent_collected_from": "SHOPIFY",
    }
    event = translate("customers_marketing_consent/update", body)[0]
    assert event.consent.status == status
    assert event.consent.evidence["state"] == state
    assert event.consent.evidence["opt_in_level"] == "single_opt_in"
    assert event.consent.evidence["consent_collected_from"] == "SHOPIFY"
    assert event.consent.occurred_at.isoformat() == "2026-03-01T10:00:00+01:00"
    assert event.contact.phone == "+33612345678"


def test_unknown_sms_consent_state_or_missing_customer_is_refused():
    body = payload("customers_marketing_consent/update")
    body["sms_marketing_consent"]["state"] = "maybe"
    with pytest.raises(PayloadError) as caught:
        translate("customers_marketing_consent/update", body)
    assert "sms_marketing_consent" in caught.value.messages

    body = payload("customers_marketing_consent/update")
    del body["id"]
    with pytest.raises(PayloadError) as caught:
        translate("customers_marketing_consent/update", body)
    assert "id" in caught.value.messages
