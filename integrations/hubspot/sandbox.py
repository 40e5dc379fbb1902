"""A local stand-in of HubSpot, served over real HTTP, for tests and the demo.

It speaks the shapes the official client library expects: OAuth tokens (30-minute access tokens,
refresh grant), contacts (list, search, batch read/upsert, create/update/get), contact properties
and groups (409 on duplicates), communications with v4 associations, a per-portal rate limiter
answering 429 like HubSpot, and switches to make the next calls time out or fail with a 502.

    sandbox = HubSpotSandbox()
    server = sandbox.start()            # server.url is the API base
    token = sandbox.issue_token(portal_id=123)
    ...
    server.stop()
"""

from __future__ import annotations

import base64
import fnmatch
import functools
import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

import requests
from flask import Flask, g, jsonify, redirect, request

from integrations.serving import RunningServer, serve

ACCESS_TOKEN_SECONDS = 1800
STANDARD_PROPERTIES = {
    "email": "string", "firstname": "string", "lastname": "string", "phone": "string",
    "mobilephone": "string", "lifecyclestage": "enumeration", "createdate": "datetime",
    "lastmodifieddate": "datetime", "hs_object_id": "number",
}
COMMUNICATION_PROPERTIES = {
    "hs_communication_channel_type", "hs_communication_logged_from", "hs_communication_body",
    "hs_timestamp",
}
CONTACT_DEFAULTS = ["firstname", "lastname", "email", "lastmodifieddate", "hs_object_id", "createdate"]
COMMUNICATION_TO_CONTACT = 81
CONTACT_TO_COMMUNICATION = 82


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _now_ms() -> int:
    return int(time.time() * 1000)


@functools.lru_cache(maxsize=65536)
def _as_ms(value) -> float | None:
    """A datetime filter value or property as epoch ms (HubSpot accepts both forms)."""
    if value is None:
        return None
    text = str(value)
    if text.lstrip("-").isdigit():
        return float(text)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000
    except ValueError:
        return None


def _tokens(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text.casefold()).split()


class SandboxError(Exception):
    def __init__(self, status: int, message: str, category: str = "VALIDATION_ERROR", **extra) -> None:
        super().__init__(message)
        self.status, self.category, self.extra = status, category, extra

    def response(self):
        body = {"status": "error", "message": str(self), "correlationId": secrets.token_hex(8),
                "category": self.category, **self.extra}
        return jsonify(body), self.status


@dataclass
class Record:
    id: str
    properties: dict[str, str | None]
    created_ms: int
    updated_ms: int

    def to_json(self, wanted: list[str] | None, extra: dict | None = None) -> dict:
        props = self.properties if wanted is None else {k: self.properties.get(k) for k in wanted}
        body = {"id": self.id, "properties": dict(props), "createdAt": _iso(self.created_ms),
                "updatedAt": _iso(self.updated_ms), "archived": False}
        return {**body, **(extra or {})}


@dataclass
class Portal:
    id: int
    contacts: dict[str, Record] = field(default_factory=dict)
    communications: dict[str, Record] = field(default_factory=dict)
    associations: set[tuple[str, str]] = field(default_factory=set)  # (communication, contact)
    properties: dict[str, dict] = field(default_factory=dict)
    groups: dict[str, dict] = field(default_factory=dict)
    unique_index: dict[tuple[str, str], str] = field(default_factory=dict)
    calls: deque = field(default_factory=deque)
    requests: int = 0
    throttled: int = 0


class HubSpotSandbox:
    """HubSpot's API for any number of portals, in memory, thread-safe."""

    def __init__(self, *, client_id: str = "sandbox-client-id", client_secret: str = "sandbox-client-secret",
                 app_id: int = 424242, rate_limit: int | None = 110, rate_interval_ms: int = 10_000,
                 default_portal: int = 1001) -> None:
        self.client_id, self.client_secret, self.app_id = client_id, client_secret, app_id
        self.rate_limit, self.rate_interval_ms = rate_limit, rate_interval_ms
        self.default_portal = default_portal
        self.portals: dict[int, Portal] = {}
        self.access_tokens: dict[str, tuple[int, float]] = {}  # token -> (portal, expires_at)
        self.refresh_tokens: dict[str, int] = {}
        self.codes: dict[str, tuple[int, str]] = {}  # code -> (portal, redirect_uri)
        self.refreshes = 0
        self.scopes = ["oauth", "crm.objects.contacts.read", "crm.objects.contacts.write",
                       "crm.schemas.contacts.write"]
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

    def issue_token(self, portal_id: int, expires_in: float = ACCESS_TOKEN_SECONDS) -> str:
        """An access token for `portal_id` (a private app's token, or an installed app's)."""
        token = "sbx-at-" + secrets.token_urlsafe(16)
        with self._lock:
            self.portal(portal_id)
            self.access_tokens[token] = (portal_id, time.time() + expires_in)
        return token

    def authorization_code(self, portal_id: int, redirect_uri: str) -> str:
        """What HubSpot hands the app's redirect URL once a user approves the install."""
        code = "sbx-code-" + secrets.token_urlsafe(12)
        with self._lock:
            self.portal(portal_id)
            self.codes[code] = (portal_id, redirect_uri)
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
        now = modified_ms or _now_ms()
        portal, ids = self.portal(portal_id), []
        with self._lock:
            for i in range(start, start + n):
                cid = str(next(self._ids))
                props = {"phone": f"{phone_prefix}{i:07d}", "email": f"customer{i}@example.com",
                         "firstname": f"Client{i}", "lastname": "Test", "lifecyclestage": "customer",
                         **properties}
                props.update(hs_object_id=cid, createdate=_iso(now), lastmodifieddate=_iso(now))
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
                "appId": self.app_id, "occurredAt": _now_ms(), "subscriptionType": subscription_type,
                "attemptNumber": 0, "objectId": int(object_id), "changeSource": "CRM",
                "sourceId": "userId:7", **fields}

    def send_webhook_batch(self, events: list[dict], app_url: str,
                           client_secret: str | None = None, timestamp_ms: int | None = None,
                           signed_uri: str | None = None,
                           extra_headers: dict[str, str] | None = None) -> requests.Response:
        """POST `events` to `app_url` signed with signature v3 like HubSpot (`signed_uri`: the
        public URL HubSpot would sign when `app_url` is the proxy's inside address)."""
        body = json.dumps(events, separators=(",", ":"))
        timestamp = str(timestamp_ms if timestamp_ms is not None else _now_ms())
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
        _register_oauth(app, self)
        _register_objects(app, self)
        _register_properties(app, self)
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
            return self._throttle(portal)

    def _throttle(self, portal: Portal):
        portal.requests += 1
        g.remaining = None
        if self.rate_limit is None:
            return None
        now = _now_ms()
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
        now = _now_ms()
        if record_id is None:
            record_id = str(next(self._ids))
            stamp = {"hs_object_id": record_id, "createdate": _iso(now)} if kind == "contacts" else {
                "hs_object_id": record_id, "hs_createdate": _iso(now)}
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
        record.properties["lastmodifieddate" if kind == "contacts" else "hs_lastmodifieddate"] = _iso(now)
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
                found = all(t in _tokens(have) for t in _tokens(wanted))
            return found == (op == "CONTAINS_TOKEN")
        if op in ("IN", "NOT_IN"):
            found = have.casefold() in {str(v).casefold() for v in flt.get("values", [])}
            return found == (op == "IN")
        if kind in ("datetime", "date", "number"):
            convert = _as_ms if kind != "number" else float
            left, right = convert(have), convert(flt.get("value"))
        else:
            left, right = have.casefold(), str(flt.get("value", "")).casefold()
        ops = {"EQ": left == right, "NEQ": left != right}
        if op in ops:
            return ops[op]
        if left is None or right is None:
            return False
        return {"GT": left > right, "GTE": left >= right, "LT": left < right, "LTE": left <= right}[op]


def _wanted(default: list[str] | None) -> list[str] | None:
    names = [n for item in request.args.getlist("properties") for n in item.split(",") if n]
    return names or default


def _page(records: list[Record], after: str | None, limit: int) -> tuple[list[Record], str | None]:
    start = int(after or 0)
    chunk = records[start:start + limit]
    return chunk, (str(start + limit) if start + limit < len(records) else None)


def _paging(next_after: str | None, path: str) -> dict:
    if next_after is None:
        return {}
    return {"paging": {"next": {"after": next_after, "link": f"{path}?after={next_after}"}}}


def _register_oauth(app: Flask, sandbox: HubSpotSandbox) -> None:
    @app.get("/oauth/authorize")
    def authorize():
        """The install screen: the user approves at once and is sent back with a code."""
        portal_id = int(request.args.get("portal_id", sandbox.default_portal))
        redirect_uri = request.args["redirect_uri"]
        code = sandbox.authorization_code(portal_id, redirect_uri)
        query = urlencode({"code": code, "state": request.args.get("state", "")})
        return redirect(f"{redirect_uri}?{query}")

    @app.post("/oauth/v1/token")
    def token():
        form = request.form
        if form.get("client_id") != sandbox.client_id or form.get("client_secret") != sandbox.client_secret:
            return jsonify(status="BAD_CLIENT_ID", message="missing or unknown client id/secret"), 400
        with sandbox._lock:
            if form.get("grant_type") == "authorization_code":
                portal_id, redirect_uri = sandbox.codes.pop(form.get("code", ""), (None, None))
                if portal_id is None or redirect_uri != form.get("redirect_uri"):
                    return jsonify(status="BAD_AUTH_CODE", message="missing or unknown auth code"), 400
                refresh = "sbx-rt-" + secrets.token_urlsafe(16)
                sandbox.refresh_tokens[refresh] = portal_id
            elif form.get("grant_type") == "refresh_token":
                refresh = form.get("refresh_token", "")
                portal_id = sandbox.refresh_tokens.get(refresh)
                if portal_id is None:
                    return jsonify(status="BAD_REFRESH_TOKEN", message="missing or unknown refresh token"), 400
                sandbox.refreshes += 1
            else:
                return jsonify(status="BAD_GRANT_TYPE", message="unsupported grant_type"), 400
        access = sandbox.issue_token(portal_id)
        return jsonify(token_type="bearer", access_token=access, refresh_token=refresh,
                       expires_in=ACCESS_TOKEN_SECONDS)

    @app.get("/oauth/v1/access-tokens/<token>")
    def access_token_info(token):
        with sandbox._lock:
            owner = sandbox.access_tokens.get(token)
        if owner is None or owner[1] < time.time():
            return jsonify(status="error", message="The access token is expired or invalid"), 404
        return jsonify(token=token, user="owner@example.com", hub_domain=f"portal-{owner[0]}.example.com",
                       scopes=sandbox.scopes, hub_id=owner[0], app_id=sandbox.app_id,
                       expires_in=int(owner[1] - time.time()), user_id=7, token_type="access")


def _register_objects(app: Flask, sandbox: HubSpotSandbox) -> None:
    kinds = {"contacts", "communications"}

    def store(kind: str) -> dict[str, Record]:
        if kind not in kinds:
            raise SandboxError(404, f"unknown object type {kind}", "OBJECT_NOT_FOUND")
        return g.portal.contacts if kind == "contacts" else g.portal.communications

    def defaults(kind):
        return CONTACT_DEFAULTS if kind == "contacts" else ["hs_object_id", "hs_createdate", "hs_lastmodifieddate"]

    @app.get("/crm/v3/objects/<kind>")
    def list_objects(kind):
        limit = min(int(request.args.get("limit", 10)), 100)
        with sandbox._lock:
            records = sorted(store(kind).values(), key=lambda r: int(r.id))
            chunk, next_after = _page(records, request.args.get("after"), limit)
            wanted = _wanted(defaults(kind))
            results = [r.to_json(wanted) for r in chunk]
        return jsonify(results=results, **_paging(next_after, request.path))

    @app.post("/crm/v3/objects/<kind>")
    def create_object(kind):
        body = request.get_json(force=True)
        with sandbox._lock:
            store(kind)
            links = []
            for assoc in body.get("associations") or []:
                target = str(assoc["to"]["id"])
                type_ids = [t.get("associationTypeId") for t in assoc.get("types", [])]
                if kind != "communications" or target not in g.portal.contacts or type_ids != [COMMUNICATION_TO_CONTACT]:
                    raise SandboxError(400, f"invalid association to {target} with types {type_ids}")
                links.append(target)
            record = sandbox.write(g.portal, kind, body.get("properties") or {})
            g.portal.associations.update((record.id, target) for target in links)
            return jsonify(record.to_json(None)), 201

    @app.route("/crm/v3/objects/<kind>/<record_id>", methods=["GET", "PATCH"])
    def one_object(kind, record_id):
        with sandbox._lock:
            records = store(kind)
            if request.method == "PATCH":
                record = sandbox.write(g.portal, kind, request.get_json(force=True).get("properties") or {}, record_id)
                return jsonify(record.to_json(None))
            if record_id not in records:
                raise SandboxError(404, f"resource not found: {record_id}", "OBJECT_NOT_FOUND")
            return jsonify(records[record_id].to_json(_wanted(defaults(kind))))

    @app.post("/crm/v3/objects/<kind>/search")
    def search(kind):
        body = request.get_json(force=True) or {}
        limit, after = int(body.get("limit") or 10), int(body.get("after") or 0)
        if limit > 200:
            raise SandboxError(400, "limit must be at most 200")
        if after + limit > 10_000:
            raise SandboxError(400, "Search results are limited to 10,000 records")
        groups = body.get("filterGroups") or []
        if len(groups) > 5 or any(len(gr.get("filters", [])) > 6 for gr in groups):
            raise SandboxError(400, "at most 5 filterGroups of at most 6 filters")
        with sandbox._lock:
            portal = g.portal
            found = [r for r in store(kind).values()
                     if not groups or any(all(sandbox.matches(portal, r, f) for f in gr.get("filters", []))
                                          for gr in groups)]
            found.sort(key=lambda r: int(r.id))
            for sort in reversed(body.get("sorts") or []):
                name = sort if isinstance(sort, str) else sort.get("propertyName")
                descending = not isinstance(sort, str) and sort.get("direction") == "DESCENDING"
                kind_of = sandbox._property_type(portal, name)
                found.sort(key=lambda r, n=name, k=kind_of: (_as_ms(r.properties.get(n)) or 0) if k == "datetime"
                           else str(r.properties.get(n) or ""), reverse=descending)
            chunk, next_after = _page(found, str(after), limit)
            wanted = body.get("properties") or defaults(kind)
            results = [r.to_json(wanted) for r in chunk]
        return jsonify(total=len(found), results=results, **_paging(next_after, request.path))

    @app.post("/crm/v3/objects/contacts/batch/read")
    def batch_read():
        body = request.get_json(force=True)
        started = _iso(_now_ms())
        with sandbox._lock:
            ids = [str(i["id"]) for i in body.get("inputs", [])]
            if len(ids) > 100:
                raise SandboxError(400, "at most 100 inputs per batch")
            contacts = g.portal.contacts
            results = [contacts[i].to_json(body.get("properties") or CONTACT_DEFAULTS) for i in ids if i in contacts]
            missing = [i for i in ids if i not in contacts]
        out = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _iso(_now_ms())}
        if missing:
            out.update(numErrors=1, errors=[{"status": "error", "category": "OBJECT_NOT_FOUND",
                                             "message": "Could not get some CONTACT objects, they may be deleted or not exist.",
                                             "context": {"ids": missing}}])
            return jsonify(out), 207
        return jsonify(out)

    @app.post("/crm/v3/objects/contacts/batch/upsert")
    def batch_upsert():
        inputs = request.get_json(force=True).get("inputs", [])
        started = _iso(_now_ms())
        if len(inputs) > 100:
            raise SandboxError(400, "at most 100 inputs per batch")
        keys = [(i.get("idProperty"), str(i.get("id"))) for i in inputs]
        if len(set(keys)) != len(keys):
            raise SandboxError(400, "Duplicate IDs found in batch input")
        with sandbox._lock:
            portal, results = g.portal, []
            for (id_property, key), item in zip(keys, inputs, strict=True):
                if id_property not in sandbox._unique_names(portal):
                    raise SandboxError(400, f"{id_property} is not a unique property")
                existing = portal.unique_index.get((id_property, key.casefold()))
                props = {**(item.get("properties") or {}), id_property: key}
                record = sandbox.write(portal, "contacts", props, existing)
                results.append(record.to_json(None, {"new": existing is None}))
        return jsonify(status="COMPLETE", results=results, startedAt=started, completedAt=_iso(_now_ms()))

    @app.put("/crm/v4/objects/<from_kind>/<from_id>/associations/<to_kind>/<to_id>")
    def associate(from_kind, from_id, to_kind, to_id):
        types = [t.get("associationTypeId") for t in request.get_json(force=True) or []]
        with sandbox._lock:
            portal = g.portal
            pair = ((from_id, to_id) if (from_kind, to_kind) == ("communications", "contacts") else (to_id, from_id))
            expected = COMMUNICATION_TO_CONTACT if from_kind == "communications" else CONTACT_TO_COMMUNICATION
            if {from_kind, to_kind} != kinds or types != [expected] or pair[0] not in portal.communications \
                    or pair[1] not in portal.contacts:
                raise SandboxError(400, "unsupported association")
            portal.associations.add(pair)
        return jsonify(fromObjectTypeId=from_kind, fromObjectId=int(from_id), toObjectTypeId=to_kind,
                       toObjectId=int(to_id), labels=[]), 201

    @app.get("/crm/v4/objects/<from_kind>/<from_id>/associations/<to_kind>")
    def associations(from_kind, from_id, to_kind):
        with sandbox._lock:
            pairs = g.portal.associations
            if (from_kind, to_kind) == ("contacts", "communications"):
                ids, type_id = [c for c, p in pairs if p == from_id], CONTACT_TO_COMMUNICATION
            else:
                ids, type_id = [p for c, p in pairs if c == from_id], COMMUNICATION_TO_CONTACT
        results = [{"toObjectId": int(i), "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}]} for i in sorted(ids, key=int)]
        return jsonify(results=results)


def _register_properties(app: Flask, sandbox: HubSpotSandbox) -> None:
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
                    "createdAt": _iso(_now_ms()), "updatedAt": _iso(_now_ms())}
            portal.properties[name] = prop
            return jsonify(prop), 201

    @app.get("/crm/v3/properties/contacts/<name>")
    def one_property(name):
        with sandbox._lock:
            prop = g.portal.properties.get(name)
        if prop is None:
            raise SandboxError(404, f"Unable to find property {name}", "OBJECT_NOT_FOUND")
        return jsonify(prop)
