"""The app served on a real port with one shop sending through a chosen provider's sandbox:
messages to dispatch, the events drain, and what tests read back."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa

from automations.models import (
    ConsentEvent,
    Contact,
    Message,
    Shop,
    ShopSmsSettings,
    StoreEvent,
    utcnow,
)
from connector import create_app
from connector.local.devservers import free_port
from connector.runtime import Runtime
from connector.shops import forget
from connector.worker.dispatch import dispatch_due
from connector.worker.jobs import drain_events
from integrations.serving import RunningServer, serve

PHONE = "+33612345678"


@dataclasses.dataclass
class SmsWorld:
    runtime: Runtime
    server: RunningServer
    shop_id: int
    sandbox: Any
    source: str

    @property
    def url(self) -> str:
        return self.server.url

    def message_to(self, phone: str = PHONE, body: str = "Votre commande est partie", key: str = "t:1") -> int:
        """A transactional message due now to a subscribed contact."""
        with self.runtime.db.transaction() as session:
            contact = session.scalar(sa.select(Contact).where(Contact.shop_id == self.shop_id,
                                                              Contact.phone_e164 == phone))
            if contact is None:
                contact = Contact(shop_id=self.shop_id, phone_e164=phone, consent_status="subscribed")
                session.add(contact)
                session.flush()
            message = Message(shop_id=self.shop_id, contact_id=contact.id, direction="outbound",
                              kind="transactional", to_phone=phone, body=body, status="scheduled",
                              idempotency_key=key, send_at=utcnow())
            session.add(message)
            session.flush()
            return message.id

    def send(self, **kwargs: Any) -> Message:
        message_id = self.message_to(**kwargs)
        assert dispatch_due(self.runtime) >= 1
        return self.message(message_id)

    def message(self, message_id: int) -> Message:
        with self.runtime.db.session() as session:
            return session.get(Message, message_id)

    def contact(self, phone: str = PHONE) -> Contact:
        with self.runtime.db.session() as session:
            return session.scalar(sa.select(Contact).where(Contact.shop_id == self.shop_id,
                                                           Contact.phone_e164 == phone))

    def consent_sources(self, phone: str = PHONE) -> list[str]:
        with self.runtime.db.session() as session:
            return list(session.scalars(
                sa.select(ConsentEvent.source).join(Contact, Contact.id == ConsentEvent.contact_id)
                .where(Contact.phone_e164 == phone, ConsentEvent.status == "unsubscribed")))

    def stored(self, source: str) -> list[StoreEvent]:
        with self.runtime.db.session() as session:
            return list(session.scalars(sa.select(StoreEvent).where(StoreEvent.source == source)
                                        .order_by(StoreEvent.id)))

    def inbound(self, phone: str = PHONE) -> list[Message]:
        with self.runtime.db.session() as session:
            return list(session.scalars(sa.select(Message).where(
                Message.direction == "inbound", Message.from_phone == phone).order_by(Message.id)))

    def drain(self) -> None:
        drain_events()
        failed = [(e.topic, e.outcome) for e in self.stored(self.source) if e.status != "processed"]
        assert not failed, failed


def start(config, sandbox: Any, source: str, number: str, **settings: Any) -> SmsWorld:
    """The app on a free port with `config` changed by `settings`, and one shop sending through
    `source` from `number`."""
    forget()
    port = free_port()
    cfg = dataclasses.replace(config, public_url=f"http://127.0.0.1:{port}", sms_send_timeout=2,
                              sms_rate_per_second=1000, sms_account_rate_per_second=1000, **settings)
    app = create_app(cfg)
    runtime = app.extensions["parlons"]
    server = serve(app, port=port)
    with runtime.db.transaction() as session:
        shop = Shop(domain="provider-webhooks.myshopify.com", name="Boutique", country="FR")
        session.add(shop)
        session.flush()
        kind = "alphanumeric" if not number.startswith("+") else "number"
        session.add(ShopSmsSettings(shop_id=shop.id, provider=source, sender_kind=kind, sender=number))
        shop_id = shop.id
    return SmsWorld(runtime, server, shop_id, sandbox, source)


def stop(world: SmsWorld) -> None:
    world.server.stop()
    world.runtime.close()
