"""OAuth and property routes of the sandbox."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flask import Flask, g, jsonify, redirect, request

from integrations.hubspot.sandbox.store import (
    ACCESS_TOKEN_SECONDS,
    STANDARD_PROPERTIES,
    SandboxError,
    iso,
    now_ms,
)

if TYPE_CHECKING:
    from integrations.hubspot.sandbox import HubSpotSandbox


def register_oauth(app: Flask, sandbox: HubSpotSandbox) -> None:
    @app.get("/oauth/authorize")
    def authorize():
        """The install screen: the user approves at once and is sent back with a code."""
        portal_id = int(request.args.get("portal_id", sandbox.default_portal))
        redirect_uri = request.args["redirect_uri"]
        asked = set(request.args.get("scope", "").split())
        if asked != set(sandbox.scopes):  # HubSpot: the install URL must ask for the app's scopes
            return ("Authorization failed because there is a mismatch between the scopes in the install URL "
                    "and the app's configured scopes.", 400, {"Content-Type": "text/plain"})
        code = sandbox.authorization_code(portal_id, redirect_uri, sorted(asked))
        query = urlencode({"code": code, "state": request.args.get("state", "")})
        return redirect(f"{redirect_uri}?{query}")

    @app.post("/oauth/v1/token")
    def token():
        form = request.form
        if form.get("client_id") != sandbox.client_id or form.get("client_secret") != sandbox.client_secret:
            return jsonify(status="BAD_CLIENT_ID", message="missing or unknown client id/secret"), 400
        with sandbox._lock:
            if form.get("grant_type") == "authorization_code":
                portal_id, redirect_uri, granted = sandbox.codes.pop(form.get("code", ""), (None, None, None))
                if portal_id is None or redirect_uri != form.get("redirect_uri"):
                    return jsonify(status="BAD_AUTH_CODE", message="missing or unknown auth code"), 400
                refresh = "sbx-rt-" + secrets.token_urlsafe(16)
                sandbox.refresh_tokens[refresh] = (portal_id, granted)
            elif form.get("grant_type") == "refresh_token":
                refresh = form.get("refresh_token", "")
                portal_id, granted = sandbox.refresh_tokens.get(refresh, (None, None))
                if portal_id is None:
                    return jsonify(status="BAD_REFRESH_TOKEN", message="missing or unknown refresh token"), 400
                sandbox.refreshes += 1
            else:
                return jsonify(status="BAD_GRANT_TYPE", message="unsupported grant_type"), 400
        access = sandbox.issue_token(portal_id, scopes=sorted(granted))
        return jsonify(token_type="bearer", access_token=access, refresh_token=refresh,
                       expires_in=ACCESS_TOKEN_SECONDS)

    @app.get("/oauth/v1/access-tokens/<token>")
    def access_token_info(token):
        with sandbox._lock:
            owner = sandbox.access_tokens.get(token)
        if owner is None or owner[1] < time.time():
            return jsonify(status="error", message="The access token is expired or invalid"), 404
        return jsonify(token=token, user="owner@example.com", hub_domain=f"portal-{owner[0]}.example.com",
                       scopes=sorted(owner[2]), hub_id=owner[0], app_id=sandbox.app_id,
                       expires_in=int(owner[1] - time.time()), user_id=7, token_type="access")


def register_properties(app: Flask, sandbox: HubSpotSandbox) -> None:
    @app.route("/crm/v3/properties/contacts/groups", methods=["GET", "POST"])
    def groups():
        with sandbox._lock:
            portal = g.portal
            if request.method == "GET":
                return jsonify(results=list(portal.groups.values()))
            body = request.get_json(force=True)
            if body["name"] in portal.groups:
                raise SandboxError(409, f"A property group named {body['name']} already exists.",
                                   "OBJECT_ALREADY_EXISTS")
            portal.groups[body["name"]] = group = {"name": body["name"], "label": body.get("label", body["name"]),
                                                   "displayOrder": body.get("displayOrder", -1), "archived": False}
            return jsonify(group), 201

    @app.route("/crm/v3/properties/contacts", methods=["GET", "POST"])
    def properties():
        with sandbox._lock:
            portal = g.portal
            if request.method == "GET":
                return jsonify(results=list(portal.properties.values()))
            body = request.get_json(force=True)
            name = body.get("name", "")
            if name in portal.properties or name in STANDARD_PROPERTIES:
                raise SandboxError(409, f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
            if body.get("groupName") not in portal.groups:
                raise SandboxError(400, f"property group {body.get('groupName')} does not exist")
            options = [{"hidden": False, "displayOrder": i, **o} for i, o in enumerate(body.get("options") or [])]
            prop = {"name": name, "label": body.get("label", name), "type": body.get("type", "string"),
                    "fieldType": body.get("fieldType", "text"), "groupName": body["groupName"],
                    "description": body.get("description", ""), "options": options,
                    "hasUniqueValue": bool(body.get("hasUniqueValue")), "hidden": False,
                    "formField": bool(body.get("formField")), "archived": False,
                    "createdAt": iso(now_ms()), "updatedAt": iso(now_ms())}
            portal.properties[name] = prop
            return jsonify(prop), 201

    @app.get("/crm/v3/properties/contacts/<name>")
    def one_property(name):
        with sandbox._lock:
            prop = g.portal.properties.get(name)
        if prop is None:
            raise SandboxError(404, f"Unable to find property {name}", "OBJECT_NOT_FOUND")
        return jsonify(prop)
