"""Configuration, read from the environment when the app is created (never at import time)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from integrations.shopify import install as shopify_install

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _instance_dir() -> Path:
    return Path(os.environ.get("PARLONS_INSTANCE_DIR", Path.cwd() / "instance"))


@dataclass
class Config:
    database_url: str = ""
    redis_url: str = DEFAULT_REDIS_URL
    secret_key: str = "dev-only-secret-change-me"
    encryption_key: str = ""  # Fernet key; empty means derived from secret_key (dev only)
    public_url: str = "http://127.0.0.1:5000"
    queue_prefix: str = "parlons"
    api_token: str = ""  # bearer token of the REST API; empty disables it
    # Shopify app
    shopify_api_key: str = ""
    shopify_api_secret: str = ""
    shopify_scopes: str = shopify_install.REQUIRED_SCOPES
    shopify_base_url: str = ""  # empty: the real Shopify; else a sandbox base
    # HubSpot app
    hubspot_client_id: str = ""
    hubspot_client_secret: str = ""
    hubspot_app_id: str = ""
    hubspot_base_url: str = ""
    hubspot_rate_limit: int = 110
    # Twilio
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_base_url: str = ""
    # Vonage and Brevo (each shop chooses its provider; see README "SMS providers")
    vonage_api_key: str = ""
    vonage_api_secret: str = ""
    vonage_application_id: str = ""
    vonage_private_key: str = ""
    vonage_signature_secret: str = ""
    vonage_base_url: str = ""
    brevo_api_key: str = ""
    brevo_webhook_token: str = ""
    brevo_base_url: str = ""
    # Behaviour
    dispatch_batch_size: int = 200
    sms_rate_per_second: int = 10  # provider sending rate (long codes are slower: lower it)
    sms_account_rate_per_second: int = 100  # requests per second per provider account
    sms_send_timeout: int = 10  # seconds a send waits for the provider's answer
    dispatch_concurrency: int = 200  # provider requests in flight per dispatch worker
    dispatch_pipelines: int = 2  # batches a dispatch process works on at once (one's database work overlaps another's sends)
    unknown_grace_seconds: int = 60  # wait before asking the provider about an unknown outcome
    failover_threshold: int = 20  # failures (5xx, timeouts) within failover_window_seconds...
    failover_window_seconds: int = 60
    failover_cooldown_seconds: int = 120  # ...send through the failover this long
    dispatch_lease_seconds: int = 15  # a dispatch worker silent this long is dead: its sends are reconciled
    # Rate limits of the public endpoints ("N/period", several joined by ";"), see web/limits.py
    rate_limits: bool = True
    limit_sign_in: str = "10/minute;50/hour"
    limit_links: str = "120/minute"
    limit_bad_signatures: str = "30/minute"
    limit_shopify_webhooks: str = "30000/minute"
    limit_signup_ip: str = "10/minute;30/hour"  # sign-up page and pop-up, per client IP
    limit_signup_phone: str = "3/hour;5/day"  # confirmation texts asked for one number
    # Outgoing webhooks: endpoints on private, loopback or link-local addresses (and plain http)
    # are refused unless this is on (a development machine, tests)
    webhooks_allow_private: bool = False
    trusted_proxies: int = 0  # reverse proxies in front of the web process (client IP, scheme)
    testing: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            if f.name in ("extra",):
                continue
            name = {"database_url": "DATABASE_URL", "redis_url": "REDIS_URL"}.get(
                f.name, "PARLONS_" + f.name.upper()
            )
            if name not in env:
                continue
            raw = env[name]
            if f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError as exc:
                    raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc
            elif f.type in ("bool", bool):
                values[f.name] = raw.lower() in ("1", "true", "yes", "on")
            else:
                values[f.name] = raw
        config = cls(**values)  # type: ignore[arg-type]
        if not config.database_url:
            config.database_url = f"sqlite:///{_instance_dir() / 'parlons.db'}"
        return config
