"""The REST API as flask-smorest builds it: `/api/v1/openapi.json` (OpenAPI 3) from the marshmallow
schemas of every endpoint, and a Swagger UI page at `/api/v1/docs` that works offline (its files
come from the `swagger-ui-dist` npm package installed by `make setup`)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint as FlaskBlueprint
from flask import Flask, send_from_directory
from flask_smorest import Api, Blueprint
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from automations.segments import MarketingError
from connector.web.rest.auth import authenticate
from connector.web.rest.errors import (
    ApiError,
    ErrorSchema,
    error_response,
    handle_api_error,
    handle_http_exception,
)
from connector.web.rest.schemas import MAX_ID

PREFIX = "/api/v1"
SWAGGER_UI_FILES = Path(__file__).resolve().parents[3] / "node_modules" / "swagger-ui-dist"
SWAGGER_UI_URL = f"{PREFIX}/docs/assets/"
DESCRIPTION = """Parlons's REST API. Authenticate with `Authorization: Bearer <token>`: a shop's API
key (`plk_…`, read or read-write, that shop only) or the installation's operator token
(`PARLONS_API_TOKEN`, any shop: name it with `?shop=DOMAIN` or `"shop"` in the JSON body).
Lists are paginated by cursor (`limit`, `cursor`; `next_cursor` and a `Link: rel="next"`
header). POSTs that send or create accept an `Idempotency-Key` header. Errors are
`{"error", "message", "messages": {field: [...]}}`."""


class ParlonsApi(Api):
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        """Each API blueprint answers its own errors (api_blueprint); the rest of the app keeps its."""


class IdConverter(IntegerConverter):
    """`<id:name>`: a row id (1 to 2³¹−1, what the database holds); anything else is not a route."""

    def __init__(self, url_map, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        super().__init__(url_map, min=1, max=MAX_ID)


class _Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400  # a request that does not pass its schema is 400 `invalid`


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = _Parser()


def install(app: Flask) -> ParlonsApi:
    app.config.update(
        API_TITLE="Parlons", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=PREFIX, OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs", OPENAPI_SWAGGER_UI_URL=SWAGGER_UI_URL,
        API_SPEC_OPTIONS={
            "info": {"description": DESCRIPTION},
            "security": [{"bearer": []}],
            "components": {"securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "a shop's API key (plk_…) or the operator token"}}},
        },
    )
    app.url_map.converters["id"] = IdConverter
    api = ParlonsApi(app)
    api.register_converter(IdConverter, lambda _c: {"type": "integer", "minimum": 1, "maximum": MAX_ID})
    assets = FlaskBlueprint("api_docs_assets", __name__, url_prefix=f"{PREFIX}/docs/assets")

    @assets.get("/<path:name>")
    def swagger_ui_file(name: str):  # noqa: ANN202
        if not SWAGGER_UI_FILES.is_dir():
            return error_response(404, "not_found", "Swagger UI is not installed: run `make setup`")
        return send_from_directory(SWAGGER_UI_FILES, name, max_age=86400)

    app.register_blueprint(assets)
    return api


def api_blueprint(name: str, description: str) -> ApiBlueprint:
    """A blueprint of the API: under /api/v1, authenticated, refusing in the API's error format.

    `name` is its tag in the OpenAPI document."""
    bp = ApiBlueprint(name, __name__, url_prefix=PREFIX, description=description)
    bp.before_request(authenticate)
    bp.register_error_handler(ApiError, handle_api_error)
    bp.register_error_handler(HTTPException, handle_http_exception)
    bp.register_error_handler(MarketingError, _marketing_refusal)
    return bp


def _marketing_refusal(exc: MarketingError):  # noqa: ANN202 - a refusal of segments, campaigns, analytics
    return handle_api_error(ApiError(exc.status, exc.messages))
