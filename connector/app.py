"""The Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from connector import runtime as runtime_mod
from connector.config import Config
from connector.runtime import Runtime

log = logging.getLogger("parlons")


def create_app(config: Config | None = None) -> Flask:
    """Build the web app. Reads the environment when no config is given; connects to nothing yet."""
    config = config or Config.from_env()
    app = Flask(__name__, instance_relative_config=False)
    app.config["SECRET_KEY"] = config.secret_key
    app.config["TESTING"] = config.testing
    rt = runtime_mod.install(Runtime(config))
    app.extensions["parlons"] = rt

    from connector.web import register_blueprints

    register_blueprints(app)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # one JSON shape for every error
        return jsonify(error=exc.name.lower().replace(" ", "_"), message=exc.description), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return jsonify(error="internal_error", message="unexpected error; it has been logged"), 500

    return app
