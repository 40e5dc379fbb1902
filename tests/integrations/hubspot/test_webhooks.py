"""HubSpot webhooks: signature v3 over real HTTP, batch parsing, translation to domain events."""

from __future__ import annotations

import json
import time

import pytest
from flask import Flask, request

from automations.events import (
    CONSENT_CHANGED,
    CUSTOMER_CREATED,
    CUSTOMER_DELETED,
    CUSTOMER_REDACT,
    CUSTOMER_UPDATED,
    SUBSCRIBED,
    UNSUBSCRIBED,
)
from integrations.hubspot.schemas import PayloadError, parse_batch
from integrations.hubspot.webhooks import is_echo, public_uri, translate, verify_signature_v3
from integrations.serving import serve

SECRET = "sandbox-client-secret"
PUBLIC = "https://parlons.example.com"


@pytest.fixture
def receiver():
    """The app's webhook edge, reduced to its signature check (behind a proxy when configured)."""
    app = Flask("receiver")
    seen = {}

    @app.post("/webhooks/hubspot")
    def hook():
        uri = public_uri(request.url, request.headers, app.config.get("PUBLIC_URL"))
        ok = verify_signature_v3(request.method, uri, request.get_data(),
                                 request.headers.get("X-HubSpot-Request-Timestamp"),
                                 request.headers.get("X-HubSpot-Signature-v3"), SECRET)
        seen["uri"] = uri
        return ("", 204) if ok else ("bad signature", 401)

    server = serve(app)
    yield app, server.url + "/webhooks/hubspot", seen
    server.stop()


def test_a_batch_signed_by_hubspot_is_accepted(sandbox, receiver):
    _, url, _ = receiver
    events = [sandbox.event(1001, "contact.creation", 51)]
    assert sandbox.send_webhook_batch(events, url, SECRET).status_code == 204


def test_a_wrong_secret_is_refused(sandbox, receiver):
    _, url, _ = receiver
    assert sandbox.send_webhook_batch([sandbox.event(1001, "contact.creation", 51)], url, "other").status_code == 401


@pytest.mark.parametrize("skew_minutes", [-6, 6])
def test_stale_and_future_timestamps_are_refused(sandbox, receiver, skew_minutes):
    # given a batch signed correctly but dated six minutes in the past or the future
    _, url, _ = receiver
    when = int((time.time() + skew_minutes * 60) * 1000)
    # then it is refused: a replay, or a clock we cannot trust
    response = sandbox.send_webhook_batch([sandbox.event(1001, "contact.creation", 51)], url, SECRET,
                                          timestamp_ms=when)
    assert response.status_code == 401


def test_behind_a_proxy_the_public_uri_is_rebuilt_from_forwarded_headers(sandbox, receiver):
    # given HubSpot called the public https URL, which a proxy forwarded to our inside address
    _, url, seen = receiver
    public = f"{PUBLIC}/webhooks/hubspot"
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "parlons.example.com"}
    events = [sandbox.event(1001, "contact.creation", 51)]

    # when the batch arrives with the forwarded headers, then the signature checks out
    assert sandbox.send_webhook_batch(events, url, SECRET, signed_uri=public,
                                      extra_headers=forwarded).status_code == 204
    assert seen["uri"] == public
    # and without them (the inside URL), it does not
    assert sandbox.send_webhook_batch(events, url, SECRET, signed_uri=public).status_code == 401


def test_a_configured_public_url_wins_over_headers(sandbox, receiver):
    app, url, seen = receiver
    app.config["PUBLIC_URL"] = PUBLIC
    events = [sandbox.event(1001, "contact.creation", 51)]
    assert sandbox.send_webhook_batch(events, url, SECRET, signed_uri=f"{PUBLIC}/webhooks/hubspot",
                                      extra_headers={"X-Forwarded-Host": "evil.example"}).status_code == 204
    assert seen["uri"] == f"{PUBLIC}/webhooks/hubspot"


def test_signature_covers_the_body_and_decodes_the_uri_like_hubspot():
    # given a signature over a URI whose query HubSpot decoded (%3A -> :) before signing
    from hubspot.utils.signature import Signature

    body, ts = b'[{"eventId":1}]', str(int(time.time() * 1000))
    signed = Signature.get_signature(SECRET, body.decode(), "v3", http_uri="https://x.example/h?a=b:c",
                                     http_method="POST", timestamp=ts)
    # then the encoded form we receive verifies, and a changed body does not
    assert verify_signature_v3("POST", "https://x.example/h?a=b%3Ac", body, ts, signed, SECRET)
    assert not verify_signature_v3("POST", "https://x.example/h?a=b%3Ac", body + b" ", ts, signed, SECRET)
    assert not verify_signature_v3("POST", "https://x.example/h", body, None, signed, SECRET)
    assert not verify_signature_v3("POST", "https://x.example/h", body, "yesterday", signed, SECRET)


def test_public_uri_understands_rfc7239_forwarded():
    uri = public_uri("http://10.0.0.5:8000/webhooks/hubspot?x=1",
                     {"Forwarded": 'for=1.2.3.4;proto=https;host="parlons.example.com"'})
    assert uri == "https://parlons.example.com/webhooks/hubspot?x=1"


# ----- parsing --------------------------------------------------------------------------------

def _event(**fields):
    base = {"eventId": 1, "subscriptionId": 9, "portalId": 1001, "appId": 424242, "occurredAt": 1767225600000,
            "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": 51,
            "changeSource": "CRM", "sourceId": "userId:7"}
    return {**base, **fields}


def test_a_batch_is_parsed_oldest_first_and_unknown_fields_are_dropped():
    body = json.dumps([
        _event(eventId=2, occurredAt=1767225602000, propertyName="phone", propertyValue="+33612345678",
               isSensitive=False, changeFlag="PROPERTY_CHANGED"),
        _event(eventId=1, subscriptionType="contact.merge", mergedObjectIds=[52, 53], primaryObjectId=51,
               newObjectId=51, numberOfPropertiesMoved=4, sourceId=424242),
    ]).encode()
    first, second = parse_batch(body)
    assert (first.event_id, second.event_id) == (1, 2)
    assert first.merged_object_ids == [52, 53] and first.source_id == "424242"
    assert second.property_value == "+33612345678"
    assert second.occurred_at.isoformat() == "2026-01-01T00:00:02+00:00"


@pytest.mark.parametrize("body", [
    b"not json",
    b'{"eventId": 1}',
    json.dumps([{"portalId": 1, "occurredAt": 1, "subscriptionType": "contact.creation"}]).encode(),
    json.dumps([_event(occurredAt="yesterday")]).encode(),
    json.dumps([_event(propertyValue={"nested": True})]).encode(),
    json.dumps([_event(eventId=i) for i in range(101)]).encode(),
])
def test_a_malformed_batch_is_a_payload_error(body):
    with pytest.raises(PayloadError):
        parse_batch(body)


# ----- translation ----------------------------------------------------------------------------

def _one(**fields):
    return parse_batch(json.dumps([_event(**fields)]).encode())[0]


def test_a_new_contact_is_customer_created():
    domain = translate(_one(subscriptionType="contact.creation"))
    assert domain.type == CUSTOMER_CREATED
    assert domain.contact.hubspot_contact_id == "51"
    assert domain.subject_key == "hubspot:contact:51"
    assert domain.data["portal_id"] == 1001 and domain.data["event_id"] == 1


def test_a_consent_change_by_a_crm_user_carries_its_evidence():
    domain = translate(_one(propertyName="parlons_sms_consent", propertyValue="unsubscribed"), own_app_id=424242)
    assert domain.type == CONSENT_CHANGED
    assert domain.consent.status == UNSUBSCRIBED and domain.consent.source == "hubspot"
    assert domain.consent.evidence == {"sourceId": "userId:7", "changeSource": "CRM", "eventId": 1,
                                       "occurredAt": 1767225600000, "portalId": 1001}
    assert domain.consent.occurred_at == domain.occurred_at


def test_a_consent_value_that_is_not_ours_states_nothing():
    assert translate(_one(propertyName="parlons_sms_consent", propertyValue="")) is None
    assert translate(_one(propertyName="parlons_sms_consent", propertyValue="maybe")) is None


@pytest.mark.parametrize("name", ["phone", "mobilephone", "parlons_phone_e164"])
def test_a_phone_change_is_customer_updated(name):
    domain = translate(_one(propertyName=name, propertyValue="+33612345678"))
    assert domain.type == CUSTOMER_UPDATED
    assert domain.contact.phone == "+33612345678"
    assert domain.data["changed"] == {name: "+33612345678"}


def test_other_properties_are_ignored():
    assert translate(_one(propertyName="hs_lead_status", propertyValue="OPEN")) is None


def test_deletions_merges_and_unknown_types():
    assert translate(_one(subscriptionType="contact.deletion")).type == CUSTOMER_DELETED
    assert translate(_one(subscriptionType="contact.privacyDeletion")).type == CUSTOMER_REDACT
    merge = translate(_one(subscriptionType="contact.merge", mergedObjectIds=[52], primaryObjectId=51,
                           newObjectId=60))
    assert merge.type == CUSTOMER_UPDATED
    assert merge.contact.hubspot_contact_id == "60"
    assert merge.data["merge"] == {"merged_object_ids": ["52"], "primary_object_id": "51", "new_object_id": "60"}
    assert translate(_one(subscriptionType="deal.creation")) is None
    assert translate(_one(subscriptionType="contact.associationChange")) is None


def test_our_own_writes_coming_back_are_echoes():
    # given events caused by our app's API writes, and one by a user setting what we last wrote
    ours = _one(propertyName="parlons_sms_consent", propertyValue=SUBSCRIBED, changeSource="INTEGRATION",
                sourceId="424242")
    ours_api = _one(subscriptionType="contact.creation", changeSource="API", sourceId="424242")
    same_value = _one(propertyName="parlons_sms_consent", propertyValue=SUBSCRIBED)
    other_app = _one(propertyName="parlons_sms_consent", propertyValue=SUBSCRIBED, changeSource="INTEGRATION",
                     sourceId="999")
    # then ours are dropped, another app's change is not
    assert is_echo(ours, 424242) and translate(ours, own_app_id=424242) is None
    assert translate(ours_api, own_app_id=424242) is None
    assert translate(same_value, own_app_id=424242, last_written=SUBSCRIBED) is None
    assert translate(other_app, own_app_id=424242).type == CONSENT_CHANGED
    # and a deletion is never taken for an echo
    gone = _one(subscriptionType="contact.deletion", changeSource="INTEGRATION", sourceId="424242")
    assert translate(gone, own_app_id=424242).type == CUSTOMER_DELETED
