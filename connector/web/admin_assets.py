"""Third-party files of the admin, served from the npm packages `make setup` installs
(node_modules, never committed): `/static/vendor/<package>/<file>`."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory

NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
# The name in our URLs -> the folder of the installed package that holds its built files.
VENDOR = {
    "polaris": "@shopify/polaris/build/esm",
    "polaris-icons": "@shopify/polaris-icons/dist/svg",
    "chart.js": "chart.js/dist",
}

bp = Blueprint("admin_assets", __name__)


@bp.get("/static/vendor/<package>/<path:name>")
def vendor(package: str, name: str):
    folder = VENDOR.get(package)
    if folder is None:
        abort(404, description=f"no vendored package {package}")
    root = NODE_MODULES / folder
    if not root.is_dir():
        abort(404, description=f"{package} is not installed: run `make setup` (npm ci)")
    return send_from_directory(root, name, max_age=86400)
