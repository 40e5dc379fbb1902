"""The SMS providers this installation is configured for, and the route each shop sends by.

Credentials are the installation's (`PARLONS_TWILIO_*`, `PARLONS_VONAGE_*`, `PARLONS_BREVO_*`);
each shop chooses a provider, a sender and optionally a failover provider and sender
(`ShopSmsSettings`). A shop that chose nothing sends through Twilio from its own number (or the
installation's number or messaging service).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations.models import Shop, ShopSmsSettings
from connector.config import Config
from integrations import providers as registry
from integrations.sms import Sender, SenderKind, SmsProvider

_lock = threading.Lock()
_built: dict[tuple, SmsProvider] = {}


class ProviderNotConfigured(RuntimeError):
    """A shop's route names a provider whose credentials this installation lacks."""


def _settings(config: Config, name: str) -> dict:
    timeout = config.sms_send_timeout
    if name == "twilio":
        if not config.twilio_account_sid or not config.twilio_auth_token:
            raise ProviderNotConfigured(
                "Twilio is not configured: set PARLONS_TWILIO_ACCOUNT_SID and PARLONS_TWILIO_AUTH_TOKEN")
        return {"account_sid": config.twilio_account_sid, "auth_token": config.twilio_auth_token,
                "base_url": config.twilio_base_url or None, "timeout": timeout,
                "pool_size": max(10, config.dispatch_concurrency)}
    if name == "vonage":
        if not config.vonage_api_key or not config.vonage_application_id:
            raise ProviderNotConfigured(
                "Vonage is not configured: set PARLONS_VONAGE_API_KEY, _API_SECRET, _APPLICATION_ID, "
                "_PRIVATE_KEY and _SIGNATURE_SECRET")
        return {"api_key": config.vonage_api_key, "api_secret": config.vonage_api_secret,
                "application_id": config.vonage_application_id, "private_key": config.vonage_private_key,
                "signature_secret": config.vonage_signature_secret,
                "api_host": config.vonage_base_url or None, "timeout": max(1, int(timeout)),
                "pool_size": max(10, config.dispatch_concurrency)}
    if name == "brevo":
        if not config.brevo_api_key:
            raise ProviderNotConfigured("Brevo is not configured: set PARLONS_BREVO_API_KEY")
        return {"api_key": config.brevo_api_key, "webhook_token": config.brevo_webhook_token or None,
                "base_url": config.brevo_base_url or None, "timeout": float(timeout)}
    registry.capabilities(name)  # raises UnknownProvider
    raise ProviderNotConfigured(f"{name} has no settings in this installation")


def provider(config: Config, name: str) -> SmsProvider:
    """The provider `name` with this installation's credentials (built once per process)."""
    settings = _settings(config, name)
    key = (name, tuple(sorted((k, str(v)) for k, v in settings.items())))
    with _lock:
        if key not in _built:
            _built[key] = registry.create(name, **settings)
        return _built[key]


def account_key(config: Config, name: str) -> str:
    """A name for the provider account (rate limits and failure counts), never a secret."""
    identity = {"twilio": config.twilio_account_sid, "vonage": config.vonage_api_key,
                "brevo": hashlib.sha256(config.brevo_api_key.encode()).hexdigest()[:12]}.get(name, "")
    return f"{name}:{identity}"


@dataclass(frozen=True)
class Route:
    """Where a shop's messages go: provider, sender, and the sender's messages per second."""

    provider: str
    sender: Sender
    mps: float


@dataclass(frozen=True)
class ShopRoutes:
    primary: Route | None
    failover: Route | None = None
    problem: str | None = None  # why the shop cannot send (no sender...)


def _mps(config: Config, name: str, kind: SenderKind, country: str | None, chosen: float | None) -> float:
    if chosen:
        return chosen
    return registry.capabilities(name).mps(kind, country or "*") or float(config.sms_rate_per_second)


def routes_for(session: Session, config: Config, shop_ids: Iterable[int]) -> dict[int, ShopRoutes]:
    """Each shop's primary route and failover, read in two queries."""
    ids = set(shop_ids)
    shops = {s.id: s for s in session.scalars(sa.select(Shop).where(Shop.id.in_(ids)))}
    chosen = {s.shop_id: s for s in session.scalars(sa.select(ShopSmsSettings).where(ShopSmsSettings.shop_id.in_(ids)))}
    routes: dict[int, ShopRoutes] = {}
    for shop_id, shop in shops.items():
        settings = chosen.get(shop_id)
        if settings is None:
            routes[shop_id] = _default_route(config, shop)
            continue
        primary = Route(settings.provider, Sender(SenderKind(settings.sender_kind), settings.sender),
                        _mps(config, settings.provider, SenderKind(settings.sender_kind), shop.country,
                             settings.sender_mps))
        failover = None
        if settings.failover_provider and settings.failover_sender:
            kind = SenderKind(settings.failover_sender_kind or SenderKind.NUMBER)
            failover = Route(settings.failover_provider, Sender(kind, settings.failover_sender),
                             _mps(config, settings.failover_provider, kind, shop.country, None))
        routes[shop_id] = ShopRoutes(primary, failover)
    return routes


def _default_route(config: Config, shop: Shop) -> ShopRoutes:
    if shop.sms_number or config.twilio_from:
        sender = Sender(SenderKind.NUMBER, shop.sms_number or config.twilio_from)
    elif config.twilio_messaging_service_sid:
        sender = Sender(SenderKind.MESSAGING_SERVICE, config.twilio_messaging_service_sid)
    else:
        return ShopRoutes(None, problem="no SMS sender: give the shop a number or choose a provider")
    return ShopRoutes(Route("twilio", sender, _mps(config, "twilio", sender.kind, shop.country, None)))


def status_callback_url(config: Config, name: str = "twilio") -> str:
    return config.public_url.rstrip("/") + f"/webhooks/{name}/status"
