"""Admin security: a CSRF token in every form, a new session on sign-in, and the security headers.

- Every POST to `/admin…` must carry `csrf_token`, made for the signed-in session (a random
  nonce kept in the session cookie, renewed at sign-in and sign-out) or, inside Shopify admin,
  for the Shopify session (`sid` of the session token), and for the form's own action path: a
  token copied from one form is refused by another. Tokens expire after a day.
- Content-Security-Policy on admin pages: our own files only; inside Shopify admin, also App
  Bridge from Shopify's CDN, and `frame-ancestors` the shop's admin (https://<shop> and
  https://admin.shopify.com); everywhere else the admin cannot be framed.
- `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin` on every answer.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Flask, Response, abort, current_app, g, request, session
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup, escape

CSRF_FIELD = "csrf_token"
CSRF_MAX_AGE = 24 * 3600
APP_BRIDGE_URL = "https://cdn.shopify.com/shopifycloud/app-bridge.js"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="parlons-admin-form")


def new_session(shop: str | None = None) -> None:
    """Forget everything the session held and start a new one (sign-in, sign-out)."""
    session.clear()
    session["nonce"] = secrets.token_urlsafe(16)
    if shop:
        session["shop"] = shop


def _identity() -> str:
    """Who the form is for: the Shopify session when embedded, else this browser's session."""
    embedded = getattr(g, "session_token_sid", None)
    if embedded:
        return f"st:{embedded}"
    if "nonce" not in session:
        session["nonce"] = secrets.token_urlsafe(16)
    return f"cookie:{session['nonce']}"


def csrf_token(action: str) -> str:
    return _serializer().dumps([_identity(), action.split("?", 1)[0]])


def csrf_field(action: str) -> Markup:
    return Markup('<input type="hidden" name="%s" value="%s">') % (CSRF_FIELD, escape(csrf_token(action)))


def check_csrf() -> None:
    """Refuse a form whose token was not made for this session and this action (403)."""
    given = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    try:
        identity, action = _serializer().loads(given, max_age=CSRF_MAX_AGE)
    except (BadSignature, ValueError, TypeError):
        abort(403, description="this form has expired or did not come from this admin: reload the page")
    if identity != _identity() or action != request.path:
        abort(403, description="this form has expired or did not come from this admin: reload the page")


def content_security_policy(embedded_shop: str | None) -> str:
    script, style, frames = ["'self'"], ["'self'"], "'none'"
    connect = ["'self'"]
    if embedded_shop:
        script.append(APP_BRIDGE_URL)
        style.append("'unsafe-inline'")  # App Bridge adds its own style elements
        connect.append("https://*.shopify.com")
        frames = f"https://{embedded_shop} https://admin.shopify.com"
    return "; ".join([
        "default-src 'self'", f"script-src {' '.join(script)}", f"style-src {' '.join(style)}",
        "img-src 'self' data:", "font-src 'self'", f"connect-src {' '.join(connect)}",
        "object-src 'none'", "base-uri 'self'", "form-action 'self'", f"frame-ancestors {frames}",
    ])


def _keep_session_token(response: Response) -> None:
    """Inside Shopify admin, a redirect to another admin page carries on the session token the
    request came with (there is no cookie in Shopify's frame); it is short-lived and checked again."""
    token = request.args.get("id_token") or request.headers.get("Authorization", "").removeprefix("Bearer ")
    target = urlsplit(response.location or "")
    if not token or target.netloc or not target.path.startswith("/admin"):
        return
    query = [(k, v) for k, v in parse_qsl(target.query) if k != "id_token"] + [("id_token", token)]
    response.location = urlunsplit(("", "", target.path, urlencode(query), ""))


def install(app: Flask) -> None:
    @app.before_request
    def _csrf() -> None:
        if request.method == "POST" and request.path.startswith("/admin"):
            from connector.web.admin_auth import remember_session_token

            remember_session_token()
            check_csrf()

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.path.startswith("/admin"):
            embedded = getattr(g, "embedded_shop", None)
            response.headers["Content-Security-Policy"] = content_security_policy(embedded)
            if embedded and response.status_code in (302, 303):
                _keep_session_token(response)
        return response

    app.jinja_env.globals["csrf_field"] = csrf_field
    app.jinja_env.globals["csrf_token"] = csrf_token
