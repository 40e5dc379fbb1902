"""Shopify's mandatory privacy topics through POST /webhooks/shopify and a real worker: a data
request becomes an export the merchant downloads (admin and API); a customer redact erases their
personal data and keeps anonymous counts; a shop redact erases the shop; a bad HMAC is 401."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from automations import consent
from automations.contacts import upsert_contact
from automations.events import ConsentData, ContactData
from automations.models import ConsentEvent, Contact, DataExport, Message, Shop, StoreEvent, utcnow
from tests.connector.conftest import SHOP
from tests.connector.helpers import FIXTURES, count, sign_in

AUTH = {"Authorization": "Bearer test-api-token"}
GID = "gid://shopify/Customer/191167"


def deliver(live, name: str, secret: str | None = None):
    return live.boxes.shopify.emit_webhook(name.replace("__", "/"), (FIXTURES / f"{name}.json").read_bytes(),
                                           f"{live.url}/webhooks/shopify",
                                           secret or live.runtime.config.shopify_api_secret, shop=SHOP)


@pytest.fixture
def customer(live):
    """John (Shopify customer 191167): subscribed to SMS, with one SMS sent to him."""
    with live.runtime.db.transaction() as s:
        shop = s.scalar(sa.select(Shop).where(Shop.domain == SHOP))
        contact = upsert_contact(s, shop, ContactData(phone="+33612345678", email="john@example.com",
                                                      first_name="John", shopify_customer_id=GID),
                                 source="shopify").contact
        consent.record(s, contact, ConsentData("subscribed", "shopify", utcnow(), {"form": "checkout"}), utcnow())
        s.add(Message(shop_id=shop.id, contact_id=contact.id, direction="outbound", kind="marketing",
                      to_phone="+33612345678", body="Bonjour John, -10 % ce week-end", status="delivered",
                      idempotency_key="m-1"))
        return contact.id


def test_a_data_request_gives_an_export_to_download_from_the_admin_and_the_api(live, customer):
    # when Shopify forwards the customer's data request
    assert deliver(live, "customers__data_request").status_code == 200
    live.work()
    # then an export of everything we hold on them exists
    with live.runtime.db.session() as s:
        export = s.scalar(sa.select(DataExport))
    client = live.app.test_client()
    answer = client.get(f"/api/v1/exports/{export.id}?shop={SHOP}", headers=AUTH)
    assert answer.status_code == 200
    [record] = answer.json["records"]
    assert record["contact"]["email"] == "john@example.com" and record["contact"]["phone"] == "+33612345678"
    assert [e["status"] for e in record["consent_ledger"]] == ["subscribed"]
    assert record["messages"][0]["body"] == "Bonjour John, -10 % ce week-end"
    assert answer.json["request"]["data_request_id"] == 9999
    # and the API refuses anyone without the token
    assert client.get(f"/api/v1/exports/{export.id}?shop={SHOP}").status_code == 401
    assert client.get(f"/api/v1/exports/999999?shop={SHOP}", headers=AUTH).status_code == 404
    # and the merchant, signed in to the admin, sees it and downloads the same JSON
    signed_in = sign_in(client, SHOP, "test-api-token")
    assert signed_in.status_code == 302
    page = client.get("/admin/privacy")
    assert page.status_code == 200 and "john@example.com" in page.get_data(as_text=True)
    download = client.get(f"/admin/privacy/exports/{export.id}.json")
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    assert json.loads(download.data)["records"] == answer.json["records"]


def test_an_export_of_another_shop_is_not_shown(live, customer):
    deliver(live, "customers__data_request")
    live.work()
    with live.runtime.db.transaction() as s:
        s.add(Shop(domain="autre.myshopify.com", name="Autre"))
    client = live.app.test_client()
    sign_in(client, "autre.myshopify.com", "test-api-token")
    with live.runtime.db.session() as s:
        export_id = s.scalar(sa.select(DataExport.id))
    assert client.get(f"/admin/privacy/exports/{export_id}.json").status_code == 404
    assert "No data request so far" in client.get("/admin/privacy").get_data(as_text=True)


def test_a_customer_redact_erases_personal_data_and_keeps_anonymous_counts(live, customer):
    assert deliver(live, "customers__redact").status_code == 200
    live.work()
    with live.runtime.db.session() as s:
        contact = s.get(Contact, customer)
        message = s.scalar(sa.select(Message).where(Message.contact_id == customer))
        ledger = s.scalars(sa.select(ConsentEvent).where(ConsentEvent.contact_id == customer)).all()
    assert (contact.email, contact.phone_e164, contact.first_name, contact.shopify_customer_id) == (None,) * 4
    assert contact.redacted_at is not None
    assert message.body == "[redacted]" and message.to_phone is None and message.status == "delivered"
    assert [e.status for e in ledger] == ["subscribed"] and ledger[0].evidence == {}


def test_a_shop_redact_erases_the_shop(live, customer):
    assert deliver(live, "shop__redact").status_code == 200
    live.work()
    with live.runtime.db.session() as s:
        shop = s.scalar(sa.select(Shop).where(Shop.domain == SHOP))
        stored = s.scalars(sa.select(StoreEvent.payload)).all()
    assert shop.status == "redacted" and shop.name is None
    assert count(live.runtime.db, Contact) == 0 and count(live.runtime.db, Message) == 0
    assert stored == ["{}"]


@pytest.mark.parametrize("name", ["customers__data_request", "customers__redact", "shop__redact"])
def test_privacy_topics_with_a_bad_hmac_are_401_and_change_nothing(live, customer, name):
    answer = deliver(live, name, secret="forged")
    assert answer.status_code == 401
    live.work()
    assert count(live.runtime.db, StoreEvent) == 0
    with live.runtime.db.session() as s:
        assert s.get(Contact, customer).email == "john@example.com"
