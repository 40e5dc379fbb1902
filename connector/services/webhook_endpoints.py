"""A shop's outgoing-webhook endpoints, made here for the REST API and the admin alike.

The secret (`whsec_…`) is returned once, when the endpoint is made, and kept encrypted like
every stored secret (it must be read back to sign deliveries). URLs are `https://` on a public
host, unless the installation allows private targets (`PARLONS_WEBHOOKS_ALLOW_PRIVATE`).
"""

from __future__ import annotations

import ipaddress
import secrets
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from automations.models import Shop, WebhookEndpoint
from automations.webhooks import EVENT_TYPES
from connector.crypto import SecretBox


def url_problem(url: str, allow_private: bool) -> str | None:
    """Why the URL cannot be an endpoint, or None."""
    parts = urlsplit(url)
    if parts.scheme not in (("https", "http") if allow_private else ("https",)) or not parts.hostname:
        return "an https:// URL with a host"
    if allow_private:
        return None
    host = parts.hostname
    try:
        local = not ipaddress.ip_address(host).is_global
    except ValueError:
        local = host == "localhost" or host.endswith((".localhost", ".local", ".internal"))
    return "a public address: private, loopback and link-local hosts are refused" if local else None


def create_endpoint(session: Session, box: SecretBox, shop: Shop, url: str, events: list[str],
                    description: str = "", enabled: bool = True) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its secret (shown once). Events must be in EVENT_TYPES."""
    unknown = set(events) - set(EVENT_TYPES)
    if unknown or not events:
        raise ValueError(f"events must be some of: {', '.join(EVENT_TYPES)}")
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    endpoint = WebhookEndpoint(shop_id=shop.id, url=url, events=sorted(set(events)), description=description,
                               enabled=enabled, secret_enc=box.encrypt(secret))
    session.add(endpoint)
    session.flush()
    return endpoint, secret
