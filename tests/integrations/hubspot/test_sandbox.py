"""The sandbox answers in the shapes the official library's models accept."""

from __future__ import annotations

import time

from hubspot import HubSpot
from urllib3.util.retry import Retry

from integrations.hubspot.client import HubSpotClient
from integrations.hubspot.sandbox import HubSpotSandbox
from tests.integrations.hubspot.conftest import PORTAL


def test_the_official_models_read_every_answer_the_client_relies_on(sandbox, hubspot_url):
    # given a portal with our properties and a few contacts
    token = sandbox.issue_token(PORTAL)
    HubSpotClient(token, portal_id=PORTAL, base_url=hubspot_url).ensure_properties()
    ids = sandbox.add_contacts(PORTAL, 3)
    api = HubSpot(access_token=token, host=hubspot_url, base_url=hubspot_url, retry=Retry(total=0))
    crm = api.crm

    # when the library calls each endpoint and builds its models (which reject missing fields)
    page = crm.contacts.basic_api.get_page(limit=2, _request_timeout=5)
    found = crm.contacts.search_api.do_search({"filterGroups": [{"filters": [
        {"propertyName": "email", "operator": "EQ", "value": "customer1@example.com"}]}],
        "properties": ["email"], "limit": 10, "after": "0", "sorts": []})
    read = crm.contacts.batch_api.read({"inputs": [{"id": i} for i in ids], "properties": ["email"],
                                        "propertiesWithHistory": []})
    upserted = crm.contacts.batch_api.upsert({"inputs": [
        {"idProperty": "parlons_phone_e164", "id": "+33611112222", "properties": {"firstname": "Zoé"}}]})
    comm = crm.objects.communications.basic_api.create({
        "properties": {"hs_communication_channel_type": "SMS", "hs_communication_body": "Bonjour"},
        "associations": [{"to": {"id": ids[0]}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 81}]}]})
    props = crm.properties.core_api.get_all("contacts")
    groups = crm.properties.groups_api.get_all("contacts")
    info = api.oauth.access_tokens_api.get(token)

    # then every answer reads, with the values we expect
    assert len(page.results) == 2 and page.paging.next.after == "2"
    assert found.total == 1 and found.results[0].id == ids[1]
    assert sorted(r.id for r in read.results) == sorted(ids)
    assert upserted.results[0].new is True
    assert sandbox.communications_for(ids[0])[0]["id"] == comm.id
    assert {p.name for p in props.results} >= {"parlons_sms_consent", "parlons_phone_e164"}
    assert [g.name for g in groups.results] == ["parlons"]
    assert info.hub_id == PORTAL


def test_seeding_fifty_thousand_contacts_is_quick():
    sandbox = HubSpotSandbox()
    started = time.monotonic()
    sandbox.add_contacts(PORTAL, 50_000)
    assert len(sandbox.portal(PORTAL).contacts) == 50_000
    assert time.monotonic() - started < 5
