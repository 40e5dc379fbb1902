"""Installing the HubSpot app through the real routes and the sandbox's consent screen; the
merchant choosing the shop; refresh once under concurrency; private apps; idempotent bootstrap."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import requests
import sqlalchemy as sa

from automations.models import Contact, Installation, Shop
from connector import clients
from connector.install import connect_hubspot
from tests.connector.conftest import SHOP
from tests.connector.helpers import form_token, post_form, sign_in

NEW_PORTAL = 1001  # the sandbox consent screen's default portal


def signed_in(live, shop: str = SHOP) -> requests.Session:
    browser = requests.Session()
    answer = sign_in(browser, shop, live.runtime.config.api_token, live.url)
    assert answer.status_code == 200
    return browser


def installation(live) -> Installation:
    with live.runtime.db.session() as s:
        return s.scalar(sa.select(Installation).join(Shop, Shop.id == Installation.shop_id)
                        .where(Shop.domain == SHOP, Installation.provider == "hubspot"))


def test_a_merchant_installs_from_the_admin_and_the_portal_is_linked_with_a_first_sync(live):
    hs = live.boxes.hubspot
    hs.add_contacts(NEW_PORTAL, 3)
    browser = signed_in(live)
    # when the merchant clicks Connect HubSpot and approves on HubSpot's screen
    first = browser.get(f"{live.url}/auth/hubspot", allow_redirects=False)
    authorize = urlsplit(first.headers["Location"])
    query = parse_qs(authorize.query)
    assert query["scope"][0].split() == ["oauth", "crm.objects.contacts.read", "crm.objects.contacts.write",
                                         "crm.schemas.contacts.write"]
    assert query["redirect_uri"] == [f"{live.url}/auth/hubspot/callback"] and query["state"][0]
    page = browser.get(first.headers["Location"])
    # then they land on the HubSpot page of the admin, which names the portal
    assert page.status_code == 200 and f"portal <strong>{NEW_PORTAL}</strong>" in page.text
    inst = installation(live)
    assert inst.external_id == str(NEW_PORTAL)
    # tokens are kept encrypted, with their expiry
    assert inst.refresh_token_enc and "sbx-" not in inst.access_token_enc + inst.refresh_token_enc
    assert inst.expires_at > datetime.now(UTC) + timedelta(minutes=25)
    # our properties exist in the portal
    assert {p["name"] for p in hs.portal(NEW_PORTAL).properties.values()} == {
        "parlons_sms_consent", "parlons_sms_consent_updated_at", "parlons_sms_consent_source", "parlons_phone_e164"}
    # and the first sync, run by a worker, brings the portal's contacts
    live.work()
    with live.runtime.db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Contact).where(Contact.hubspot_contact_id.is_not(None))) == 3


def test_an_install_started_from_hubspot_lets_the_merchant_choose_the_shop(live):
    live.boxes.shopify.add_shop("atelier-nord.myshopify.com")
    from connector.install import connect_shopify

    with live.runtime.db.transaction() as s:
        connect_shopify(live.runtime, s, "atelier-nord.myshopify.com",
                        live.boxes.shopify.grant_token("atelier-nord.myshopify.com", expires_in=None),
                        register_webhooks=False)
    # given an install that starts with no one signed in (HubSpot's marketplace)
    anonymous = requests.Session()
    landed = anonymous.get(f"{live.url}/auth/hubspot")
    # then the merchant is asked to sign in before choosing
    assert urlsplit(landed.url).path == "/admin/login"
    next_url = parse_qs(urlsplit(landed.url).query)["next"][0]
    browser = signed_in(live)
    choose = browser.get(f"{live.url}{next_url}")
    assert f"Link HubSpot portal {NEW_PORTAL}" in choose.text and "atelier-nord.myshopify.com" in choose.text
    pending = parse_qs(urlsplit(next_url).query)["pending"][0]
    # when they choose the second shop
    done = post_form(browser, f"{live.url}{next_url}", f"{live.url}/admin/hubspot/choose", {"pending": pending,
                                                                  "shop": "atelier-nord.myshopify.com"})
    assert done.status_code == 200
    # then that shop is linked to the portal, and the pending install cannot be used again
    with live.runtime.db.session() as s:
        linked = s.scalar(sa.select(Shop.domain).join(Installation, Installation.shop_id == Shop.id)
                          .where(Installation.provider == "hubspot", Installation.external_id == str(NEW_PORTAL)))
    assert linked == "atelier-nord.myshopify.com"
    again = browser.post(f"{live.url}/admin/hubspot/choose",
                         data={"pending": pending, "shop": SHOP, "csrf_token": form_token(choose.text, "/admin/hubspot/choose")})
    assert again.status_code == 400


def test_bad_used_or_refused_installs_are_400(live):
    browser = signed_in(live)
    first = browser.get(f"{live.url}/auth/hubspot", allow_redirects=False)
    state = parse_qs(urlsplit(first.headers["Location"]).query)["state"][0]
    callback = f"{live.url}/auth/hubspot/callback"
    code = live.boxes.hubspot.authorization_code(NEW_PORTAL, callback)
    assert browser.get(callback, params={"code": code, "state": "forged"}).status_code == 400
    assert browser.get(callback, params={"error": "access_denied", "state": state}).status_code == 400
    # a code HubSpot did not issue is refused by HubSpot, and the state is spent
    assert browser.get(callback, params={"code": "nope", "state": state}, allow_redirects=False).status_code == 400
    assert browser.get(callback, params={"code": code, "state": state}).status_code == 400
    assert installation(live).external_id != str(NEW_PORTAL)


def test_an_expiring_token_is_refreshed_once_however_many_workers_need_it(live):
    hs = live.boxes.hubspot
    # given an OAuth install whose access token expires within the refresh margin
    browser = signed_in(live)
    browser.get(f"{live.url}/auth/hubspot")
    inst = installation(live)
    with live.runtime.db.transaction() as s:
        s.get(Installation, inst.id).expires_at = datetime.now(UTC) + timedelta(seconds=60)
    before = hs.refreshes
    # when eight workers each build a client and call HubSpot at the same moment
    barrier, results, errors = threading.Barrier(8), [], []

    def worker() -> None:
        try:
            with live.runtime.db.session() as s:
                client = clients.hubspot_for(live.runtime, s, s.get(Shop, live.shop_id()))
            barrier.wait()
            results.append(client.contacts_page()[0])
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then HubSpot saw one refresh, every call succeeded, and the new expiry is stored
    assert errors == [] and len(results) == 8
    assert hs.refreshes - before == 1
    assert installation(live).expires_at > datetime.now(UTC) + timedelta(minutes=25)


def test_a_private_app_connects_from_the_cli_with_its_tier_limit(live):
    from connector.commands.hubspot import connect

    token = live.boxes.hubspot.issue_token(7777, expires_in=10 * 365 * 86400)
    result = live.app.test_cli_runner().invoke(connect, ["--shop", SHOP, "--token", token, "--portal-id", "7777",
                                                         "--rate-limit", "190", "--no-sync"])
    assert result.exit_code == 0, result.output
    inst = installation(live)
    assert (inst.external_id, inst.refresh_token_enc, inst.extra["rate_limit"]) == ("7777", None, 190)
    with live.runtime.db.session() as s:
        client = clients.hubspot_for(live.runtime, s, s.get(Shop, live.shop_id()))
    assert client.bucket.capacity == 190 and client.contacts_page() == ([], None)
    refused = live.app.test_cli_runner().invoke(connect, ["--shop", SHOP, "--token", "wrong", "--portal-id", "7777"])
    assert refused.exit_code != 0 and "HubSpot refused" in refused.output


def test_connecting_again_creates_no_property_twice(live):
    hs = live.boxes.hubspot
    token = hs.issue_token(5151)
    with live.runtime.db.transaction() as s:
        shop = s.get(Shop, live.shop_id())
        connect_hubspot(live.runtime, s, shop, token, hub_id=5151)
        connect_hubspot(live.runtime, s, shop, token, hub_id=5151)
    portal = hs.portal(5151)
    assert len(portal.properties) == 4 and list(portal.groups) == ["parlons"]
