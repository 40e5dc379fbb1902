"""HTTP edges: webhooks, install flows, REST API, admin UI, link redirects."""

from __future__ import annotations

from flask import Flask, current_app

from connector.runtime import Runtime


def rt() -> Runtime:
    return current_app.extensions["parlons"]


def register_blueprints(app: Flask) -> None:
    from connector.web import api, health, provider_webhooks, webhooks

    app.register_blueprint(health.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(provider_webhooks.bp)
    app.register_blueprint(api.bp)
