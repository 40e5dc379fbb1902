"""The API against its own OpenAPI document, with schemathesis: for generated requests to every
operation (a bounded number each), no answer is a 5xx and every answer matches the document
(status code, content type, headers, body schema)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from connector import create_app
from connector.config import Config
from integrations.serving import serve
from tests.connector.api_helpers import bearer, new_key, seed_shop

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@pytest.fixture
def api_key(app):
    db = app.extensions["parlons"].db
    seed_shop(db, "alpha.myshopify.com", "+33611111111", "Alice")
    seed_shop(db, "beta.myshopify.com", "+33622222222", "Bruno")
    return new_key(db, "alpha.myshopify.com")


@pytest.fixture
def served(app):
    server = serve(app)
    yield server.url
    server.stop()


def _document() -> dict:
    """The document as the app serves it (it depends on no database)."""
    app = create_app(Config(database_url="sqlite://", api_token="x"))
    return app.test_client().get("/api/v1/openapi.json").json


SCHEMA = schemathesis.openapi.from_dict(_document())
OPERATIONS = {op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations())}


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_every_answer_matches_the_openapi_document(label, served, api_key):
    # given requests generated from the document for one operation (a bounded number)
    @settings(max_examples=15, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=OPERATIONS[label].as_strategy())
    def check(case):
        # then no answer is a server error, and each matches what the document says
        case.call_and_validate(base_url=served, headers=bearer(api_key), checks=CHECKS)

    check()
