"""A local stand-in of HubSpot, served over real HTTP, for tests and the demo.

It speaks the shapes the official client library expects: OAuth tokens (30-minute access tokens,
refresh grant), contacts (list, search, batch read/upsert, create/update/get), contact properties
and groups (409 on duplicates), communications with v4 associations, a per-portal rate limiter
answering 429 like HubSpot, and switches to make the next calls time out or fail with a 502.
Like HubSpot it refuses calls whose OAuth scope the token was not granted (403 MISSING_SCOPES) and
requests its published OpenAPI documents refuse (400 VALIDATION_ERROR), see `checks.py`.

    sandbox = HubSpotSandbox()
    server = sandbox.start()            # server.url is the API base
    token = sandbox.issue_token(portal_id=123)
    ...
    server.stop()
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
from collections import deque

import requests
from flask import Flask, g, request

from integrations.hubspot.install import SCOPES
from integrations.hubspot.sandbox.checks import invalid_request, missing_scopes, scopes_used
from integrations.hubspot.sandbox.objects import register_objects
from integrations.hubspot.sandbox.routes import register_oauth, register_properties
from integrations.hubspot.sandbox.store import (
    ACCESS_TOKEN_SECONDS,
    COMMUNICATION_PROPERTIES,
    STANDARD_PROPERTIES,
    Portal,
    Record,
    SandboxError,
    as_ms,
    iso,
    now_ms,
    tokens,
)
from integrations.serving import RunningServer, serve


class HubSpotSandbox:
    """HubSpot's API for any number of portals, in memory, thread-safe."""

    def __init__(self, *, client_id: str = "sandbox-client-id", client_secret: str = "sandbox-client-secret",
                 app_id: int = 424242, rate_limit: int | None = 110, rate_interval_ms: int = 10_000,
                 default_portal: int = 1001) -> None:
        self.client_id, self.client_secret, self.app_id = client_id, client_secret, app_id
        self.rate_limit, self.rate_interval_ms = rate_limit, rate_interval_ms
        self.default_portal = default_portal
        self.portals: dict[int, Portal] = {}
        # token -> (portal, expires_at, granted scopes)
        self.access_tokens: dict[str, tuple[int, float, frozenset[str]]] = {}
        self.refresh_tokens: dict[str, tuple[int, frozenset[str]]] = {}
        self.codes: dict[str, tuple[int, str, frozenset[str]]] = {}  # code -> (portal, redirect_uri, scopes)
        self.refreshes = 0
        # The app's scopes as configured in its HubSpot developer account: what it asks for.
        self.scopes = list(SCOPES)
        self.scopes_used: set[str] = set()  # scopes that allowed the calls served so far
        self.faults: deque[tuple[str, str]] = deque()  # (mode, path prefix)
        self.timeout_sleep = 1.0
        self._ids = itertools.count(1001)
        self._event_ids = itertools.count(1)
        self._lock = threading.RLock()
        self.app = self._build_app()

    # ----- test and demo helpers -------------------------------------------------------------
    def start(self) -> RunningServer:
        return serve(self.app)

    def portal(self, portal_id: int) -> Portal:
        with self._lock:
            return self.portals.setdefault(portal_id, Portal(portal_id))

    def issue_token(self, portal_id: int, expires_in: float = ACCESS_TOKEN_SECONDS,
                    scopes: list[str] | None = None) -> str:
        """An access token for `portal_id` (a private app's token, or an installed app's) granted
        `scopes` (by default the app's configured scopes)."""
        token = "sbx-at-" + secrets.token_urlsafe(16)
        granted = frozenset(self.scopes if scopes is None else scopes)
        with self._lock:
            self.portal(portal_id)
            self.access_tokens[token] = (portal_id, time.time() + expires_in, granted)
        return token

    def authorization_code(self, portal_id: int, redirect_uri: str, scopes: list[str] | None = None) -> str:
        """What HubSpot hands the app's redirect URL once a user approves the install."""
        code = "sbx-code-" + secrets.token_urlsafe(12)
        with self._lock:
            self.portal(portal_id)
            self.codes[code] = (portal_id, redirect_uri, frozenset(self.scopes if scopes is None else scopes))
        return code

    def fail_next(self, n: int, mode: str = "timeout", path: str = "/") -> None:
        """Make the next `n` calls under `path` fail: "timeout" does the work, then answers only
        after `timeout_sleep` seconds (past the client's timeout); "502" does nothing."""
        if mode not in ("timeout", "502"):
            raise ValueError(mode)
        with self._lock:
            self.faults.extend([(mode, path)] * n)

    def add_contacts(self, portal_id: int, n: int, *, start: int = 0, phone_prefix: str = "+3361",
                     modified_ms: int | None = None, **properties: str) -> list[str]:
        """Seed `n` contacts numbered from `start` (phone, email, names); returns their ids."""
        now = modified_ms or now_ms()
        portal, ids = self.portal(portal_id), []
        with self._lock:
            for i in range(start, start + n):
                cid = str(next(self._ids))
                props = {"phone": f"{phone_prefix}{i:07d}", "email": f"customer{i}@example.com",
                         "firstname": f"Client{i}", "lastname": "Test", "lifecyclestage": "customer",
                         **properties}
                props.update(hs_object_id=cid, createdate=iso(now), lastmodifieddate=iso(now))
                portal.contacts[cid] = Record(cid, props, now, now)
                portal.unique_index[("email", props["email"].casefold())] = cid
                ids.append(cid)
        return ids

    def contacts_for(self, portal_id: int) -> list[dict]:
        with self._lock:
            return [{"id": r.id, **r.properties} for r in self.portal(portal_id).contacts.values()]

    def communications_for(self, contact_id: str) -> list[dict]:
        with self._lock:
            return [{"id": comm.id, **comm.properties}
                    for portal in self.portals.values()
                    for comm in portal.communications.values()
                    if (comm.id, str(contact_id)) in portal.associations]

    def event(self, portal_id: int, subscription_type: str, object_id, **fields) -> dict:
        """One webhook event as HubSpot sends it (fields such as propertyName override)."""
        return {"eventId": next(self._event_ids), "subscriptionId": 1, "portalId": portal_id,
                "appId": self.app_id, "occurredAt": now_ms(), "subscriptionType": subscription_type,
                "attemptNumber": 0, "objectId": int(object_id), "changeSource": "CRM",
                "sourceId": "userId:7", **fields}

    def send_webhook_batch(self, events: list[dict], app_url: str,
                           client_secret: str | None = None, timestamp_ms: int | None = None,
                           signed_uri: str | None = None,
                           extra_headers: dict[str, str] | None = None) -> requests.Response:
        """POST `events` to `app_url` signed with signature v3 like HubSpot (`signed_uri`: the
        public URL HubSpot would sign when `app_url` is the proxy's inside address)."""
        body = json.dumps(events, separators=(",", ":"))
        timestamp = str(timestamp_ms if timestamp_ms is not None else now_ms())
        secret = client_secret or self.client_secret
        source = f"POST{signed_uri or app_url}{body}{timestamp}".encode()
        signature = base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest())
        headers = {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": timestamp,
                   "X-HubSpot-Signature-v3": signature.decode(), "User-Agent": "HubSpot Webhooks", **(extra_headers or {})}
        return requests.post(app_url, data=body.encode(), headers=headers, timeout=10)

    # ----- HTTP: auth, rate limit, faults ------------------------------------------------------
    def _build_app(self) -> Flask:
        app = Flask("hubspot_sandbox")
        app.register_error_handler(SandboxError, lambda error: error.response())
        app.before_request(self._before)
        app.after_request(self._after)
        register_oauth(app, self)
        register_objects(app, self)
        register_properties(app, self)
        return app

    def _before(self):
        with self._lock:
            fault = next((f for f in self.faults if request.path.startswith(f[1])), None)
            if fault:
                self.faults.remove(fault)
        g.sleep_after = fault is not None and fault[0] == "timeout"
        if fault and fault[0] == "502":
            return "<html><body>502 Bad Gateway</body></html>", 502, {"Content-Type": "text/html"}
        if request.path.startswith("/oauth/"):
            return None
        auth = request.headers.get("Authorization", "")
        with self._lock:
            owner = self.access_tokens.get(auth.removeprefix("Bearer ").strip())
            if owner is None or owner[1] < time.time():
                raise SandboxError(401, "Authentication credentials not found or expired.",
                                   "EXPIRED_AUTHENTICATION" if owner else "INVALID_AUTHENTICATION")
            g.portal = portal = self.portal(owner[0])
            throttled = self._throttle(portal)
        if throttled is not None:
            return throttled
        refused = missing_scopes(request.method, request.path, owner[2]) or invalid_request(request)
        if refused is not None:
            return refused.response()
        with self._lock:
            self.scopes_used |= scopes_used(request.method, request.path, owner[2])
        return None

    def _throttle(self, portal: Portal):
        portal.requests += 1
        g.remaining = None
        if self.rate_limit is None:
            return None
        now = now_ms()
        while portal.calls and portal.calls[0] <= now - self.rate_interval_ms:
            portal.calls.popleft()
        if len(portal.calls) >= self.rate_limit:
            portal.throttled += 1
            retry_after = max(1, -(-(portal.calls[0] + self.rate_interval_ms - now) // 1000))
            body, status = SandboxError(
                429, "You have reached your ten_secondly_rolling limit.", "RATE_LIMITS",
                errorType="RATE_LIMIT", policyName="TEN_SECONDLY_ROLLING",
            ).response()
            body.headers.update(self._limit_headers(0))
            body.headers["Retry-After"] = str(retry_after)
            return body, status
        portal.calls.append(now)
        g.remaining = self.rate_limit - len(portal.calls)
        return None

    def _limit_headers(self, remaining: int) -> dict[str, str]:
        return {"X-HubSpot-RateLimit-Max": str(self.rate_limit),
                "X-HubSpot-RateLimit-Remaining": str(remaining),
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(self.rate_interval_ms)}

    def _after(self, response):
        if getattr(g, "remaining", None) is not None and response.status_code != 429:
            response.headers.update(self._limit_headers(g.remaining))
        if getattr(g, "sleep_after", False):
            time.sleep(self.timeout_sleep)
        return response

    # ----- records ---------------------------------------------------------------------------
    def _property_type(self, portal: Portal, name: str) -> str:
        if name in STANDARD_PROPERTIES:
            return STANDARD_PROPERTIES[name]
        if name == "hs_timestamp":
            return "datetime"
        return portal.properties.get(name, {}).get("type", "string")

    def _check_properties(self, portal: Portal, kind: str, props: dict) -> None:
        errors = []
        for name, value in props.items():
            if kind == "communications":
                known = name in COMMUNICATION_PROPERTIES
            else:
                known = name in STANDARD_PROPERTIES or name in portal.properties
            if not known:
                errors.append({"isValid": False, "message": f'Property "{name}" does not exist',
                               "error": "PROPERTY_DOESNT_EXIST", "name": name})
            elif name in ("hs_object_id", "createdate", "lastmodifieddate"):
                errors.append({"isValid": False, "message": f"{name} is a read only property",
                               "error": "READ_ONLY_VALUE", "name": name})
            elif value not in (None, "") and name in portal.properties:
                options = [o["value"] for o in portal.properties[name].get("options", [])]
                if options and value not in options:
                    errors.append({"isValid": False, "message": f"{value!r} was not one of the allowed options",
                                   "error": "INVALID_OPTION", "name": name})
        if kind == "communications" and props.get("hs_communication_channel_type") not in (
                None, "SMS", "WHATS_APP", "LINKEDIN_MESSAGE"):
            errors.append({"isValid": False, "error": "INVALID_OPTION", "name": "hs_communication_channel_type",
                           "message": "channel type must be SMS, WHATS_APP or LINKEDIN_MESSAGE"})
        if errors:
            raise SandboxError(400, f"Property values were not valid: {json.dumps(errors)}")

    def _unique_names(self, portal: Portal) -> list[str]:
        return ["email"] + [n for n, p in portal.properties.items() if p.get("hasUniqueValue")]

    def write(self, portal: Portal, kind: str, props: dict, record_id: str | None = None) -> Record:
        """Create (record_id None) or update a record, enforcing properties and unique values."""
        self._check_properties(portal, kind, props)
        store = portal.contacts if kind == "contacts" else portal.communications
        if record_id is not None and record_id not in store:
            raise SandboxError(404, f"resource not found: {record_id}", "OBJECT_NOT_FOUND")
        if kind == "contacts":
            for name in self._unique_names(portal):
                value = props.get(name)
                owner = portal.unique_index.get((name, str(value).casefold())) if value else None
                if owner is not None and owner != record_id:
                    raise SandboxError(409, f"Contact already exists. Existing ID: {owner}", "CONFLICT")
        now = now_ms()
        if record_id is None:
            record_id = str(next(self._ids))
            stamp = {"hs_object_id": record_id, "createdate": iso(now)} if kind == "contacts" else {
                "hs_object_id": record_id, "hs_createdate": iso(now)}
            store[record_id] = Record(record_id, stamp, now, now)
        record = store[record_id]
        if kind == "contacts":
            for name in self._unique_names(portal):
                old = record.properties.get(name)
                if name in props and old:
                    portal.unique_index.pop((name, str(old).casefold()), None)
                if props.get(name):
                    portal.unique_index[(name, str(props[name]).casefold())] = record_id
        record.properties.update({k: (None if v == "" else str(v)) for k, v in props.items()})
        record.properties["lastmodifieddate" if kind == "contacts" else "hs_lastmodifieddate"] = iso(now)
        record.updated_ms = now
        return record

    def matches(self, portal: Portal, record: Record, flt: dict) -> bool:
        name, op = flt.get("propertyName"), flt.get("operator", "EQ")
        have = record.properties.get(name)
        if op == "HAS_PROPERTY":
            return have not in (None, "")
        if op == "NOT_HAS_PROPERTY":
            return have in (None, "")
        if have is None:
            return op in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN")
        kind = self._property_type(portal, name)
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            wanted = str(flt.get("value", "")).casefold()
            if "*" in wanted:
                found = fnmatch.fnmatchcase(have.casefold(), wanted)
            else:
                found = all(t in tokens(have) for t in tokens(wanted))
            return found == (op == "CONTAINS_TOKEN")
        if op in ("IN", "NOT_IN"):
            found = have.casefold() in {str(v).casefold() for v in flt.get("values", [])}
            return found == (op == "IN")
        if kind in ("datetime", "date", "number"):
            convert = as_ms if kind != "number" else float
            left, right = convert(have), convert(flt.get("value"))
        else:
            left, right = have.casefold(), str(flt.get("value", "")).casefold()
        ops = {"EQ": left == right, "NEQ": left != right}
        if op in ops:
            return ops[op]
        if left is None or right is None:
            return False
        return {"GT": left > right, "GTE": left >= right, "LT": left < right, "LTE": left <= right}[op]
