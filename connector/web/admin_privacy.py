"""GDPR data-request exports: the list and download in the admin (the API's are in api_exports).

Shopify's `customers/data_request` makes an export (automations.privacy); the merchant downloads
it here and sends it to the customer. The admin shows only the signed-in shop's exports.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask import Blueprint, Response, abort, g, render_template_string

from automations.models import DataExport
from connector.web.admin import add_section
from connector.web.admin_auth import admin_required

bp = Blueprint("admin_privacy", __name__)
add_section("admin_privacy.exports", "Privacy")

PAGE = """{% extends "admin_base.html" %}{% block title %}Privacy{% endblock %}
{% block content %}{{ ui.header(_("Privacy")) }}<section class="card"><h2>Customer data requests</h2>
<p class="subdued">Shopify forwards GDPR data requests; download the export and send it to the customer.</p></section>
<section class="card flush"><table><tr><th>Received</th><th>Customer</th><th>Records</th><th></th></tr>
{% for e in exports %}<tr><td>{{ e.created_at.strftime('%Y-%m-%d %H:%M') }} UTC</td>
<td>{{ e.request.get('email') or e.request.get('customer_gid') or '?' }}</td>
<td>{{ e.payload.get('records', []) | length }}</td>
<td><a href="{{ url_for('admin_privacy.download', export_id=e.id) }}">Download JSON</a></td></tr>
{% else %}<tr><td colspan="4" class="subdued">No data request so far.</td></tr>{% endfor %}
</table></section>{% endblock %}"""


def _export_document(export: DataExport) -> dict:
    return {"id": export.id, "created_at": export.created_at.isoformat(), "request": export.request,
            **export.payload}


def _attachment(export: DataExport) -> Response:
    body = json.dumps(_export_document(export), ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="parlons-data-request-{export.id}.json"',
    })


@bp.get("/admin/privacy")
@admin_required
def exports():
    rows = g.db.scalars(
        sa.select(DataExport).where(DataExport.shop_id == g.shop.id).order_by(DataExport.id.desc()).limit(200)
    ).all()
    return render_template_string(PAGE, shop=g.shop, exports=rows)


@bp.get("/admin/privacy/exports/<int:export_id>.json")
@admin_required
def download(export_id: int):
    export = g.db.get(DataExport, export_id)
    if export is None or export.shop_id != g.shop.id:
        abort(404, description="no such export for this shop")
    return _attachment(export)

