"""Contacts: one per person, phones in E.164, the newest source wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from automations.contacts import upsert_contact
from automations.events import ContactData
from automations.models import Contact

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def count(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Contact))


def test_national_phone_is_normalised_with_the_shop_region(session, shop):
    # given a French national number and no country hint
    result = upsert_contact(session, shop, ContactData(phone="06 12 34 56 78", first_name="Léa"),
                            source="shopify")
    # then the contact has it in E.164 and the raw input is kept
    assert result.created and result.phone_error is None
    assert result.contact.phone_e164 == "+33612345678"
    assert result.contact.phone_raw == "06 12 34 56 78"


def test_country_hint_wins_over_the_shop_region(session, shop):
    result = upsert_contact(session, shop, ContactData(phone="(613) 555-0123", country="CA"),
                            source="shopify")
    assert result.contact.phone_e164 == "+16135550123"


def test_invalid_phone_keeps_the_contact_without_phone(session, shop):
    # given the fixtures' fake number
    result = upsert_contact(session, shop, ContactData(phone="555-555-SHIP", email="bob@example.com",
                                                       country="US"), source="shopify")
    # then the contact exists, without phone, and says why
    assert result.contact.id is not None
    assert result.contact.phone_e164 is None
    assert result.contact.phone_raw == "555-555-SHIP"
    assert "not a valid phone number" in result.phone_error
    assert result.contact.phone_error == result.phone_error


def test_matching_order_never_duplicates(session, shop):
    # given a contact known by Shopify id and phone
    first = upsert_contact(session, shop, ContactData(
        shopify_customer_id="gid://shopify/Customer/1", phone="+33612345678"), source="shopify").contact
    # when HubSpot tells us about the same phone with its own id, then the same contact is updated
    second = upsert_contact(session, shop, ContactData(
        hubspot_contact_id="501", phone="0612345678", email="Lea@Example.com"), source="hubspot")
    assert second.contact.id == first.id and not second.created
    # and later the HubSpot id alone, or the email alone, finds it too
    by_hubspot = upsert_contact(session, shop, ContactData(hubspot_contact_id="501"), source="hubspot")
    by_email = upsert_contact(session, shop, ContactData(email="lea@example.com"), source="api")
    assert by_hubspot.contact.id == first.id == by_email.contact.id
    assert first.email == "lea@example.com" and first.hubspot_contact_id == "501"
    assert count(session) == 1


def test_stale_update_never_overwrites_newer_state(session, shop):
    # given a contact updated by the source at T0 + 1h
    newer = upsert_contact(session, shop, ContactData(
        shopify_customer_id="gid://shopify/Customer/7", first_name="Camille"),
        source="shopify", source_updated_at=T0 + timedelta(hours=1)).contact
    # when an older update arrives late, with another name and a new email
    upsert_contact(session, shop, ContactData(
        shopify_customer_id="gid://shopify/Customer/7", first_name="Cam", email="cam@example.com"),
        source="shopify", source_updated_at=T0)
    # then the newer name stays; only what we did not know is filled in
    assert newer.first_name == "Camille"
    assert newer.email == "cam@example.com"
    assert newer.source_updated_at == T0 + timedelta(hours=1)
    # and a newer update does overwrite
    upsert_contact(session, shop, ContactData(
        shopify_customer_id="gid://shopify/Customer/7", first_name="Camille-Anne"),
        source="shopify", source_updated_at=T0 + timedelta(hours=2))
    assert newer.first_name == "Camille-Anne"


def test_phone_of_another_contact_is_not_stolen(session, shop):
    upsert_contact(session, shop, ContactData(email="a@example.com", phone="+33612345678"), source="api")
    other = upsert_contact(session, shop, ContactData(shopify_customer_id="gid://shopify/Customer/9",
                                                      email="b@example.com"), source="shopify").contact
    # when the second contact claims the first one's phone through its Shopify id
    upsert_contact(session, shop, ContactData(shopify_customer_id="gid://shopify/Customer/9",
                                              phone="+33612345678"), source="shopify")
    # then it does not get it (the unique phone stays with its owner) and says why
    assert other.phone_e164 is None and "already belongs" in other.phone_error
    assert count(session) == 2
