"""The admin's sync page: a merchant starts a Shopify sync, a worker runs it, and the page shows
its progress and outcome; a source the shop is not connected to cannot be started."""

from __future__ import annotations

import re

import requests
import sqlalchemy as sa

from automations.models import Installation, SyncState
from tests.connector.conftest import SHOP
from tests.connector.helpers import form_token_for, post_form, sign_in


def signed_in(live) -> requests.Session:
    browser = requests.Session()
    answer = sign_in(browser, SHOP, live.runtime.config.api_token, live.url)
    assert answer.status_code == 200
    return browser


def row(page: str, label: str) -> str:
    """The text of the table row of one source, tags removed."""
    found = re.search(rf"<tr>\s*<td>{label}</td>(.*?)</tr>", page, re.S)
    assert found, f"no row for {label}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def test_a_sync_started_from_the_admin_shows_its_progress_and_outcome(live):
    live.boxes.shopify.add_customers(SHOP, 40)
    browser = signed_in(live)
    # before any sync, the page says so and offers to start one
    page = browser.get(f"{live.url}/admin/sync").text
    assert "never run" in row(page, "Shopify customers")
    # when the merchant starts one, it is queued for a worker
    answer = post_form(browser, f"{live.url}/admin/sync", f"{live.url}/admin/sync/shopify", {"full": "1"})
    assert answer.status_code == 200 and "sync is queued" in answer.text
    # while it runs, the page refreshes itself and shows how far it got
    with live.runtime.db.transaction() as s:
        s.add(SyncState(shop_id=live.shop_id(), source="shopify", status="running", processed=10, total=40,
                        invalid=[]))
    running = browser.get(f"{live.url}/admin/sync").text
    assert 'http-equiv="refresh"' in running
    assert "10 of 40 (25 %)" in row(running, "Shopify customers")
    with live.runtime.db.transaction() as s:
        s.execute(sa.delete(SyncState))
    # then a worker runs it, and the page shows it done with every customer imported
    live.work()
    done = browser.get(f"{live.url}/admin/sync").text
    assert row(done, "Shopify customers").startswith("done 40 of 40 (100 %)")
    assert 'http-equiv="refresh"' not in done


def test_a_source_the_shop_is_not_connected_to_cannot_be_started(live):
    with live.runtime.db.transaction() as s:
        s.execute(sa.delete(Installation).where(Installation.provider == "hubspot"))
    browser = signed_in(live)
    assert "not connected" in row(browser.get(f"{live.url}/admin/sync").text, "HubSpot contacts")
    hubspot = form_token_for(live.app, browser, "/admin/sync/hubspot")
    answer = browser.post(f"{live.url}/admin/sync/hubspot", data={"full": "", "csrf_token": hubspot})
    assert answer.status_code == 409
    mailchimp = form_token_for(live.app, browser, "/admin/sync/mailchimp")
    assert browser.post(f"{live.url}/admin/sync/mailchimp", data={"csrf_token": mailchimp}).status_code == 404
    assert not len(live.runtime.queue("sync"))
