"""REST API v1: consent proof for an audit, per contact or for the whole base, as CSV or JSON.

One row per consent statement with what was captured (see `automations.consent_proof.FIELDS`);
the answer is streamed, so a large base is exported without being held in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from flask import Response, stream_with_context
from marshmallow import fields, validate

from automations import consent_proof
from automations.models import Contact, Shop, utcnow
from connector.web import rt
from connector.web.rest import ApiError, IdField, ShopQuery, api_blueprint, request_shop

bp = api_blueprint("consent-proof", "Consent proof for an audit: every statement with its evidence (CSV, JSON)")
TYPES = {"csv": "text/csv", "json": "application/json"}


class ProofArgs(ShopQuery):
    format = fields.String(load_default="json", validate=validate.OneOf(tuple(TYPES)))
    contact_id = IdField(metadata={"description": "one contact only (else the whole base)"})


_FILE = {"schema": {"type": "string", "format": "binary"}}


@bp.get("/consent-proof")
@bp.arguments(ProofArgs, location="query")
@bp.doc(responses={"200": {"description": "the proof as a file: CSV, or JSON with `records`",
                           "content": {"text/csv": _FILE, "application/json": {"schema": {"type": "object"}}}}})
def export_proof(args: dict[str, Any]) -> Response:
    """Every consent statement of the shop (or of one contact), oldest first, with its evidence."""
    db = rt().db
    with db.session() as session:
        shop = request_shop(session)
        contact_id = args.get("contact_id")
        if contact_id is not None and session.scalar(
                sa.select(Contact.id).where(Contact.id == contact_id, Contact.shop_id == shop.id)) is None:
            raise ApiError(404, {"contact_id": [f"no contact {contact_id} in this shop"]})
        shop_id = shop.id
    fmt, generated_at = args["format"], utcnow().isoformat()

    def chunks() -> Iterator[str]:
        with db.session() as session:
            shop = session.get(Shop, shop_id)
            records = consent_proof.rows(session, shop, contact_id)
            yield from (consent_proof.to_csv(records) if fmt == "csv"
                        else consent_proof.to_json(shop, records, generated_at))

    name = f"consent-proof-{contact_id}" if contact_id is not None else "consent-proof"
    return Response(stream_with_context(chunks()), mimetype=TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="{name}.{fmt}"'})
