"""Customers nobody knows yet are written a batch at a time, through the driver: the rows must be
the ones `upsert_contact` and `consent.record` write for the same customers one by one."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import consent as consent_ledger
from automations.contacts import upsert_contact
from automations.models import ConsentEvent, Contact, OutboundWrite, Shop, TimelineEntry
from connector.worker import shopify_import
from integrations.shopify.client import customer_to_contact
from integrations.shopify.sandbox.store import served

NOW = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)


def consent(state: str, at: str | None = "2026-02-01T08:00:00+02:00") -> dict:
    return {"marketingState": state, "marketingOptInLevel": "SINGLE_OPT_IN", "consentUpdatedAt": at,
            "consentCollectedFrom": "OTHER"}


# Customers as the Admin API serves them (their phone, email and SMS consent in the 2026-01 fields)
NODES: list[dict[str, Any]] = [served(node) for node in [
    {"id": "gid://shopify/Customer/1", "firstName": "Léa", "lastName": "Martin", "email": " Lea@Example.COM ",
     "phone": "+33612345678", "locale": "fr", "tags": ["vip", "été"], "numberOfOrders": "3",
     "amountSpent": {"amount": "119.70"}, "lastOrder": {"createdAt": "2026-02-20T18:45:12.5-05:00"},
     "updatedAt": "2026-02-28T10:00:00Z", "smsMarketingConsent": consent("SUBSCRIBED")},
    {"id": "gid://shopify/Customer/2", "firstName": "", "email": None, "phone": "(613) 555-0123",
     "defaultAddress": {"countryCodeV2": "CA"}, "tags": [], "updatedAt": "2026-02-28T10:00:01Z",
     "smsMarketingConsent": consent("UNSUBSCRIBED", at=None)},
    {"id": "gid://shopify/Customer/3", "email": "nina@example.com", "phone": "555-SHOP", "tags": [],
     "updatedAt": None, "smsMarketingConsent": consent("NOT_SUBSCRIBED")},
    {"id": "gid://shopify/Customer/4", "email": "paul@example.com", "phone": None, "tags": [],
     "updatedAt": "2026-02-28T10:00:03Z", "smsMarketingConsent": None},
    {"id": "gid://shopify/Customer/5", "phone": "06 12 34 56 79", "tags": ["b2b"], "numberOfOrders": "0",
     "updatedAt": "2026-02-28T10:00:04.250Z", "smsMarketingConsent": consent("PENDING")},
]]


def snapshot(session: Session, shop_id: int) -> dict[str, list[dict]]:
    """The shop's rows as read back, database ids and clock times replaced by the customer id."""
    gid_of = dict(session.execute(sa.select(Contact.id, Contact.shopify_customer_id)
                                  .where(Contact.shop_id == shop_id)).all())
    entry_gid = {entry_id: gid_of[contact_id] for entry_id, contact_id in session.execute(
        sa.select(ConsentEvent.id, ConsentEvent.contact_id).where(ConsentEvent.shop_id == shop_id))}

    def plain(row: Any) -> dict:
        values = {c.key: getattr(row, c.key) for c in sa.inspect(type(row)).columns
                  if c.key not in ("id", "shop_id", "created_at", "updated_at")}
        if "contact_id" in values:
            values["contact_id"] = gid_of[values["contact_id"]]
        if "key" in values:
            values["key"] = re.sub(r"\d+", lambda m: entry_gid[int(m[0])], values["key"])
        if isinstance(values.get("payload"), dict):
            values["payload"] = {**values["payload"],
                                 "consent_event_id": entry_gid[values["payload"]["consent_event_id"]]}
        return values

    return {model.__tablename__: [plain(row) for row in session.scalars(
        sa.select(model).where(model.shop_id == shop_id).order_by(model.id))]
        for model in (Contact, ConsentEvent, OutboundWrite, TimelineEntry)}


def test_new_customers_written_together_are_the_rows_written_one_by_one(database, monkeypatch):
    with database.transaction() as s:
        one_by_one, together = Shop(domain="one.myshopify.com"), Shop(domain="together.myshopify.com")
        s.add_all([one_by_one, together])
        s.flush()
        # given the customers imported one by one, through contacts and the consent ledger
        for node in NODES:
            contact, statement = customer_to_contact(node)
            updated_at = shopify_import.parse_time(node.get("updatedAt"))
            result = upsert_contact(s, one_by_one, contact, source="shopify", source_updated_at=updated_at)
            if statement is not None:
                consent_ledger.record(s, result.contact, statement, NOW)

        # when the same customers are imported as one batch into another shop
        def not_one_by_one(*args: object, **kwargs: object) -> None:
            raise AssertionError("a new customer went contact by contact")

        monkeypatch.setattr(shopify_import, "upsert_contact", not_one_by_one)
        outcome = shopify_import.import_batch(s, together, NODES, NOW)
        assert outcome.created == len(NODES) and [i["phone"] for i in outcome.invalid] == ["555-SHOP"]
    # then every table holds the same rows, read back from the database
    with database.session() as s:
        expected, written = snapshot(s, one_by_one.id), snapshot(s, together.id)
    assert [len(rows) for rows in written.values()] == [5, 4, 3, 3]
    assert written == expected


def test_customers_of_one_batch_sharing_a_phone_or_an_email_are_merged_as_one_by_one(database):
    # given a batch where customer 6 has customer 1's phone and customer 7 customer 4's email
    twins = [{**NODES[0], "id": "gid://shopify/Customer/6", "email": "other@example.com",
              "updatedAt": "2026-02-28T11:00:00Z"},
             {**NODES[3], "id": "gid://shopify/Customer/7", "phone": "+33700000007",
              "updatedAt": "2026-02-28T11:00:01Z"}]
    with database.transaction() as s:
        one_by_one, together = Shop(domain="one.myshopify.com"), Shop(domain="together.myshopify.com")
        s.add_all([one_by_one, together])
        s.flush()
        for node in NODES + twins:
            contact, statement = customer_to_contact(node)
            updated_at = shopify_import.parse_time(node.get("updatedAt"))
            result = upsert_contact(s, one_by_one, contact, source="shopify", source_updated_at=updated_at)
            if statement is not None:
                consent_ledger.record(s, result.contact, statement, NOW)
        # when it is imported as one batch
        outcome = shopify_import.import_batch(s, together, NODES + twins, NOW)
    # then the twins update the contacts written before them, as one by one
    assert (outcome.created, outcome.updated) == (5, 2)
    with database.session() as s:
        written = snapshot(s, together.id)
        assert written == snapshot(s, one_by_one.id)
    assert len(written["contacts"]) == 5
