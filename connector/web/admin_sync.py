"""Customer sync in the admin: each source's progress (refreshed while a sync runs) and buttons to
start one. The syncs themselves run in a worker (connector.shopify_sync, connector.hubspot_sync)
and keep their progress in `SyncState`."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, g, redirect, render_template_string, request, url_for

from automations.models import Installation, SyncState
from connector.web import rt
from connector.web.admin import add_section
from connector.web.admin_auth import admin_required

bp = Blueprint("admin_sync", __name__)
add_section("admin_sync.page", "Sync")

SOURCES = {"shopify": "Shopify customers", "hubspot": "HubSpot contacts"}

PAGE = """{% extends "admin_base.html" %}{% block title %}Sync{% endblock %}
{% block head %}{% if running %}<meta http-equiv="refresh" content="5">{% endif %}{% endblock %}
{% block content %}{{ ui.header(_("Sync")) }}<section class="card"><h2>{{ _("Customer sync") }}</h2>
{% if queued %}<p class="banner" role="status">A {{ sources[queued] }} sync is queued: its progress shows here once a worker takes it.</p>{% endif %}
</section><section class="card flush"><table><tr><th>Source</th><th>Status</th><th>Progress</th><th>Changes since</th><th>Started</th>
<th>Finished</th><th>Problems</th><th></th></tr>
{% for source, label in sources.items() %}{% set s = states.get(source) %}<tr>
<td>{{ label }}</td>
<td>{% if s %}{{ s.status }}{% if s.error %}<div class="field-error">{{ s.error }}</div>{% endif %}{% else %}<span class="subdued">never run</span>{% endif %}</td>
<td>{% if s %}{{ "{:,}".format(s.processed) }}{% if s.total %} of {{ "{:,}".format(s.total) }}
({{ (100 * s.processed / s.total) | round | int }} %)<br><progress max="{{ s.total }}" value="{{ s.processed }}"></progress>{% endif %}{% endif %}</td>
<td>{{ s.since.strftime('%Y-%m-%d %H:%M') + ' UTC' if s and s.since else '' }}</td>
<td>{{ s.started_at.strftime('%Y-%m-%d %H:%M') + ' UTC' if s and s.started_at else '' }}</td>
<td>{{ s.finished_at.strftime('%Y-%m-%d %H:%M') + ' UTC' if s and s.finished_at else '' }}</td>
<td>{{ s.invalid | length if s else '' }}</td>
<td>{% if source in connected %}{% set action = url_for('admin_sync.start', source=source) %}<form method="post" action="{{ action }}" class="button-row">{{ csrf_field(action) }}
<button class="btn btn-primary" name="full" value="">Sync changes</button> <button class="btn" name="full" value="1">Full sync</button></form>
{% else %}<span class="subdued">not connected</span>{% endif %}</td></tr>{% endfor %}
</table></section>
<p class="subdued">A sync imports each customer once with their SMS consent; an interrupted one resumes where it stopped.
Problems are customers that could not be imported as given (an invalid phone, for example).</p>
{% endblock %}"""


@bp.get("/admin/sync")
@admin_required
def page():
    states = {s.source: s for s in g.db.scalars(sa.select(SyncState).where(SyncState.shop_id == g.shop.id))}
    connected = set(g.db.scalars(sa.select(Installation.provider).where(
        Installation.shop_id == g.shop.id, Installation.access_token_enc.is_not(None))))
    queued = request.args.get("queued")
    return render_template_string(
        PAGE, shop=g.shop, sources=SOURCES, states=states, connected=connected,
        queued=queued if queued in SOURCES else None,
        running=any(s.status == "running" for s in states.values()),
    )


@bp.post("/admin/sync/<source>")
@admin_required
def start(source: str):
    if source not in SOURCES:
        abort(404, description=f"no sync from {source}")
    if not g.db.scalar(sa.select(Installation.id).where(
            Installation.shop_id == g.shop.id, Installation.provider == source,
            Installation.access_token_enc.is_not(None))):
        abort(409, description=f"{SOURCES[source]}: the shop is not connected to {source}")
    full = request.form.get("full") == "1"
    if source == "shopify":
        from connector.worker.shopify_sync import enqueue_sync

        enqueue_sync(rt(), g.shop.domain, full=full)
    else:
        from connector.worker.hubspot_sync import enqueue

        enqueue(rt(), g.shop.id, full=full)
    return redirect(url_for("admin_sync.page", queued=source))
