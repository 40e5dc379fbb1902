"""Tracked links: `GET /l/<code>` records the click and redirects (302) to the target, which
already carries its UTM parameters (added when the message was composed).

Only a person's visit is counted. HEAD requests and link-preview robots (messaging apps fetch a
link to draw its preview card; iMessage announces itself as facebookexternalhit/Twitterbot) get
the same redirect but no click. An unknown code gets a small HTML page with status 404.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, request

from automations.models import Link, LinkClick, utcnow
from connector.web import limits, rt

bp = Blueprint("links", __name__)

_ROBOTS = re.compile(
    r"bot\b|bot/|crawler|spider|preview|facebookexternalhit|whatsapp|telegram|slack|discord|skype|"
    r"curl/|wget/|python-requests|headless", re.IGNORECASE)


def is_robot(user_agent: str | None) -> bool:
    """Whether the request comes from a program rather than a person's browser."""
    return not user_agent or bool(_ROBOTS.search(user_agent))


@bp.route("/l/<code>", methods=["GET", "HEAD"])
@limits.links
def follow(code: str):
    user_agent = request.headers.get("User-Agent")
    with rt().db.transaction() as session:
        link = session.scalar(sa.select(Link).where(Link.code == code[:32])) if len(code) <= 32 else None
        if link is None:
            return render_template("link_not_found.html"), 404
        if request.method == "GET" and not is_robot(user_agent):
            session.add(LinkClick(link_id=link.id, clicked_at=utcnow(), user_agent=(user_agent or "")[:1000]))
        target = link.target_url
    response = redirect(target, code=302)
    response.headers["Cache-Control"] = "no-store"  # every visit reaches us, so every click counts
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
