"""The OpenAPI document and the docs page, which works without the internet."""

from __future__ import annotations

import re

import pytest

from connector.web.rest.openapi import SWAGGER_UI_FILES


def test_the_openapi_document_describes_every_api_endpoint(app, client):
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200 and spec.json["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in spec.json["paths"].items() for method in ops if method != "parameters"}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and not rule.endpoint.startswith(("api-docs", "api_docs")):
            path = rule.rule
            for arg in rule.arguments:
                path = re.sub(rf"<(\w+:)?{arg}>", f"{{{arg}}}", path)
            served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented
    # errors are documented in the shape they have
    error = spec.json["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"error", "message", "messages"} and error["required"] == ["error"]
    assert spec.json["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_the_docs_page_loads_swagger_ui_from_this_server(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in html and "/api/v1/openapi.json" in html
    assert "http" not in html.split("<body>")[1].replace("http-equiv", "")  # nothing from elsewhere
    if not SWAGGER_UI_FILES.is_dir():
        pytest.skip("swagger-ui-dist is not installed here (npm install)")
    script = client.get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.data
