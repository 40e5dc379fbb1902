"""Every request the client makes is one HubSpot's published OpenAPI documents accept, with a
scope the app asks for; the sandbox refuses the others as HubSpot does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from integrations.errors import ApiError, Unauthorized
from integrations.hubspot.api_document import build_documents, dump
from integrations.hubspot.install import SCOPES, authorize_url, exchange_code
from integrations.hubspot.sandbox.checks import DOCUMENTS, hubspot_check
from integrations.openapi_check import published_spec_path
from tests.integrations.hubspot.conftest import PORTAL

REDIRECT = "https://parlons.example.com/hubspot/oauth/callback"


def post(url: str, token: str, body) -> requests.Response:
    return requests.post(url, data=json.dumps(body), timeout=5,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})


def test_every_call_of_the_client_passes_the_documents_and_uses_exactly_the_app_scopes(sandbox, make_client):
    # given a client holding a token with the scopes the app asks for
    client = make_client()
    ids = sandbox.add_contacts(PORTAL, 3)

    # when it makes every kind of call it has (the sandbox refuses any the documents refuse)
    client.ensure_properties()
    client.contacts_page(limit=2)
    client.contacts_page(modified_since=datetime.now(UTC) - timedelta(days=1))
    client.batch_read(ids)
    upserted = client.batch_upsert([{"parlons_phone_e164": "+33611112222", "firstname": "Zoé",
                                     "parlons_sms_consent": "subscribed"}])
    client.update_contact(ids[0], {"parlons_sms_consent_source": "shopify"})
    created = client.create_contact({"email": "nouvelle@example.com", "parlons_phone_e164": "+33622223333"})
    found = client.find_contact(phone_e164="+33622223333")
    sent = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    comm = client.create_communication(ids[0], "Bonjour", sent, "ref0000001")
    client.update_communication(comm, "Bonjour (delivered)", "ref0000001")

    # then every call was answered, and each scope the app asks for was needed by one of them
    assert upserted[0]["new"] is True and found["id"] == created["id"]
    assert client.find_communication("ref0000001") == comm
    assert sandbox.scopes_used | {"oauth"} == set(SCOPES)


def test_a_batch_read_without_properties_with_history_is_refused_as_hubspot_does(sandbox, hubspot_url):
    token = sandbox.issue_token(PORTAL)
    ids = sandbox.add_contacts(PORTAL, 2)

    answer = post(f"{hubspot_url}/crm/v3/objects/contacts/batch/read", token,
                  {"inputs": [{"id": i} for i in ids], "properties": ["email"]})

    assert answer.status_code == 400
    body = answer.json()
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR"
    assert body["correlationId"] and "propertiesWithHistory" in body["message"]
    assert body["errors"] == [{"in": "propertiesWithHistory", "message": "'propertiesWithHistory' is a required property"}]


def test_a_refused_body_names_the_field_and_changes_nothing(sandbox, hubspot_url):
    token = sandbox.issue_token(PORTAL)

    # a property value that is not a string, and an association category HubSpot does not have
    upsert = post(f"{hubspot_url}/crm/v3/objects/contacts/batch/upsert", token, {"inputs": [
        {"idProperty": "email", "id": "a@example.com", "properties": {"firstname": 7}}]})
    create = post(f"{hubspot_url}/crm/v3/objects/communications", token, {
        "properties": {"hs_communication_body": "x"},
        "associations": [{"to": {"id": "1"}, "types": [{"associationCategory": "MINE", "associationTypeId": 81}]}]})

    assert upsert.status_code == 400 and create.status_code == 400
    assert {"in": "inputs.0.properties.firstname", "message": "7 is not of type 'string'"} in upsert.json()["errors"]
    assert any(e["in"] == "associations.0.types.0.associationCategory" for e in create.json()["errors"])
    assert sandbox.contacts_for(PORTAL) == [] and sandbox.portal(PORTAL).communications == {}


def test_an_operation_hubspot_does_not_have_is_not_found(sandbox, hubspot_url):
    token = sandbox.issue_token(PORTAL)
    answer = post(f"{hubspot_url}/crm/v3/objects/contacts/batch/explode", token, {"inputs": []})
    assert answer.status_code == 404 and answer.json()["category"] == "OBJECT_NOT_FOUND"


def test_a_call_without_its_scope_is_refused_and_writes_nothing(sandbox, make_client):
    # given a token granted reading contacts only
    client = make_client(token=sandbox.issue_token(PORTAL, scopes=["oauth", "crm.objects.contacts.read"]))

    # when the client writes a contact, then HubSpot's 403 is an authorisation error, not retried
    with pytest.raises(Unauthorized) as refused:
        client.create_contact({"email": "x@example.com"})
    assert refused.value.status == 403 and refused.value.code == "MISSING_SCOPES"
    body = json.loads(refused.value.body)
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.contacts.write"]
    assert client.requests == 1 and sandbox.contacts_for(PORTAL) == []
    # and creating our properties needs the schema scope too
    with pytest.raises(ApiError) as schema_refused:
        client.ensure_properties()
    assert schema_refused.value.code == "MISSING_SCOPES"
    # while reading still works
    assert client.contacts_page() == ([], None)


def test_install_asks_for_the_app_scopes_and_the_token_holds_them(sandbox, hubspot_url):
    # an install URL asking for fewer scopes than the app is configured with is refused
    fewer = authorize_url(sandbox.client_id, REDIRECT, SCOPES[:-1], "s", base_url=hubspot_url)
    assert requests.get(fewer, allow_redirects=False, timeout=5).status_code == 400

    # ours is accepted, and the token it yields is granted exactly those scopes
    url = authorize_url(sandbox.client_id, REDIRECT, SCOPES, "s", base_url=hubspot_url)
    back = requests.get(url, allow_redirects=False, timeout=5)
    code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    tokens = exchange_code(code, sandbox.client_id, sandbox.client_secret, REDIRECT, base_url=hubspot_url)
    info = requests.get(f"{hubspot_url}/oauth/v1/access-tokens/{tokens.access_token}", timeout=5).json()
    assert sorted(info["scopes"]) == sorted(SCOPES)


def test_the_kept_documents_are_what_the_installed_library_gives():
    # regenerate with `python -m integrations.hubspot.api_document` after upgrading the library
    for name, document in build_documents().items():
        assert published_spec_path(f"hubspot/{name}.json").read_text(encoding="utf-8") == dump(document), name
    assert set(build_documents()) == set(DOCUMENTS)


def test_the_documents_require_what_hubspot_requires():
    check = hubspot_check()
    read = "/crm/v3/objects/contacts/batch/read"
    assert check.problems("POST", read, json_body={"inputs": [{"id": "1"}], "properties": [],
                                                   "propertiesWithHistory": []}) == []
    missing = check.problems("POST", read, json_body={"inputs": [{"id": "1"}], "properties": []})
    assert [p.message for p in missing] == ["'propertiesWithHistory' is a required property"]
    search = check.problems("POST", "/crm/v3/objects/communications/search", json_body={"filterGroups": []})
    assert sorted(p.message for p in search) == sorted(
        f"'{name}' is a required property" for name in ("after", "limit", "properties", "sorts"))
    assert check.security("POST", "/crm/v3/properties/contacts") == [{"crm.schemas.contacts.write"}]
    assert check.security("GET", "/crm/v3/properties/contacts/groups") == [
        {"crm.objects.contacts.read"}, {"crm.schemas.contacts.read"}]
    assert check.security("GET", "/crm/v3/objects/deals") is None
