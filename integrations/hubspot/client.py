"""The only module that talks HTTP to HubSpot's CRM, through the official client library.

Every call goes through the portal's shared rate limiter (110 requests per 10 s by default, the
limit of public apps; private apps are configured with `limit`/`per_seconds`), and search calls
also through HubSpot's stricter search limit (5 per second). 429, 5xx and timeouts are retried
with backoff honouring `Retry-After`; other 4xx raise `ApiError` at once and are logged. SDK
exceptions never leave this module.

HubSpot has no SMS consent API: consent lives in contact properties this app owns (group
`parlons`), and each SMS is a Communication (channel SMS) associated with its contact.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime

import hubspot.crm.contacts as contacts_sdk
import hubspot.crm.objects.communications as communications_sdk
import hubspot.crm.properties as properties_sdk
import urllib3
from hubspot import HubSpot
from urllib3.util.retry import Retry

from integrations.errors import ApiError, RateLimited, Unauthorized
from integrations.ratelimit import TokenBucket
from integrations.retry import DEFAULT_POLICY, RetryPolicy, call_with_retries

log = logging.getLogger(__name__)

SDK_ERRORS = (contacts_sdk.ApiException, communications_sdk.ApiException, properties_sdk.ApiException)
GROUP = {"name": "parlons", "label": "Parlons SMS", "displayOrder": -1}
CONSENT_OPTIONS = [("subscribed", "Subscribed"), ("unsubscribed", "Unsubscribed"),
                   ("pending", "Pending confirmation"), ("not_subscribed", "Not subscribed")]
PROPERTIES = [
    {"name": "parlons_sms_consent", "label": "SMS consent", "type": "enumeration", "fieldType": "select",
     "description": "SMS marketing consent of record, kept by Parlons.",
     "options": [{"value": v, "label": label, "displayOrder": i, "hidden": False}
                 for i, (v, label) in enumerate(CONSENT_OPTIONS)]},
    {"name": "parlons_sms_consent_updated_at", "label": "SMS consent updated at", "type": "datetime",
     "fieldType": "date", "description": "When the SMS consent last changed."},
    {"name": "parlons_sms_consent_source", "label": "SMS consent source", "type": "string", "fieldType": "text",
     "description": "Where the SMS consent came from (shopify, hubspot, sms, admin, api)."},
    {"name": "parlons_phone_e164", "label": "Mobile phone (E.164)", "type": "string", "fieldType": "text",
     "hasUniqueValue": True, "description": "The number Parlons texts, in E.164 form; unique per contact."},
]
ID_PROPERTY = "parlons_phone_e164"
CONTACT_PROPERTIES = ["phone", "mobilephone", "email", "firstname", "lastname", "lifecyclestage",
                      "lastmodifieddate"] + [p["name"] for p in PROPERTIES]
COMMUNICATION_TO_CONTACT = 81
SEARCH_WINDOW = 10_000  # HubSpot returns at most this many results for one search
MARKER = re.compile(r"^[A-Za-z0-9]{8,64}$")


def _retry_after(headers) -> float | None:
    value = (headers or {}).get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def translate_sdk_error(exc) -> ApiError:
    """An SDK ApiException as our error, keeping status, body and Retry-After."""
    body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else exc.body
    message, code = f"HubSpot answered {exc.status}", None
    try:
        parsed = json.loads(body or "")
        message = parsed.get("message", message)
        code = parsed.get("category") or (parsed.get("status") if parsed.get("status") != "error" else None)
    except (ValueError, AttributeError):
        pass
    kind = {401: Unauthorized, 403: Unauthorized, 429: RateLimited}.get(exc.status, ApiError)
    return kind(message, status=exc.status, code=code, body=body, retry_after=_retry_after(exc.headers))


def search_body(filter_groups: list[dict], properties: list[str], limit: int, *, after: int = 0,
                sorts: list[dict] | None = None) -> dict:
    """A search request with every field HubSpot's published document requires."""
    return {"filterGroups": filter_groups, "properties": properties, "limit": limit, "after": str(after),
            "sorts": sorts or []}


def _plain(record: dict) -> dict:
    """A HubSpot record as {"id", "properties", "updated_at"}."""
    updated = record.get("updatedAt")
    return {"id": str(record["id"]), "properties": dict(record.get("properties") or {}),
            "updated_at": datetime.fromisoformat(updated) if updated else None}


class HubSpotClient:
    """One portal's CRM, as the app sees it. Counts `requests` made and `throttled` (429) answers."""

    def __init__(
        self,
        access_token: str | Callable[[], str],
        *,
        portal_id: int | str,
        base_url: str | None = None,
        redis_conn=None,
        limit: int = 110,
        per_seconds: float = 10,
        search_limit: int = 5,
        timeout: float = 10.0,
        retry: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.portal_id = str(portal_id)
        self._token_source = access_token if callable(access_token) else (lambda: access_token)
        self._token = self._token_source()
        where = {"host": base_url.rstrip("/"), "base_url": base_url.rstrip("/")} if base_url else {}
        # Our policy is the only one that retries: the library's own retries are switched off.
        sdk = HubSpot(access_token=self._token, retry=Retry(total=0, raise_on_status=False), **where)
        self._apis = {
            "contacts": sdk.crm.contacts.basic_api, "contacts_batch": sdk.crm.contacts.batch_api,
            "contacts_search": sdk.crm.contacts.search_api,
            "communications": sdk.crm.objects.communications.basic_api,
            "communications_search": sdk.crm.objects.communications.search_api,
            "properties": sdk.crm.properties.core_api, "groups": sdk.crm.properties.groups_api,
        }
        self.bucket = self.search_bucket = None
        if redis_conn is not None:
            key = f"parlons:ratelimit:hubspot:{self.portal_id}"
            self.bucket = TokenBucket(redis_conn, key, limit, per_seconds)
            self.search_bucket = TokenBucket(redis_conn, f"{key}:search", search_limit, 1.0)
        self.timeout = timeout
        self.retry = retry
        self.sleep = sleep
        self.requests = 0
        self.throttled = 0

    # ----- plumbing --------------------------------------------------------------------------
    def _api(self, name: str):
        token = self._token_source()
        if token != self._token:
            self._token = token
            for api in self._apis.values():
                api.api_client.configuration.access_token = token
        return self._apis[name]

    def _once(self, api: str, method: str, *args, **kwargs) -> dict:
        """One HTTP call: wait for a token, call, translate errors, read the rate-limit headers.

        The library builds, authenticates and sends the request; we read the JSON answer
        ourselves (its model classes cost about a millisecond per record, too slow for a sync).
        """
        if self.bucket is not None:
            self.bucket.acquire()
            if api.endswith("_search"):
                self.search_bucket.acquire()
        self.requests += 1
        call = getattr(self._api(api), f"{method}_with_http_info")
        try:
            response = call(*args, _request_timeout=self.timeout, _preload_content=False, **kwargs)
            raw = response.data
        except SDK_ERRORS as exc:
            error = translate_sdk_error(exc)
            if isinstance(error, RateLimited):
                self.throttled += 1
                if self.bucket is not None:
                    self.bucket.penalise(error.retry_after or self.retry.delay(1))
            elif not error.retryable:
                log.warning("HubSpot %s.%s refused: %s %s %s", api, method, error.status, error.code, error)
            raise error from None
        except urllib3.exceptions.HTTPError as exc:
            raise ApiError(f"HubSpot did not answer in time or at all: {type(exc).__name__}") from None
        self._observe(response.headers)
        return json.loads(raw) if raw else {}

    def _observe(self, headers) -> None:
        """When HubSpot says the window is spent (other apps or processes), pause the portal."""
        try:
            remaining = int(headers.get("X-HubSpot-RateLimit-Remaining"))
            interval = int(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")) / 1000
            ceiling = max(int(headers.get("X-HubSpot-RateLimit-Max")), 1)
        except (TypeError, ValueError):
            return
        if remaining <= 0 and self.bucket is not None:
            self.bucket.penalise(interval / ceiling)

    def _call(self, api: str, method: str, *args, **kwargs):
        return call_with_retries(lambda: self._once(api, method, *args, **kwargs), self.retry, self.sleep)

    # ----- properties ------------------------------------------------------------------------
    def ensure_properties(self) -> list[str]:
        """Create the `parlons` group and our contact properties where missing; return what was created."""
        created = []
        groups = {g["name"] for g in self._call("groups", "get_all", "contacts")["results"]}
        if GROUP["name"] not in groups and self._create_unless_exists("groups", GROUP):
            created.append(GROUP["name"])
        existing = {p["name"] for p in self._call("properties", "get_all", "contacts")["results"]}
        for prop in PROPERTIES:
            body = {**prop, "groupName": GROUP["name"]}
            if prop["name"] not in existing and self._create_unless_exists("properties", body):
                created.append(prop["name"])
        return created

    def _create_unless_exists(self, api: str, body: dict) -> bool:
        try:
            self._call(api, "create", "contacts", body)
        except ApiError as error:
            if error.status == 409:  # another worker created it meanwhile
                return False
            raise
        return True

    # ----- contacts --------------------------------------------------------------------------
    def contacts_page(self, after: str | None = None, modified_since: datetime | None = None,
                      limit: int = 100) -> tuple[list[dict], str | None]:
        """One page of contacts and the cursor of the next (None at the end).

        Without `modified_since`, the plain list (all contacts). With it, a search on
        lastmodifieddate >= since, oldest change first; past HubSpot's 10,000-result search
        window the cursor re-anchors on the last change seen (a few contacts may come twice).
        """
        if modified_since is None:
            page = self._call("contacts", "get_page", limit=min(limit, 100), after=after,
                              properties=CONTACT_PROPERTIES)
            nxt = page.get("paging", {}).get("next", {}).get("after")
            return [_plain(c) for c in page["results"]], nxt
        since_ms, offset = int(modified_since.timestamp() * 1000), 0
        if after:  # our cursor: "<anchor ms>:<offset>"
            anchor, _, position = after.partition(":")
            since_ms, offset = max(since_ms, int(anchor)), int(position or 0)
        limit = min(limit, 200)
        body = search_body([{"filters": [
                    {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since_ms)}]}],
                CONTACT_PROPERTIES, limit, after=offset,
                sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}])
        page = self._call("contacts_search", "do_search", body)
        found = [_plain(c) for c in page["results"]]
        nxt = page.get("paging", {}).get("next", {}).get("after")
        if nxt is None:
            return found, None
        nxt = int(nxt)
        if nxt + limit > SEARCH_WINDOW:
            anchor = int(found[-1]["updated_at"].timestamp() * 1000)
            if anchor <= since_ms:
                raise ApiError("more than 10,000 contacts changed in the same millisecond")
            return found, f"{anchor}:0"
        return found, f"{since_ms}:{nxt}"

    def find_contact(self, phone_e164: str | None = None, email: str | None = None) -> dict | None:
        """The contact with this number (our property, then phone, then mobile) or email, in one search."""
        wanted = [(ID_PROPERTY, phone_e164), ("phone", phone_e164), ("mobilephone", phone_e164),
                  ("email", email)]
        wanted = [(name, value) for name, value in wanted if value]
        if not wanted:
            return None
        groups = [{"filters": [{"propertyName": n, "operator": "EQ", "value": v}]} for n, v in wanted]
        body = search_body(groups, CONTACT_PROPERTIES, 20)
        found = [_plain(c) for c in self._call("contacts_search", "do_search", body)["results"]]
        for name, value in wanted:
            for contact in found:
                if (contact["properties"].get(name) or "").casefold() == value.casefold():
                    return contact
        return None

    def batch_read(self, ids: list[str]) -> list[dict]:
        out = []
        for start in range(0, len(ids), 100):
            body = {"inputs": [{"id": str(i)} for i in ids[start:start + 100]],
                    "properties": CONTACT_PROPERTIES, "propertiesWithHistory": []}
            out += [_plain(c) for c in self._call("contacts_batch", "read", body)["results"]]
        return out

    def batch_upsert(self, contacts: list[dict]) -> list[dict]:
        """Create or update contacts keyed on `parlons_phone_e164`, 100 per call; the same number
        twice in the list is merged (the later values win) since HubSpot refuses duplicate ids."""
        merged: dict[str, dict] = {}
        for props in contacts:
            key = props.get(ID_PROPERTY)
            if not key:
                raise ValueError(f"every contact needs {ID_PROPERTY}")
            merged[key] = {**merged.get(key, {}), **props}
        items, out = list(merged.items()), []
        for start in range(0, len(items), 100):
            inputs = [{"idProperty": ID_PROPERTY, "id": key, "properties": props}
                      for key, props in items[start:start + 100]]
            result = self._call("contacts_batch", "upsert", {"inputs": inputs})
            out += [{**_plain(c), "new": bool(c.get("new"))} for c in result["results"]]
        return out

    def update_contact(self, contact_id: str, properties: dict) -> dict:
        return _plain(self._call("contacts", "update", str(contact_id), {"properties": properties}))

    def create_contact(self, properties: dict) -> dict:
        return _plain(self._call("contacts", "create", {"properties": properties, "associations": []}))

    # ----- communications (the SMS on the contact's timeline) -----------------------------------
    @staticmethod
    def marked(body: str, marker: str) -> str:
        """The body as written to HubSpot: the text, then a reference token we can search for."""
        if not MARKER.match(marker):
            raise ValueError("a marker is 8 to 64 letters or digits")
        return f"{body}\n\nref {marker}"

    def create_communication(self, contact_id: str, body: str, timestamp: datetime, marker: str) -> str:
        """Log an SMS on the contact's timeline; return its id.

        Never blind-retried: after a timeout or a 5xx the write may have landed, so before each
        new attempt we look for the marker and return what we find.
        """
        payload = {
            "properties": {"hs_communication_channel_type": "SMS", "hs_communication_logged_from": "CRM",
                           "hs_communication_body": self.marked(body, marker),
                           "hs_timestamp": timestamp.isoformat()},
            "associations": [{"to": {"id": str(contact_id)}, "types": [
                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": COMMUNICATION_TO_CONTACT}]}],
        }
        attempt = 0
        while True:
            attempt += 1
            try:
                return str(self._once("communications", "create", payload)["id"])
            except ApiError as error:
                if not error.retryable or attempt >= self.retry.attempts:
                    raise
                self.sleep(self.retry.delay(attempt, error))
            found = self.find_communication(marker)
            if found is not None:
                return found

    def update_communication(self, communication_id: str, body: str, marker: str | None = None) -> None:
        text = self.marked(body, marker) if marker else body
        self._call("communications", "update", str(communication_id),
                   {"properties": {"hs_communication_body": text}})

    def find_communication(self, marker: str) -> str | None:
        """The id of the communication whose body carries `marker`, if HubSpot has it."""
        body = search_body([{"filters": [
                    {"propertyName": "hs_communication_body", "operator": "CONTAINS_TOKEN", "value": marker}]}],
                ["hs_communication_body"], 10)
        for found in self._call("communications_search", "do_search", body)["results"]:
            if marker in (found["properties"].get("hs_communication_body") or "").split():
                return str(found["id"])
        return None
