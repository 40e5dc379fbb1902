"""HTTP edges: webhooks, install flows, REST API, admin UI, link redirects.

Every module of this package that defines a blueprint `bp` is registered, except the demo pages,
which only `parlons demo` adds. The REST API's blueprints (`api_*.py`, made with
`connector.web.rest.api_blueprint`) are registered through the API, which documents them.
"""

from __future__ import annotations

import importlib
import pkgutil

from flask import Flask, current_app
from flask_smorest import Blueprint as ApiBlueprint

from connector.runtime import Runtime
from connector.web import rest

NOT_AUTO = {"demo"}


def rt() -> Runtime:
    return current_app.extensions["parlons"]


def register_blueprints(app: Flask) -> None:
    api = rest.install(app)
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name in NOT_AUTO:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        bp = getattr(module, "bp", None)
        if isinstance(bp, ApiBlueprint):
            api.register_blueprint(bp)
        elif bp is not None:
            app.register_blueprint(bp)
