"""Requests checked against published OpenAPI documents: directly, and from a sandbox's
`before_request` with the official Twilio library sending over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from flask import Flask, jsonify

from integrations.openapi_check import (
    OpenAPICheck,
    Problem,
    published_spec_path,
    refuse_unless_documented,
)
from integrations.retry import RetryPolicy
from integrations.serving import serve
from integrations.twilio.client import TwilioClient
from integrations.twilio.sandbox import TwilioSandbox

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "sandbox-auth-token-0123456789ab"
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"


@pytest.fixture(scope="module")
def twilio() -> OpenAPICheck:
    return OpenAPICheck.from_files(published_spec_path("twilio/twilio_api_v2010.json"))


def test_a_message_as_twilio_documents_it_passes(twilio):
    assert twilio.problems("POST", MESSAGES, form={"To": "+33612345678", "From": "+33757000001",
                                                   "Body": "Bonjour", "MediaUrl": ["https://a.example/1.png"]}) == []


def test_a_message_without_its_required_recipient_is_refused(twilio):
    assert twilio.problems("POST", MESSAGES, form={"From": "+33757000001", "Body": "Bonjour"}) == [
        Problem("body", "'To' is a required property")]


def test_a_parameter_of_the_wrong_type_is_refused(twilio):
    [body] = twilio.problems("POST", MESSAGES, form={"To": "+33612345678", "ValidityPeriod": "soon"})
    assert body.where == "body" and "integer" in body.message
    [query] = twilio.problems("GET", MESSAGES, query={"PageSize": "many"})
    assert (query.where, query.field) == ("query", "PageSize")


def test_a_malformed_path_parameter_and_an_undocumented_path_are_refused(twilio):
    problems = twilio.problems("GET", "/2010-04-01/Accounts/AC123/Messages.json")
    assert {(p.where, p.field) for p in problems} == {("path", "AccountSid")}
    assert [p.where for p in twilio.problems("GET", "/2010-04-01/Accounts/" + ACCOUNT + "/Faxes.json")] == [
        "operation"]
    assert not twilio.documents("GET", "/sandbox/phones/+33612345678")


def test_an_unknown_form_field_passes_where_the_document_does_not_forbid_it(twilio):
    # Twilio's CreateMessageRequest sets no additionalProperties: the check is never stricter than it.
    assert twilio.problems("POST", MESSAGES, form={"To": "+33612345678", "Body": "x", "Colour": "blue"}) == []


SMALL = {
    "openapi": "3.0.3",
    "info": {"title": "closed body", "version": "1"},
    "servers": [{"url": "https://api.example.com/v1"}],
    "paths": {"/notes": {"post": {
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["text"], "additionalProperties": False,
            "properties": {"text": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}},
        }}}},
        "responses": {"201": {"description": "created"}},
    }}},
}


def test_an_unknown_json_field_is_refused_where_the_document_forbids_additional_properties():
    check = OpenAPICheck([SMALL])
    assert check.problems("POST", "/notes", json_body={"text": "hi", "tags": ["a"]}) == []
    [problem] = check.problems("POST", "/notes", json_body={"text": "hi", "colour": "blue"})
    assert problem.where == "body" and "'colour' was unexpected" in problem.message
    [nested] = check.problems("POST", "/notes", json_body={"text": "hi", "tags": [3]})
    assert (nested.field, nested.message) == ("tags.0", "3 is not of type 'string'")
    assert check.problems("POST", "/notes", body=b"", headers={"Content-Type": "application/json"})


def test_a_document_that_is_not_openapi_3_is_refused_at_load():
    with pytest.raises(ValueError, match="not OpenAPI 3"):
        OpenAPICheck([{"swagger": "2.0", "paths": {}}])


def test_the_twilio_clients_calls_are_all_as_twilio_documents_them(twilio):
    """The Twilio sandbox, wired with the check, refuses what the document refuses; every call our
    client makes through the official library passes."""
    sandbox = TwilioSandbox(ACCOUNT, TOKEN)
    refused: list[list[Problem]] = []

    def refuse(problems: list[Problem]):
        refused.append(problems)
        return jsonify(code=20001, message="; ".join(map(str, problems)), status=400), 400

    hook = refuse_unless_documented(twilio, refuse, skip=lambda path: path.startswith("/sandbox/"))
    sandbox.app.before_request_funcs.setdefault(None, []).insert(0, hook)
    running = serve(sandbox.app)
    try:
        fast = RetryPolicy(attempts=1, base_delay=0.01, max_delay=0.01)
        client = TwilioClient(ACCOUNT, TOKEN, from_number="+33757000001", base_url=running.url, retry_policy=fast)
        sent = client.send("+33612345678", "Bonjour", status_callback="https://app.example/twilio/status",
                           media_urls=["https://app.example/i.png"])
        assert client.fetch(sent.sid)["sid"] == sent.sid
        assert client.find_sent("+33612345678", "Bonjour", datetime.now(UTC).replace(year=2020))
        service = TwilioClient(ACCOUNT, TOKEN, messaging_service_sid="MG" + "0" * 32, base_url=running.url,
                               retry_policy=fast)
        service.send("+33612345678", "via the service")
        assert refused == []

        answer = requests.post(running.url + MESSAGES, data={"Body": "no recipient"}, auth=(ACCOUNT, TOKEN), timeout=5)
        assert answer.status_code == 400 and "'To' is a required property" in answer.json()["message"]
    finally:
        running.stop()
        sandbox.close()


def test_a_flask_request_is_checked_with_its_prefix_removed(twilio):
    app = Flask("prefixed")
    app.before_request(refuse_unless_documented(
        twilio, lambda problems: (jsonify([str(p) for p in problems]), 400), prefix="/twilio"))
    app.add_url_rule("/twilio/<path:rest>", "any", lambda rest: ("ok", 200), methods=["GET", "POST"])
    with app.test_client() as http:
        assert http.get("/twilio" + MESSAGES + "?PageSize=50").status_code == 200
        refused = http.get("/twilio" + MESSAGES + "?PageSize=lots")
        assert refused.status_code == 400 and "PageSize" in refused.json[0]
