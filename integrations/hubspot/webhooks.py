"""HubSpot webhooks: signature v3 over the raw request, and events -> domain events.

The signature covers the URI as HubSpot called it, so behind a proxy `public_uri` rebuilds it
from the forwarded headers (or from the configured public URL, which wins).
"""

from __future__ import annotations

import hmac
import time
from urllib.parse import urlsplit, urlunsplit

from hubspot.utils.signature import Signature

from automations.events import (
    CONSENT_CHANGED,
    CONSENT_STATES,
    CUSTOMER_CREATED,
    CUSTOMER_DELETED,
    CUSTOMER_REDACT,
    CUSTOMER_UPDATED,
    ConsentData,
    ContactData,
    DomainEvent,
)
from integrations.hubspot.schemas import HubSpotEvent

MAX_SKEW_SECONDS = 300
CONSENT_PROPERTY = "parlons_sms_consent"
CONTACT_FIELDS = {"phone": "phone", "mobilephone": "phone", "parlons_phone_e164": "phone",
                  "email": "email", "firstname": "first_name", "lastname": "last_name"}
OWN_CHANGE_SOURCES = {"INTEGRATION", "API"}
# HubSpot decodes these in the URI before signing (v3); the "?" starting the query stays as is.
_DECODED = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'",
            "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}


def _decode_uri(uri: str) -> str:
    for encoded, char in _DECODED.items():
        uri = uri.replace(encoded, char).replace(encoded.lower(), char)
    return uri


def verify_signature_v3(method: str, uri: str, body: bytes, timestamp_header: str | None,
                        signature_header: str | None, client_secret: str, now: float | None = None) -> bool:
    """True when `X-HubSpot-Signature-v3` signs this request and its timestamp is within 5 minutes
    (either way: a stale replay and a timestamp from the future are both refused)."""
    if not timestamp_header or not signature_header or not client_secret:
        return False
    try:
        sent_ms = int(timestamp_header)
        text = body.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    now_ms = (time.time() if now is None else now) * 1000
    if abs(now_ms - sent_ms) > MAX_SKEW_SECONDS * 1000:
        return False
    expected = Signature.get_signature(client_secret, text, "v3", http_uri=_decode_uri(uri),
                                       http_method=method.upper(), timestamp=timestamp_header)
    return hmac.compare_digest(expected.encode(), signature_header.encode())


def public_uri(request_url: str, headers, configured_public_url: str | None = None) -> str:
    """The URL HubSpot called: `configured_public_url` (scheme, host and any path prefix) if set,
    else the request's own URL corrected by X-Forwarded-Proto/-Host (or RFC 7239 Forwarded)."""
    parts = urlsplit(request_url)
    if configured_public_url:
        base = urlsplit(configured_public_url.rstrip("/"))
        return urlunsplit((base.scheme, base.netloc, base.path + parts.path, parts.query, ""))
    scheme, host = parts.scheme, parts.netloc
    forwarded = headers.get("Forwarded")
    if forwarded:
        first = forwarded.split(",")[0]
        pairs = dict(p.strip().split("=", 1) for p in first.split(";") if "=" in p)
        scheme = pairs.get("proto", scheme).strip('"')
        host = pairs.get("host", host).strip('"')
    if headers.get("X-Forwarded-Proto"):
        scheme = headers["X-Forwarded-Proto"].split(",")[0].strip()
    if headers.get("X-Forwarded-Host"):
        host = headers["X-Forwarded-Host"].split(",")[0].strip()
    return urlunsplit((scheme, host, parts.path, parts.query, ""))


def is_echo(event: HubSpotEvent, own_app_id: int | str | None, last_written: str | None = None) -> bool:
    """Our own write coming back: made by our app through the API, or setting the value we last wrote."""
    source = (event.source_id or "").rsplit(":", 1)[-1]
    if own_app_id is not None and event.change_source in OWN_CHANGE_SOURCES and source == str(own_app_id):
        return True
    return last_written is not None and event.property_value == last_written


def translate(event: HubSpotEvent, own_app_id: int | str | None = None,
              last_written: str | None = None) -> DomainEvent | None:
    """The domain event a HubSpot event means, or None (echo, unknown type, property we ignore)."""
    kind = event.subscription_type
    if kind not in ("contact.deletion", "contact.privacyDeletion") and is_echo(event, own_app_id, last_written):
        return None
    contact_id = str(event.object_id) if event.object_id is not None else None
    data = {"portal_id": event.portal_id, "event_id": event.event_id, "source": "hubspot"}

    def domain(type_: str, contact: ContactData | None = None, **extra) -> DomainEvent:
        who = contact or ContactData(hubspot_contact_id=contact_id)
        return DomainEvent(type=type_, occurred_at=event.occurred_at, subject_key=f"hubspot:contact:{who.hubspot_contact_id}",
                           contact=who, data={**data, **extra.pop("data", {})}, **extra)

    if kind == "contact.creation":
        return domain(CUSTOMER_CREATED)
    if kind == "contact.deletion":
        return domain(CUSTOMER_DELETED)
    if kind == "contact.privacyDeletion":
        return domain(CUSTOMER_REDACT)
    if kind == "contact.merge":
        primary = event.primary_object_id or event.object_id
        merged = {"merged_object_ids": [str(i) for i in event.merged_object_ids],
                  "primary_object_id": str(primary) if primary is not None else None,
                  "new_object_id": str(event.new_object_id) if event.new_object_id is not None else None}
        survivor = event.new_object_id or primary
        return domain(CUSTOMER_UPDATED, ContactData(hubspot_contact_id=str(survivor)), data={"merge": merged})
    if kind != "contact.propertyChange":
        return None
    if event.property_name == CONSENT_PROPERTY:
        if event.property_value not in CONSENT_STATES:
            return None  # cleared or not one of ours: no statement of consent
        evidence = {"sourceId": event.source_id, "changeSource": event.change_source,
                    "eventId": event.event_id, "occurredAt": event.occurred_at_ms, "portalId": event.portal_id}
        consent = ConsentData(status=event.property_value, source="hubspot", occurred_at=event.occurred_at,
                              evidence=evidence)
        return domain(CONSENT_CHANGED, consent=consent)
    attribute = CONTACT_FIELDS.get(event.property_name or "")
    if attribute is None:
        return None
    contact = ContactData(hubspot_contact_id=contact_id, **{attribute: event.property_value})
    return domain(CUSTOMER_UPDATED, contact,
                  data={"changed": {event.property_name: event.property_value}})
