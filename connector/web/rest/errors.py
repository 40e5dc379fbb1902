"""How the REST API refuses: one JSON body for every error, `{"error", "message", "messages"}`.

`error` is a short code (`invalid`, `unauthorized`, `forbidden`, `not_found`, `conflict`…),
`message` a sentence for a person, `messages` the problems keyed by the field they concern
(`{"shop": ["…"]}`, nested for nested fields). Validation errors are 400 `invalid`.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

NAMES = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "unprocessable",
         429: "too_many_requests"}


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "a short code: invalid, not_found…"})
    message = fields.String(metadata={"description": "what went wrong, for a person"})
    messages = fields.Dict(metadata={"description": "problems keyed by the field they concern"})


class ApiError(Exception):
    """A refusal: HTTP status, field-keyed messages, and optionally a code, a sentence, headers."""

    def __init__(self, status: int, messages: dict[str, Any] | None = None, *, error: str | None = None,
                 message: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message or f"{status}: {messages}")
        self.status, self.messages, self.headers = status, messages, headers or {}
        self.error = error or NAMES.get(status, "error")
        self.message = message


def error_response(status: int, error: str, message: str | None = None,
                   messages: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"error": error}
    if message:
        body["message"] = message
    if messages is not None:
        body["messages"] = messages
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def handle_api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.error, exc.message, exc.messages, exc.headers)


def _by_field(messages: Any) -> dict[str, Any]:
    """webargs keys messages by location first ({"json": {...}, "query": {...}}): by field only."""
    if not isinstance(messages, dict):
        return {"_schema": messages}
    merged: dict[str, Any] = {}
    for location, problems in messages.items():
        if isinstance(problems, dict):
            merged.update(problems)
        else:
            merged["body" if location == "json" else location] = problems
    return merged


def handle_http_exception(exc: HTTPException) -> Response:
    data = getattr(exc, "data", None) or {}
    if "messages" in data and exc.code in (400, 422):  # the request did not pass its schema
        return error_response(400, "invalid", "the request is not valid: see messages",
                              _by_field(data["messages"]))
    status = exc.code or 500
    return error_response(status, NAMES.get(status, exc.name.lower().replace(" ", "_")), exc.description)
