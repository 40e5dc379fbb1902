"""Contacts: one row per person per shop, whatever system told us about them first.

A contact is matched on the Shopify customer id, then the HubSpot contact id, then the phone
number (E.164), then the email, so the same person never becomes two contacts. Phones are
normalised with `phonenumbers` (the hint country of the data, then the shop's default region);
the raw input is kept, and an invalid phone leaves the contact without one and says why.
The newest `source_updated_at` wins: a stale update only fills what we do not know yet.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.orm import Session

from automations import chunk
from automations.events import ContactData
from automations.models import Contact, Shop

# Fields copied from ContactData onto the contact when given (None never erases a value).
_COPIED = (
    "email", "first_name", "last_name", "locale", "shopify_customer_id", "hubspot_contact_id",
    "orders_count", "total_spent", "last_order_at",
)


@dataclass
class PhoneResult:
    e164: str | None
    error: str | None


@dataclass
class ContactResult:
    contact: Contact
    created: bool
    phone_error: str | None


def normalise_phone(raw: str | None, *regions: str | None) -> PhoneResult:
    """E.164 for a raw phone, trying each region hint in turn; an error saying why otherwise."""
    if not raw or not raw.strip():
        return PhoneResult(None, None)
    text = raw.strip()
    if _valid_as_written(text):
        return PhoneResult(text, None)
    return _parse_phone(text, regions)


# "+", a country code and a national number, digits only: how most stores already hold phones.
_PLAIN_E164 = re.compile(r"\+[1-9][0-9]{2,16}")


def _valid_as_written(text: str) -> bool:
    """Whether `text` is a valid number written in E.164 exactly as `phonenumbers.parse` would
    read it (no national prefix, carrier code or leading zero to interpret), so that its E.164
    is `text` itself: the answer of `_parse_phone` without parsing, a fifth of its cost.
    False when unsure: the full path decides."""
    if not _PLAIN_E164.fullmatch(text):
        return False
    digits = text[1:]
    # As phonenumbers reads a country code: the shortest known prefix of one to three digits.
    known = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
    size = next((n for n in (1, 2, 3) if int(digits[:n]) in known), 0)
    national = digits[size:]
    if not size or len(national) < 2 or national[0] == "0":
        return False
    code = int(digits[:size])
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
        code, phonenumbers.region_code_for_country_code(code))
    if metadata is None:
        return False
    prefix = metadata.national_prefix_for_parsing
    if prefix and re.match(prefix, national):
        return False  # parse may strip or rewrite it (and some such numbers are valid as written)
    return _validity(code)(national)


_NUMBER_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
                 "voicemail", "fixed_line", "mobile")


@cache
def _validity(code: int) -> Callable[[str], bool]:
    """`phonenumbers.is_valid_number` for a national number (no leading zero) of this country
    code. For a code of one region, its own rule compiled once: a number is valid when the
    region's general description and one of its number types' descriptions each allow its
    length and match it whole, their patterns joined in one alternation per length."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]
    if len(regions) > 1:  # which region's rules apply depends on the number: phonenumbers decides
        return lambda national: phonenumbers.is_valid_number(
            phonenumbers.PhoneNumber(country_code=code, national_number=int(national)))
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, regions[0])
    general = metadata.general_desc
    kinds = [desc for desc in (getattr(metadata, name) for name in _NUMBER_TYPES)
             if desc is not None and desc.national_number_pattern]
    rules = {}
    for length in general.possible_length:
        patterns = [desc.national_number_pattern for desc in kinds if length in desc.possible_length]
        if patterns and general.national_number_pattern:
            rules[length] = (re.compile(general.national_number_pattern),
                             re.compile("|".join(f"(?:{pattern})" for pattern in patterns)))

    def valid(national: str) -> bool:
        rule = rules.get(len(national))
        return rule is not None and bool(rule[0].fullmatch(national)) and bool(rule[1].fullmatch(national))

    return valid


def _parse_phone(text: str, regions: tuple[str | None, ...]) -> PhoneResult:
    """The full path: `text` parsed by phonenumbers with each region hint in turn."""
    error = "not a valid phone number"
    for region in [r.upper() for r in regions if r] or [None]:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            error = "not a phone number"
            continue
        if phonenumbers.is_valid_number(number):
            return PhoneResult(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None)
        error = "not a valid phone number"
        if text.startswith("+"):
            break  # the region hint cannot change an international number
    return PhoneResult(None, f"{error}: {text!r}")


_REMEMBERED = "parlons.contacts.remembered"
# Only these are remembered: a phone is unique per shop, and a Shopify id is only ever given to a
# contact by a look-up that tried it first; an email or a HubSpot id may move to an older contact.
_REMEMBERED_KEYS = ("shopify_customer_id", "phone_e164")


def remember_matches(session: Session) -> None:
    """For the rest of this session, a contact found by Shopify id or phone is checked again in
    memory the next time that identifier is looked up, instead of queried (a batch of events)."""
    session.info[_REMEMBERED] = {}


def _recalled(remembered: dict | None, shop: Shop, name: str, value: str) -> Contact | None:
    found = remembered.get((shop.id, name, value)) if remembered is not None else None
    if found is None or not sa.inspect(found).persistent:
        return None
    still = found.shop_id == shop.id and getattr(found, name) == value and found.deleted_at is None
    return found if still else None


def find_contact(session: Session, shop: Shop, data: ContactData, phone_e164: str | None) -> Contact | None:
    """The existing contact for these identifiers, by strength of the identifier."""
    keys = (
        (Contact.shopify_customer_id, data.shopify_customer_id),
        (Contact.hubspot_contact_id, data.hubspot_contact_id),
        (Contact.phone_e164, phone_e164),
        (Contact.email, data.email.strip().lower() if data.email else None),
    )
    remembered = session.info.get(_REMEMBERED)
    loaded = chunk.active(session)
    for column, value in keys:
        if not value:
            continue
        if loaded is not None:
            known, found = loaded.contact(shop.id, column.key, value)
            if found is not None:
                return found
            if known:
                continue
        if column.key in _REMEMBERED_KEYS and (found := _recalled(remembered, shop, column.key, value)):
            return found
        found = session.scalars(
            sa.select(Contact)
            .where(Contact.shop_id == shop.id, column == value, Contact.deleted_at.is_(None))
            .order_by(Contact.id)
            .limit(1)
        ).first()
        if found is not None and loaded is not None and (getattr(found, column.key) != value or found.deleted_at):
            found = None  # changed in this chunk since (not written yet)
        if found is not None:
            if remembered is not None and column.key in _REMEMBERED_KEYS:
                remembered[(shop.id, column.key, value)] = found
            return found
    return None


def upsert_contact(
    session: Session,
    shop: Shop,
    data: ContactData,
    *,
    source: str,
    source_updated_at: datetime | None = None,
) -> ContactResult:
    """Create or update the contact these data describe; never duplicates, never goes back in time."""
    phone = normalise_phone(data.phone, data.country, shop.default_region)
    contact = find_contact(session, shop, data, phone.e164)
    created = contact is None
    loaded = chunk.active(session)
    if contact is None:
        contact = Contact(shop_id=shop.id, tags=[], properties={}, consent_status="not_subscribed")
        if loaded is None:
            session.add(contact)
    stale = (
        not created
        and source_updated_at is not None
        and contact.source_updated_at is not None
        and source_updated_at < contact.source_updated_at
    )
    values = {name: getattr(data, name) for name in _COPIED}
    if values["email"]:
        values["email"] = values["email"].strip().lower()
    for name, value in values.items():
        if value is None or value == "":
            continue
        if stale and getattr(contact, name) not in (None, ""):
            continue  # an older statement never overwrites what a newer one said
        setattr(contact, name, value)
    if data.tags and (not stale or not contact.tags):
        contact.tags = list(data.tags)
    if data.phone and (not stale or not contact.phone_e164):
        _apply_phone(session, shop, contact, data.phone, phone)
    if source_updated_at is not None and not stale:
        contact.source_updated_at = source_updated_at
    if created:
        contact.properties = {**(contact.properties or {}), "created_from": source}
    if loaded is None:
        session.flush()
    elif created:  # its id is needed now: written on its own, the chunk's other rows wait
        contact = loaded.write_contact(session, contact)
    return ContactResult(contact=contact, created=created, phone_error=phone.error)


def _apply_phone(session: Session, shop: Shop, contact: Contact, raw: str, phone: PhoneResult) -> None:
    contact.phone_raw = raw[:64]
    if phone.e164 is None:
        if not contact.phone_e164:
            contact.phone_error = phone.error
        return
    if phone.e164 == contact.phone_e164:
        contact.phone_error = None
        return
    loaded = chunk.active(session)
    known, owner = loaded.contact(shop.id, "phone_e164", phone.e164) if loaded else (False, None)
    if not known and owner is None:
        owner = session.scalars(
            sa.select(Contact).where(Contact.shop_id == shop.id, Contact.phone_e164 == phone.e164)
        ).first()
    if owner is not None and owner is not contact:
        contact.phone_error = f"phone {phone.e164} already belongs to contact {owner.id}"
        return
    contact.phone_e164 = phone.e164
    contact.phone_error = None
