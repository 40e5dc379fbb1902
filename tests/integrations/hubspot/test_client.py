"""The HubSpot client against the sandbox, through the official library over real HTTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from integrations.errors import ApiError, Unauthorized
from integrations.hubspot.client import HubSpotClient
from integrations.retry import RetryPolicy
from tests.integrations.hubspot.conftest import PORTAL


def test_property_bootstrap_is_idempotent(sandbox, make_client):
    # given a portal that has never seen the app
    client = make_client()

    # when the properties are ensured twice (a reinstall, or two workers)
    first = client.ensure_properties()
    second = client.ensure_properties()

    # then the first run created the group and the four properties, the second nothing
    assert first == ["parlons", "parlons_sms_consent", "parlons_sms_consent_updated_at",
                     "parlons_sms_consent_source", "parlons_phone_e164"]
    assert second == []
    props = sandbox.portal(PORTAL).properties
    assert [o["value"] for o in props["parlons_sms_consent"]["options"]] == [
        "subscribed", "unsubscribed", "pending", "not_subscribed"]
    assert props["parlons_phone_e164"]["hasUniqueValue"] is True
    assert props["parlons_sms_consent_updated_at"]["type"] == "datetime"


def test_full_listing_pages_through_every_contact_once(sandbox, make_client):
    # given 250 contacts
    sandbox.add_contacts(PORTAL, 250)
    client = make_client()
    client.ensure_properties()

    # when the client pages through them
    seen, after, pages = [], None, 0
    while True:
        page, after = client.contacts_page(after=after)
        seen += page
        pages += 1
        if after is None:
            break

    # then it took three pages and saw every contact once, with the fields the sync needs
    assert pages == 3
    assert len({c["id"] for c in seen}) == 250
    assert seen[0]["properties"]["phone"] == "+33610000000"
    assert "parlons_sms_consent" in seen[0]["properties"]


def test_incremental_listing_returns_only_contacts_changed_since(sandbox, make_client):
    # given 30 contacts last changed a week ago and 20 changed an hour ago
    now = datetime.now(UTC)
    week_ago, hour_ago = now - timedelta(days=7), now - timedelta(hours=1)
    sandbox.add_contacts(PORTAL, 30, modified_ms=int(week_ago.timestamp() * 1000))
    recent = sandbox.add_contacts(PORTAL, 20, start=30, modified_ms=int(hour_ago.timestamp() * 1000))
    client = make_client()

    # when the client asks for what changed since yesterday
    page, after = client.contacts_page(modified_since=now - timedelta(days=1))

    # then only the 20 recent contacts come back
    assert after is None
    assert sorted(c["id"] for c in page) == sorted(recent)


def test_incremental_listing_goes_past_the_10000_search_window(sandbox, make_client):
    # given 10,300 contacts changed at 103 distinct instants
    base = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
    for step in range(103):
        sandbox.add_contacts(PORTAL, 100, start=step * 100, modified_ms=base + step * 1000)
    client = make_client(search_limit=100)  # HubSpot's 5 searches/s would make this test 10 s long

    # when the client pages through every change since then (200 per page)
    seen, after = set(), None
    while True:
        page, after = client.contacts_page(after=after, modified_since=datetime(2026, 1, 1, tzinfo=UTC),
                                           limit=200)
        seen.update(c["id"] for c in page)
        if after is None:
            break

    # then it re-anchored instead of failing at 10,000 and saw every contact
    assert len(seen) == 10_300


def test_find_contact_by_phone_prefers_our_property_then_phone_then_email(sandbox, make_client):
    # given one contact whose phone field holds a number, another with that number as ours
    client = make_client()
    client.ensure_properties()
    typed = client.create_contact({"phone": "+33612345678", "email": "typed@example.com"})
    ours = client.create_contact({"parlons_phone_e164": "+33612345678", "email": "ours@example.com"})
    only_mobile = client.create_contact({"mobilephone": "+33699999999"})

    # when we look them up
    # then our own property wins, the phone fields are searched next, then the email
    assert client.find_contact(phone_e164="+33612345678")["id"] == ours["id"]
    assert client.find_contact(phone_e164="+33699999999")["id"] == only_mobile["id"]
    assert client.find_contact(email="TYPED@example.com")["id"] == typed["id"]
    assert client.find_contact(phone_e164="+33600000000", email="typed@example.com")["id"] == typed["id"]
    assert client.find_contact(phone_e164="+33600000000") is None
    assert client.find_contact() is None


def test_batch_upsert_never_duplicates_a_contact(sandbox, make_client):
    # given our properties exist
    client = make_client()
    client.ensure_properties()
    contacts = [{"parlons_phone_e164": f"+3361000{i:04d}", "firstname": f"A{i}"} for i in range(150)]

    # when 150 contacts are upserted twice, the second time with new names and one number twice
    first = client.batch_upsert(contacts)
    before = client.requests
    again = [{**c, "firstname": "B"} for c in contacts] + [{"parlons_phone_e164": "+33610000000",
                                                               "parlons_sms_consent": "subscribed"}]
    second = client.batch_upsert(again)

    # then there are still 150 contacts, updated in place, in two calls of at most 100
    assert len(first) == 150 and all(r["new"] for r in first)
    assert len(second) == 150 and not any(r["new"] for r in second)
    assert client.requests - before == 2
    stored = sandbox.contacts_for(PORTAL)
    assert len(stored) == 150
    assert {c["firstname"] for c in stored} == {"B"}
    assert next(c for c in stored if c["parlons_phone_e164"] == "+33610000000")["parlons_sms_consent"] == "subscribed"
    assert {r["id"] for r in first} == {r["id"] for r in second}


def test_batch_read_and_update(sandbox, make_client):
    # given three contacts
    ids = sandbox.add_contacts(PORTAL, 3)
    client = make_client()
    client.ensure_properties()

    # when one is updated with its consent and all are read back
    client.update_contact(ids[1], {"parlons_sms_consent": "unsubscribed", "parlons_sms_consent_source": "sms"})
    read = {c["id"]: c for c in client.batch_read(ids)}

    # then the change is there
    assert read[ids[1]]["properties"]["parlons_sms_consent"] == "unsubscribed"
    assert read[ids[0]]["properties"]["parlons_sms_consent"] is None


def test_a_refused_write_is_an_api_error_and_is_not_retried(sandbox, make_client):
    # given a portal where our properties were never created
    client = make_client()
    ids = sandbox.add_contacts(PORTAL, 1)

    # when we write one of them
    with pytest.raises(ApiError) as refused:
        client.update_contact(ids[0], {"parlons_sms_consent": "subscribed"})

    # then HubSpot's 400 comes back with its category, after a single request
    assert refused.value.status == 400
    assert refused.value.code == "VALIDATION_ERROR"
    assert "PROPERTY_DOESNT_EXIST" in refused.value.body
    assert client.requests == 1


def test_an_expired_token_is_unauthorized(sandbox, make_client):
    client = make_client(token=sandbox.issue_token(PORTAL, expires_in=-1))
    with pytest.raises(Unauthorized) as refused:
        client.contacts_page()
    assert refused.value.status == 401
    assert client.requests == 1


def test_sms_is_logged_as_a_communication_on_the_contact(sandbox, make_client):
    # given a contact
    contact_id = sandbox.add_contacts(PORTAL, 1)[0]
    client = make_client()
    sent = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

    # when an SMS is logged, then edited (its delivery status changed)
    comm_id = client.create_communication(contact_id, "Bonjour Léa, votre colis arrive demain. STOP au 36111",
                                          sent, "msg0001abcd")
    client.update_communication(comm_id, "Bonjour Léa, votre colis arrive demain. (délivré)", "msg0001abcd")

    # then the contact's timeline has one SMS communication, logged from the CRM, findable by marker
    [logged] = sandbox.communications_for(contact_id)
    assert logged["id"] == comm_id
    assert logged["hs_communication_channel_type"] == "SMS"
    assert logged["hs_communication_logged_from"] == "CRM"
    assert logged["hs_communication_body"].startswith("Bonjour Léa, votre colis arrive demain. (délivré)")
    assert client.find_communication("msg0001abcd") == comm_id
    assert client.find_communication("msg0002abcd") is None


@pytest.mark.parametrize("mode", ["timeout", "502"])
def test_a_communication_is_written_once_across_a_failed_attempt(sandbox, make_client, mode):
    # given a contact and a HubSpot whose next answer to a communication write is lost
    # (the write lands but the answer comes after our timeout) or is a 502
    contact_id = sandbox.add_contacts(PORTAL, 1)[0]
    sandbox.timeout_sleep = 1.0
    sandbox.fail_next(1, mode, path="/crm/v3/objects/communications")
    client = make_client(timeout=0.3)

    # when the SMS is logged
    comm_id = client.create_communication(contact_id, "Votre commande est partie", datetime.now(UTC),
                                          "msg0042retry")

    # then exactly one communication exists, and it is the one returned
    logged = sandbox.communications_for(contact_id)
    assert [c["id"] for c in logged] == [comm_id]


def test_429_is_waited_out_with_no_failed_request(redis_conn, sandbox, hubspot_url):
    # given a portal allowing 5 calls per second, and a client configured too generously
    sandbox.rate_limit, sandbox.rate_interval_ms = 5, 1000
    client = HubSpotClient(sandbox.issue_token(PORTAL), portal_id=PORTAL, base_url=hubspot_url,
                           redis_conn=redis_conn, limit=100, per_seconds=10,
                           retry=RetryPolicy(attempts=5, base_delay=0.05))
    sandbox.add_contacts(PORTAL, 5)

    # when it makes 8 calls in a row
    started = time.monotonic()
    for _ in range(8):
        client.contacts_page(limit=1)
    elapsed = time.monotonic() - started

    # then every call succeeded, HubSpot said 429 and we waited its Retry-After (1 s)
    assert client.throttled >= 1
    assert sandbox.portal(PORTAL).throttled == client.throttled
    assert client.requests == 8 + client.throttled
    assert elapsed >= 0.9


def test_a_well_configured_limit_is_never_throttled(redis_conn, sandbox, hubspot_url):
    # given a portal allowing 5 calls per second and a client that knows it
    sandbox.rate_limit, sandbox.rate_interval_ms = 5, 1000
    client = HubSpotClient(sandbox.issue_token(PORTAL), portal_id=PORTAL, base_url=hubspot_url,
                           redis_conn=redis_conn, limit=5, per_seconds=1.05)

    # when it makes 12 calls
    for _ in range(12):
        client.contacts_page(limit=1)

    # then HubSpot never had to say 429
    assert client.throttled == 0
    assert sandbox.portal(PORTAL).throttled == 0


def test_a_token_source_is_asked_before_each_call(sandbox, hubspot_url):
    # given a client whose token comes from a source (the refreshed token of record)
    tokens = [sandbox.issue_token(PORTAL)]
    client = HubSpotClient(lambda: tokens[-1], portal_id=PORTAL, base_url=hubspot_url)
    client.contacts_page()

    # when the token is refreshed and the old one stops working
    old = tokens[-1]
    tokens.append(sandbox.issue_token(PORTAL))
    del sandbox.access_tokens[old]

    # then the next call uses the new one
    assert client.contacts_page() == ([], None)
