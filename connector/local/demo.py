"""The local demo: sandboxes, a demo shop wired to them, and what the demo page needs."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from connector.install import connect_hubspot, connect_shopify
from connector.local.sandboxes import Sandboxes
from connector.runtime import Runtime

SHOP = "parlons-demo.myshopify.com"
SHOP_NAME = "Boutique Parlons"
SMS_NUMBER = "+33757000001"
PORTAL = 4242
CUSTOMER = {"phone": "+33612345678", "first_name": "Camille", "last_name": "Martin", "email": "camille@example.com"}
FIXTURE = Path(__file__).parent / "demo_fulfillment.json"


@dataclass
class Demo:
    boxes: Sandboxes
    app_url: str
    orders: int = 1000

    def ship_order(self, runtime: Runtime) -> int:
        """Fire a signed `fulfillments/create` for the demo customer at the app, like Shopify would."""
        self.orders += 1
        payload = json.loads(FIXTURE.read_text())
        payload["id"] = self.orders
        payload["admin_graphql_api_id"] = f"gid://shopify/Fulfillment/{uuid.uuid4().int % 10**12}"
        payload["name"] = f"#{self.orders}.1"
        payload["destination"].update(phone=CUSTOMER["phone"], first_name=CUSTOMER["first_name"],
                                      last_name=CUSTOMER["last_name"], country_code="FR")
        payload["email"] = CUSTOMER["email"]
        answer = self.boxes.shopify.emit_webhook(
            "fulfillments/create", payload, f"{self.app_url}/webhooks/shopify",
            runtime.config.shopify_api_secret, shop=SHOP,
        )
        return answer.status_code

    def reply(self, text: str) -> int:
        """The demo customer texts the shop's number."""
        return self.boxes.twilio.send_inbound(CUSTOMER["phone"], SMS_NUMBER, text).status_code

    def start_scenario(self, runtime: Runtime, key: str) -> str:
        """Start a ready-made scenario for the demo customer with its example values; returns
        what happened. Marketing scenarios first record the customer's consent (the demo
        customer agreed on this page), unless they replied STOP."""
        from automations import consent, contacts
        from automations.events import ContactData
        from automations.models import Shop, utcnow
        from automations.scenarios import SCENARIOS
        from connector.web.api_conversations import StartError, start_and_signal

        scenario = SCENARIOS[key]
        names = {"first_name": CUSTOMER["first_name"], "last_name": CUSTOMER["last_name"]}
        with runtime.db.transaction() as session:
            shop = session.query(Shop).filter_by(domain=SHOP).one()
            contact = contacts.upsert_contact(session, shop, ContactData(phone=CUSTOMER["phone"], **names),
                                              source="api").contact
            if scenario.variants["fr"].marketing and contact.opted_out_at is None \
                    and contact.consent_status != "subscribed":
                consent.opt_in(session, contact, "admin",
                               {"note": "demo customer agreed on the demo page"}, utcnow())
        variables = {k: v for k, v in scenario.example.items() if v is not None}
        if key == "abandoned_cart":
            variables["checkout_url"] = f"https://{SHOP}/cart"
        try:
            result = start_and_signal(runtime, {"shop": SHOP, "to": CUSTOMER["phone"], "scenario": key,
                                                "variables": variables})
        except StartError as exc:
            return f"{key} not started: {exc}"
        return f"{key} started (conversation {result['conversation_id']}): reply from the phone"

    customer = CUSTOMER
    number = SMS_NUMBER

    def phone(self) -> list[dict]:
        """The demo customer's conversation: what they received and what they sent, in order."""
        mine = CUSTOMER["phone"]
        return [m for m in self.boxes.twilio.messages() if mine in (m["to"], m["from"])]

    def timeline(self) -> list[dict]:
        contacts = [c for c in self.boxes.hubspot.contacts_for(PORTAL)
                    if CUSTOMER["phone"] in (c.get("parlons_phone_e164"), c.get("phone"))]
        items = [comm for c in contacts for comm in self.boxes.hubspot.communications_for(c["id"])]
        return sorted(items, key=lambda c: c.get("hs_timestamp") or "")


def seed(runtime: Runtime, boxes: Sandboxes, app_url: str) -> Demo:
    """Connect the demo shop and portal (idempotent: a restart reuses what is there)."""
    boxes.shopify.add_shop(SHOP, name=SHOP_NAME)
    boxes.twilio.add_number(SMS_NUMBER, sms_url=f"{app_url}/webhooks/twilio/inbound")
    with runtime.db.transaction() as session:
        shop = connect_shopify(runtime, session, SHOP, boxes.shopify.grant_token(SHOP, expires_in=None))
        shop.sms_number = SMS_NUMBER
        connect_hubspot(runtime, session, shop, boxes.hubspot.issue_token(PORTAL, expires_in=10 * 365 * 86400),
                        hub_id=PORTAL)
    return Demo(boxes, app_url)
