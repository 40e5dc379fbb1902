"""REST API v1: GDPR data-request exports (what Shopify's `customers/data_request` produced).

`GET /api/v1/exports/<id>` is the export as JSON; `?download=1` makes it a file to save.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Response
from marshmallow import Schema, fields

from automations.models import DataExport
from connector.web import rt
from connector.web.rest import (
    ApiError,
    PageArgs,
    api_blueprint,
    page_schema,
    paginate,
    request_shop,
)

bp = api_blueprint("exports", "Customer data-request exports (GDPR)")


class ExportArgs(PageArgs):
    download = fields.Boolean(load_default=False, metadata={"description": "answer as a file to save"})


class ExportSchema(Schema):
    id = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    request = fields.Dict(required=True, metadata={"description": "the data request as received"})
    shop = fields.String()
    generated_at = fields.String(metadata={"format": "date-time"})
    records = fields.List(fields.Dict(), metadata={"description": "one per contact: contact, consent "
                                                                   "ledger, messages, conversations"})


class ExportSummarySchema(Schema):
    id = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    contact_id = fields.Integer(allow_none=True)
    request = fields.Dict(required=True)


def document(export: DataExport) -> dict[str, Any]:
    return {"id": export.id, "created_at": export.created_at, "request": export.request, **export.payload}


@bp.get("/exports")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_schema(ExportSummarySchema))
def list_exports(args: dict[str, Any]):  # noqa: ANN201
    with rt().db.session() as session:
        shop = request_shop(session)
        return paginate(session, sa.select(DataExport).where(DataExport.shop_id == shop.id), DataExport.id, args)


@bp.get("/exports/<id:export_id>")
@bp.arguments(ExportArgs, location="query")
@bp.response(200, ExportSchema)
def show_export(args: dict[str, Any], export_id: int):  # noqa: ANN201
    """The export; with `?download=1` the same JSON as a file to save (Content-Disposition)."""
    with rt().db.session() as session:
        shop = request_shop(session)
        export = session.scalar(sa.select(DataExport).where(DataExport.id == export_id,
                                                            DataExport.shop_id == shop.id))
        if export is None:
            raise ApiError(404, {"export": [f"no export {export_id} in this shop"]})
        if not args["download"]:
            return document(export)
        body = json.dumps(ExportSchema().dump(document(export)), ensure_ascii=False, indent=2)
        return Response(body, mimetype="application/json", headers={
            "Content-Disposition": f'attachment; filename="parlons-data-request-{export.id}.json"'})
