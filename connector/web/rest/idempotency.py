"""`Idempotency-Key` on the POSTs that send or create: a retried request is answered, not redone.

The first request with a key (per shop) claims it by inserting a row: the database's unique
constraint on (shop, key) decides between two concurrent ones. Its answer (status, body,
Location) is then kept, encrypted, for `KEEP`; a request with the same key and the same method,
path, query and body gets that answer again with `Idempotent-Replayed: true`; the same key with
anything else is 422; the same key while the first is still being answered is 409. A request
that fails (an error raised, a 5xx) releases its key: retrying it does it again. Keys are 1–255
printable ASCII characters; a UUID is the usual choice.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, make_response, request
from sqlalchemy.exc import IntegrityError

from automations.models import IdempotentRequest, utcnow
from connector.web.rest.auth import request_shop
from connector.web.rest.errors import ApiError

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)
ABANDONED_AFTER = timedelta(minutes=5)  # a first request that never finished frees its key then
KEPT_HEADERS = ("Content-Type", "Location", "Link")
_DOC = {"in": "header", "name": HEADER, "required": False, "schema": {"type": "string", "maxLength": 255},
        "description": "make this POST safe to retry: the same key and request get the first answer again"}


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a POST view between `@bp.arguments` (above) and `@bp.response` (below)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
            raise ApiError(400, {HEADER: ["1 to 255 printable ASCII characters, such as a UUID"]})
        runtime = current_app.extensions["parlons"]
        with runtime.db.session() as session:
            shop_id = request_shop(session).id
        fingerprint = _fingerprint()
        stored = _claim(runtime, shop_id, key, fingerprint)
        if stored is not None:
            return _replay(runtime, stored)
        try:
            response = make_response(view(*args, **kwargs))
        except BaseException:
            _release(runtime, shop_id, key)
            raise
        if response.status_code >= 500:
            _release(runtime, shop_id, key)
        else:
            _keep(runtime, shop_id, key, response)
        return response

    docs = wrapper._apidoc = dict(getattr(wrapper, "_apidoc", {}))  # type: ignore[attr-defined]
    arguments = docs["arguments"] = dict(docs.get("arguments", {}))
    arguments["parameters"] = [*arguments.get("parameters", []), dict(_DOC)]
    return wrapper


def _fingerprint() -> str:
    body = request.get_data()
    try:
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        pass
    query = sorted(request.args.items(multi=True))
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), json.dumps(query).encode(), body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _claim(runtime: Any, shop_id: int, key: str, fingerprint: str) -> IdempotentRequest | None:
    """None when this request now holds the key; else the first request's row (with its answer)."""
    now = utcnow()
    for _ in range(3):
        try:
            with runtime.db.transaction() as session:
                session.add(IdempotentRequest(shop_id=shop_id, key=key, fingerprint=fingerprint, created_at=now))
            return None
        except IntegrityError:
            pass
        with runtime.db.transaction() as session:
            row = session.scalar(sa.select(IdempotentRequest).where(
                IdempotentRequest.shop_id == shop_id, IdempotentRequest.key == key))
            if row is None:
                continue  # released meanwhile: try again
            stale = now - (KEEP if row.status_code is not None else ABANDONED_AFTER)
            if row.created_at < stale:  # expired, or a first request that died: the key is free
                session.delete(row)
                continue
            if row.fingerprint != fingerprint:
                raise ApiError(422, {HEADER: ["this key was used for a different request: use a new key"]},
                               error="idempotency_key_reused")
            if row.status_code is None:
                raise ApiError(409, {HEADER: ["a request with this key is still being answered: retry shortly"]},
                               headers={"Retry-After": "1"})
            return row
    raise ApiError(409, {HEADER: ["this key is contended: retry shortly"]}, headers={"Retry-After": "1"})


def _keep(runtime: Any, shop_id: int, key: str, response: Response) -> None:
    kept = {"body": response.get_data(as_text=True),
            "headers": {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}}
    with runtime.db.transaction() as session:
        session.execute(sa.update(IdempotentRequest).where(
            IdempotentRequest.shop_id == shop_id, IdempotentRequest.key == key,
        ).values(status_code=response.status_code, response_enc=runtime.secrets.encrypt(json.dumps(kept))))


def _release(runtime: Any, shop_id: int, key: str) -> None:
    with runtime.db.transaction() as session:
        session.execute(sa.delete(IdempotentRequest).where(
            IdempotentRequest.shop_id == shop_id, IdempotentRequest.key == key,
            IdempotentRequest.status_code.is_(None)))


def _replay(runtime: Any, row: IdempotentRequest) -> Response:
    kept = json.loads(runtime.secrets.decrypt(row.response_enc))
    response = Response(kept["body"], status=row.status_code, headers=kept["headers"])
    response.headers["Idempotent-Replayed"] = "true"
    return response

