"""Shops with something of everything, and API keys, for the REST API's tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from automations import campaigns, consent, segments, shops
from automations.contacts import upsert_contact
from automations.events import ConsentData, ContactData
from automations.models import (
    Conversation,
    DataExport,
    Message,
    Rule,
    Shop,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    utcnow,
)
from connector.services.api_keys import create_key

OPERATOR = {"Authorization": "Bearer test-api-token"}


@dataclass
class Seeded:
    """A shop and the ids of one object of each kind it holds, plus words only it uses."""

    domain: str
    shop_id: int
    ids: dict[str, int] = field(default_factory=dict)
    markers: tuple[str, ...] = ()


def seed_shop(db, domain: str, phone: str, name: str) -> Seeded:
    """A shop with its ready-made rules, a subscribed contact, an SMS each way, a conversation
    handed to a person, and a data-request export."""
    now = utcnow()
    with db.transaction() as s:
        shop = Shop(domain=domain, name=f"Boutique {name}", sms_number="+33757000001")
        s.add(shop)
        s.flush()
        shops.install_default_rules(s, shop)
        contact = upsert_contact(s, shop, ContactData(phone=phone, email=f"{name.lower()}@example.com",
                                                      first_name=name), source="shopify").contact
        consent.record(s, contact, ConsentData("subscribed", "shopify", now, {"form": f"checkout {name}"}), now)
        conversation = Conversation(shop_id=shop.id, contact_id=contact.id, status="assigned",
                                    assigned_to="agent", handoff_at=now)
        s.add(conversation)
        s.flush()
        out = Message(shop_id=shop.id, contact_id=contact.id, conversation_id=conversation.id,
                      direction="outbound", kind="marketing", to_phone=phone, body=f"Bonjour {name} !",
                      status="delivered", idempotency_key=f"seed-out-{domain}", sent_at=now)
        inbound = Message(shop_id=shop.id, contact_id=contact.id, conversation_id=conversation.id,
                          direction="inbound", kind="conversational", from_phone=phone,
                          body=f"Une question de {name}", status="received", idempotency_key=f"seed-in-{domain}")
        export = DataExport(shop_id=shop.id, contact_id=contact.id, request={"email": f"{name.lower()}@example.com"},
                            payload={"shop": domain, "records": []})
        s.add_all([out, inbound, export])
        s.flush()
        rule_id = s.scalar(sa.select(Rule.id).where(Rule.shop_id == shop.id, Rule.key == "order_shipped"))
        key = create_key(s, shop, f"{name} ERP", "read_write", "operator").key
        endpoint = WebhookEndpoint(shop_id=shop.id, url=f"https://{name.lower()}.example.com/hooks",
                                   events=["message.sent"], secret_enc="not used here", enabled=False)
        event = WebhookEvent(shop_id=shop.id, contact_id=contact.id, type="message.sent",
                             data={"message": {"id": out.id, "to": phone, "body": f"Bonjour {name} !"}})
        s.add_all([endpoint, event])
        s.flush()
        delivery = WebhookDelivery(shop_id=shop.id, event_id=event.id, endpoint_id=endpoint.id, status="failed",
                                   attempts=1, next_attempt_at=None, last_status_code=500)
        s.add(delivery)
        s.flush()
        segment = segments.create(s, shop, {"key": f"clients-{name.lower()}", "name": f"Clients {name}",
                                            "conditions": {"all": [{"field": "contact.tags", "op": "contains",
                                                                    "value": name.lower()}]}})
        campaign = campaigns.create(s, shop, {"name": f"Flash {name}", "audience": {"include": [segment.id]},
                                              "variants": [{"templates": {"fr": f"Bonjour de {name}"}}]})
        return Seeded(domain, shop.id, {
            "rule_id": rule_id, "contact_id": contact.id, "conversation_id": conversation.id,
            "message_id": out.id, "export_id": export.id, "key_id": key.id, "endpoint_id": endpoint.id,
            "delivery_id": delivery.id, "segment_id": segment.id, "campaign_id": campaign.id,
        }, markers=(domain, phone, name))


def new_key(db, domain: str, scope: str = "read_write", name: str = "test") -> str:
    with db.transaction() as s:
        shop = s.scalar(sa.select(Shop).where(Shop.domain == domain))
        return create_key(s, shop, name, scope, "operator").secret


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
