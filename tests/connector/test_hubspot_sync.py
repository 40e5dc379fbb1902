"""`parlons sync hubspot`: contacts both ways, with duplicates, invalid phones, resumption and
incremental runs, against the HubSpot sandbox over real HTTP."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from automations.models import ConsentEvent, Contact, SyncState
from connector.worker.hubspot_sync import sync_hubspot
from tests.connector.conftest import PORTAL, SHOP

DAY_AGO_MS = int((time.time() - 86400) * 1000)


def ours(live) -> list[Contact]:
    with live.runtime.db.session() as s:
        return list(s.scalars(sa.select(Contact).order_by(Contact.id)))


def add_ours(live, **fields) -> int:
    with live.runtime.db.transaction() as s:
        contact = Contact(shop_id=live.shop_id(), tags=[], properties={}, **fields)
        s.add(contact)
        s.flush()
        return contact.id


def test_a_full_sync_matches_by_phone_then_email_and_duplicates_nothing_on_either_side(live):
    hs = live.boxes.hubspot
    # given HubSpot contacts: one with our customer's phone, one with another customer's email,
    # a new one, one with a phone that is no phone, and two sharing one phone
    [by_phone] = hs.add_contacts(PORTAL, 1, start=1, phone="06 10 00 00 01")
    [by_email] = hs.add_contacts(PORTAL, 1, start=2, phone="")
    [new] = hs.add_contacts(PORTAL, 1, start=3)
    [invalid] = hs.add_contacts(PORTAL, 1, start=4, phone="12")
    first, second = hs.add_contacts(PORTAL, 1, start=5) + hs.add_contacts(PORTAL, 1, start=6, phone="+33610000005")
    # and our own customers: two HubSpot has, one it lacks
    phone_id = add_ours(live, phone_e164="+33610000001", shopify_customer_id="gid://shopify/Customer/1")
    email_id = add_ours(live, email="customer2@example.com", phone_e164="+33699999902")
    lacking_id = add_ours(live, phone_e164="+33699999903", first_name="Inès", consent_status="subscribed")
    # when the shop syncs
    report = sync_hubspot(live.runtime, live.shop_id(), full=True)
    # then each HubSpot contact is linked to the customer it is, or created once
    linked = {c.hubspot_contact_id: c for c in ours(live)}
    assert linked[by_phone].id == phone_id and linked[by_email].id == email_id
    assert linked[new].phone_e164 == "+33610000003" and linked[first].phone_e164 == "+33610000005"
    # the invalid phone is counted and listed, its contact kept by email; the duplicate is listed, not linked
    assert report.invalid_phones == 1 and linked[invalid].phone_e164 is None
    assert second not in linked and report.duplicates == 1
    problems = {(p["hubspot_id"], p["problem"]) for p in report.problems}
    assert problems == {(invalid, "invalid phone"), (second, "duplicate")}
    # and the customer HubSpot lacked is now there, once, with our properties
    pushed = [c for c in hs.contacts_for(PORTAL) if c.get("parlons_phone_e164") == "+33699999903"]
    assert len(pushed) == 1 and pushed[0]["firstname"] == "Inès" and pushed[0]["parlons_sms_consent"] == "subscribed"
    assert linked[pushed[0]["id"]].id == lacking_id
    assert len(ours(live)) == 3 + 3  # ours + new, invalid and first
    # when it syncs again, nothing new appears on either side
    counts = (len(ours(live)), len(hs.contacts_for(PORTAL)))
    again = sync_hubspot(live.runtime, live.shop_id(), full=True)
    assert (again.created, again.linked, again.pushed) == (0, 0, 0)
    assert (len(ours(live)), len(hs.contacts_for(PORTAL))) == counts


def test_an_interrupted_sync_resumes_where_it_stopped(live):
    live.boxes.hubspot.add_contacts(PORTAL, 250)
    pages = []

    def stop_after_first_page(n: int) -> None:
        pages.append(n)
        raise RuntimeError("interrupted")

    # given a sync stopped after its first page
    with pytest.raises(RuntimeError):
        sync_hubspot(live.runtime, live.shop_id(), full=True, progress=stop_after_first_page)
    with live.runtime.db.session() as s:
        state = s.scalar(sa.select(SyncState))
    assert (state.status, state.processed) == ("failed", 100) and state.cursor
    # when it runs again, it reads only the pages it had not read
    report = sync_hubspot(live.runtime, live.shop_id())
    assert report.resumed and report.pulled == 150
    assert len(ours(live)) == 250


def test_an_incremental_sync_reads_only_what_changed(live):
    hs = live.boxes.hubspot
    # given a first full sync of contacts last changed yesterday
    hs.add_contacts(PORTAL, 120, modified_ms=DAY_AGO_MS)
    sync_hubspot(live.runtime, live.shop_id(), full=True)
    # when two contacts appear since
    hs.add_contacts(PORTAL, 2, start=500)
    report = sync_hubspot(live.runtime, live.shop_id())
    # then only they are read
    assert not report.full and report.pulled == 2 and report.created == 2
    assert len(ours(live)) == 122


def test_a_consent_set_by_a_crm_user_enters_the_ledger(live):
    live.boxes.hubspot.add_contacts(PORTAL, 1, parlons_sms_consent="subscribed")
    sync_hubspot(live.runtime, live.shop_id(), full=True, push=False)
    [contact] = ours(live)
    with live.runtime.db.session() as s:
        [entry] = s.scalars(sa.select(ConsentEvent)).all()
    assert contact.consent_status == "subscribed" and (entry.source, entry.evidence["via"]) == ("hubspot", "sync")


def test_the_cli_syncs_with_a_progress_bar_and_a_summary(live):
    live.boxes.hubspot.add_contacts(PORTAL, 3)
    from connector.commands.sync_hubspot import hubspot

    result = live.app.test_cli_runner().invoke(hubspot, ["--shop", SHOP, "--full"])
    assert result.exit_code == 0, result.output
    assert '"pulled": 3' in result.output and '"created": 3' in result.output
