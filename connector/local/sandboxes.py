"""The three outside systems' local stand-ins, started together and served over real HTTP.

The demo runs on them, and so do the end-to-end tests: the official client libraries talk to
them exactly as they would to Shopify, HubSpot and Twilio.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field

from connector.config import Config
from integrations.hubspot.sandbox import HubSpotSandbox
from integrations.serving import RunningServer, serve
from integrations.shopify.sandbox import ShopifySandbox
from integrations.twilio.sandbox import TwilioSandbox

TWILIO_SID = "AC" + "d" * 32
SHOPIFY_KEY = "parlons-sandbox-key"
HUBSPOT_APP_ID = 424242


@dataclass
class Sandboxes:
    shopify: ShopifySandbox
    hubspot: HubSpotSandbox
    twilio: TwilioSandbox
    servers: dict[str, RunningServer] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return self.servers[name].url

    def configure(self, config: Config) -> Config:
        """`config` pointed at these sandboxes, with their credentials."""
        return dataclasses.replace(
            config,
            shopify_api_key=self.shopify.api_key,
            shopify_api_secret=self.shopify.api_secret,
            shopify_base_url=self.url("shopify"),
            hubspot_client_id=self.hubspot.client_id,
            hubspot_client_secret=self.hubspot.client_secret,
            hubspot_app_id=str(self.hubspot.app_id),
            hubspot_base_url=self.url("hubspot"),
            twilio_account_sid=self.twilio.account_sid,
            twilio_auth_token=self.twilio.auth_token,
            twilio_base_url=self.url("twilio"),
        )

    def stop(self) -> None:
        self.twilio.close()
        for server in self.servers.values():
            server.stop()


def start_sandboxes(*, auto_deliver: bool = False, hubspot_rate_limit: int | None = 110) -> Sandboxes:
    shopify = ShopifySandbox(SHOPIFY_KEY, "sandbox-" + secrets.token_hex(8))
    hubspot = HubSpotSandbox(client_secret="sandbox-" + secrets.token_hex(8), app_id=HUBSPOT_APP_ID,
                             rate_limit=hubspot_rate_limit)
    twilio = TwilioSandbox(TWILIO_SID, "sandbox-" + secrets.token_hex(8), auto_deliver=auto_deliver)
    boxes = Sandboxes(shopify, hubspot, twilio)
    boxes.servers = {"shopify": serve(shopify.app), "hubspot": serve(hubspot.app), "twilio": serve(twilio.app)}
    return boxes
