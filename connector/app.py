"""The Flask application factory."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, abort, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from connector import runtime as runtime_mod
from connector.config import Config
from connector.logs import install_masking
from connector.runtime import Runtime

log = logging.getLogger("parlons")


def create_app(config: Config | None = None) -> Flask:
    """Build the web app. Reads the environment when no config is given; connects to nothing yet."""
    config = config or Config.from_env()
    install_masking()
    app = Flask(__name__, instance_relative_config=False)
    app.config["SECRET_KEY"] = config.secret_key
    app.config["TESTING"] = config.testing
    # The admin's sign-in cookie is never sent with a cross-site POST (CSRF); inside Shopify admin
    # requests carry Shopify's session token instead of the cookie.
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SECURE"] = config.public_url.startswith("https://")
    rt = runtime_mod.install(Runtime(config))
    app.extensions["parlons"] = rt

    from connector.web import limits, register_blueprints

    register_blueprints(app)
    limits.install(app, rt)
    if config.trusted_proxies:
        n = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]

    @app.before_request
    def same_origin_forms():
        """A form posted to the admin from another site is refused (CSRF), whatever the browser."""
        if request.method == "POST" and request.path.startswith("/admin"):
            origin = request.headers.get("Origin")
            if origin and urlsplit(origin).netloc != request.host:
                abort(403, description="cross-site form refused")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # one JSON shape for every error
        return jsonify(error=exc.name.lower().replace(" ", "_"), message=exc.description), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return jsonify(error="internal_error", message="unexpected error; it has been logged"), 500

    return app
