"""A flash promotion end to end, and an A/B campaign whose winner goes to the remainder: the API
over real HTTP routes, a real RQ worker, the Twilio sandbox, a click on the short link, an order
webhook from the Shopify sandbox, and the report.

The recipients are in the United Kingdom and Germany, where no legal send window applies and the
shop's own window is open all day, so that what the worker sends does not depend on the hour at
which the tests run. Messages asked for recipients' 10:00 tomorrow are composed with the clock at
that start; the test then lets time pass by making them due now.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import requests
import sqlalchemy as sa

from automations import caps, consent
from automations.contacts import upsert_contact
from automations.events import ConsentData, ContactData
from automations.models import CampaignRecipient, Message, Shop, utcnow
from automations.shops import policy_for
from connector.worker.campaigns import advance, run_campaign
from tests.connector.conftest import SHOP
from tests.connector.helpers import FIXTURES

AUTH = {"Authorization": "Bearer test-api-token"}
BROWSER = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Safari/604.1"}
ANA, BEN, CLEO, DAN = "+447400123456", "+4915112345678", "+447400123457", "+447400123458"
ALL_DAY = {"start": "00:00", "end": "23:59", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}


def _shop_with(live, people: list[tuple[str, str, bool]]) -> dict[str, int]:
    """The live shop, open all day, with VIP contacts (phone, first name, subscribed)."""
    now = utcnow()
    ids = {}
    with live.runtime.db.transaction() as session:
        shop = session.scalar(sa.select(Shop).where(Shop.domain == SHOP))
        shop.settings = {**(shop.settings or {}), "public_url": live.url, "default_window": ALL_DAY}
        for phone, name, subscribed in people:
            contact = upsert_contact(session, shop, ContactData(phone=phone, first_name=name, locale="fr"),
                                     source="shopify").contact
            contact.tags = ["vip"]
            if subscribed:
                consent.record(session, contact, ConsentData("subscribed", "shopify", now, {"form": "checkout"}), now)
            ids[phone] = contact.id
    return ids


def _api(live, method: str, path: str, headers: dict | None = None, **kw) -> requests.Response:
    return requests.request(method, f"{live.url}/api/v1{path}", headers={**AUTH, **(headers or {})}, timeout=30,
                            **kw)


def _click(live, body: str) -> None:
    code = re.search(r"/l/([A-Za-z0-9_-]+)", body).group(1)
    answer = requests.get(f"{live.url}/l/{code}", headers=BROWSER, allow_redirects=False, timeout=10)
    assert answer.status_code == 302


def _campaign_messages(live, campaign_id: int) -> list[Message]:
    with live.runtime.db.session() as session:
        return list(session.scalars(sa.select(Message).join(CampaignRecipient, CampaignRecipient.message_id == Message.id)
                                    .where(CampaignRecipient.campaign_id == campaign_id).order_by(Message.id)))


def test_a_flash_promotion_from_segment_to_attributed_revenue(live):
    ids = _shop_with(live, [(ANA, "Ana", True), (BEN, "Ben", True), (CLEO, "Cléo", True), (DAN, "Dan", False)])
    # Cléo had a marketing SMS an hour ago: the shop's cap (1 per 24 h) holds for the campaign too
    with live.runtime.db.session() as session:
        policy = policy_for(session.scalar(sa.select(Shop).where(Shop.domain == SHOP)))
    assert caps.reserve(live.runtime.redis, live.shop_id(), ids[CLEO], utcnow() - timedelta(hours=1), policy,
                        "earlier").allowed
    # a segment, counted live
    segment = _api(live, "POST", "/segments", json={"shop": SHOP, "key": "vip", "name": "VIP", "conditions": {
        "all": [{"field": "contact.tags", "op": "contains", "value": "vip"}]}})
    assert segment.status_code == 409  # "vip" is a built-in segment: the merchant picks another key
    segment = _api(live, "POST", "/segments", json={"shop": SHOP, "key": "clients-vip", "name": "VIP", "conditions": {
        "all": [{"field": "contact.tags", "op": "contains", "value": "vip"}]}}).json()
    counted = _api(live, "POST", "/segments/count", json={"shop": SHOP, "segment_id": segment["id"]}).json()
    assert (counted["matching"], counted["reachable"], counted["unreachable"]["no_consent"]) == (4, 3, 1)
    # a campaign, estimated
    campaign = _api(live, "POST", "/campaigns", headers={"Idempotency-Key": "flash-1"}, json={
        "shop": SHOP, "name": "Vente flash", "audience": {"include": [segment["id"]]},
        "variants": [{"templates": {"fr": "{{ first_name }}, -30% ce soir seulement : https://boutique.example/flash"}}],
    }).json()
    estimate = _api(live, "POST", f"/campaigns/{campaign['id']}/estimate", json={"shop": SHOP}).json()
    assert estimate["reachable"] == 3
    assert {c["country"]: c["recipients"] for c in estimate["cost_by_country"]} == {"GB": 2, "DE": 1}
    assert estimate["variants"][0]["locales"]["fr"]["segments"] == 1
    # a test send to the merchant's phone, sent by the worker
    test = _api(live, "POST", f"/campaigns/{campaign['id']}/test", json={"shop": SHOP, "phone": "+447400000000"})
    assert test.status_code == 202
    live.work()
    assert "-30% ce soir" in live.boxes.twilio.inbox("+447400000000")[0]["body"]
    # scheduled at each recipient's 10:00 tomorrow
    tomorrow = (utcnow() + timedelta(days=1)).date()
    scheduled = _api(live, "POST", f"/campaigns/{campaign['id']}/schedule", json={
        "shop": SHOP, "mode": "local", "date": tomorrow.isoformat(), "time": "10:00"}).json()
    assert scheduled["status"] == "scheduled"
    start = datetime.fromisoformat(scheduled["send_at"])
    done = advance(live.runtime, campaign["id"], now=start)
    assert done["started"] and done["composed"] == 3
    sent_at = {m.to_phone: m.send_at for m in _campaign_messages(live, campaign["id"])}
    assert sent_at == {ANA: datetime(tomorrow.year, tomorrow.month, tomorrow.day, 10, tzinfo=UTC),  # London
                       CLEO: datetime(tomorrow.year, tomorrow.month, tomorrow.day, 10, tzinfo=UTC),
                       BEN: datetime(tomorrow.year, tomorrow.month, tomorrow.day, 9, tzinfo=UTC)}  # Berlin
    # time passes: the messages are due, and the worker sends them through Twilio
    with live.runtime.db.transaction() as session:
        session.execute(sa.update(Message).where(Message.to_phone.in_(sent_at)).values(send_at=utcnow()))
    live.work()
    live.boxes.twilio.deliver_pending()
    live.work()
    statuses = {m.to_phone: (m.status, m.status_reason) for m in _campaign_messages(live, campaign["id"])}
    assert statuses[ANA][0] == statuses[BEN][0] == "delivered"
    assert statuses[CLEO] == ("suppressed", "frequency cap: 1 marketing SMS per 24 h")
    assert live.boxes.twilio.inbox(CLEO) == [] and live.boxes.twilio.inbox(DAN) == []
    [ana_sms] = live.boxes.twilio.inbox(ANA)
    assert ana_sms["body"].startswith(f"Ana, -30% ce soir seulement : {live.url}/l/")
    assert "STOP" in ana_sms["body"]
    # Ana clicks and orders
    _click(live, ana_sms["body"])
    order = json.loads((FIXTURES / "orders__create.json").read_text())
    order.update(phone=ANA, email="ana@example.com", total_price="89.90", currency="EUR",
                 customer={**order["customer"], "phone": ANA, "email": "ana@example.com", "first_name": "Ana"})
    answer = live.boxes.shopify.emit_webhook("orders/create", order, f"{live.url}/webhooks/shopify",
                                             live.runtime.config.shopify_api_secret, shop=SHOP)
    assert answer.status_code == 200
    live.work()
    # the campaign is over and its report shows the revenue the SMS earned
    assert advance(live.runtime, campaign["id"])["status"] == "sent"
    report = _api(live, "GET", f"/campaigns/{campaign['id']}/report", params={"shop": SHOP}).json()
    assert (report["sent"], report["delivered"], report["unique_clicks"]) == (2, 2, 1)
    assert (report["orders"], report["revenue"]) == (1, "89.90")
    assert report["roi"] > 100 and report["by_day"][0]["revenue"] == "89.90"
    shown = _api(live, "GET", f"/campaigns/{campaign['id']}", params={"shop": SHOP}).json()
    assert shown["progress"]["suppressed"] == 1 and shown["progress"]["delivered"] == 2


def test_an_ab_campaign_sends_the_winner_to_the_remainder(live):
    people = [(f"+4474001{n:05d}", f"Client{n}", True) for n in range(30)]
    _shop_with(live, people)
    segment = _api(live, "POST", "/segments", json={"shop": SHOP, "key": "tous", "name": "Tous", "conditions": {
        "all": [{"field": "consent.status", "op": "eq", "value": "subscribed"}]}}).json()
    campaign = _api(live, "POST", "/campaigns", json={
        "shop": SHOP, "name": "Soldes", "audience": {"include": [segment["id"]]},
        "ab": {"mode": "winner", "test_share": 50, "metric": "clicks", "after_hours": 0},
        "variants": [{"templates": {"fr": "Offre A : https://boutique.example/a"}},
                     {"templates": {"fr": "Offre B : https://boutique.example/b"}}]}).json()
    assert _api(live, "POST", f"/campaigns/{campaign['id']}/schedule", json={"shop": SHOP, "mode": "now"}).ok
    # the worker sends the test group (the job was enqueued by the schedule)
    live.work()
    tested = [m for m in _campaign_messages(live, campaign["id"]) if m.status == "sent"]
    assert 8 <= len(tested) <= 22
    clicked = "B" if any("Offre B" in m.body for m in tested) else "A"
    for message in tested:
        if f"Offre {clicked}" in message.body:
            _click(live, message.body)
    # the job comes back (RQ's scheduler would bring it a minute later): the winner goes to the rest
    live.runtime.queue("sync").enqueue(run_campaign, campaign["id"])
    live.work()
    everyone = _campaign_messages(live, campaign["id"])
    assert len(everyone) == 30 and all(m.status == "sent" for m in everyone)
    assert all(f"Offre {clicked}" in m.body for m in everyone[len(tested):])
    assert len({m.to_phone for m in everyone}) == 30  # nobody twice
    report = _api(live, "GET", f"/campaigns/{campaign['id']}/report", params={"shop": SHOP}).json()
    assert report["ab_result"]["winner"] == clicked and report["ab_result"]["test"].startswith("two-proportion")
    assert report["ab_result"]["remainder"] == 30 - len(tested)


def test_a_contact_who_opts_out_mid_send_does_not_get_the_campaign(live):
    _shop_with(live, [(ANA, "Ana", True), (BEN, "Ben", True)])
    segment = _api(live, "POST", "/segments", json={"shop": SHOP, "key": "tous", "name": "Tous", "conditions": {
        "all": [{"field": "contact.tags", "op": "contains", "value": "vip"}]}}).json()
    campaign = _api(live, "POST", "/campaigns", json={
        "shop": SHOP, "name": "Flash", "audience": {"include": [segment["id"]]},
        "variants": [{"templates": {"fr": "Flash -30% : https://boutique.example/flash"}}]}).json()
    later = (utcnow() + timedelta(hours=2)).isoformat()
    scheduled = _api(live, "POST", f"/campaigns/{campaign['id']}/schedule",
                     json={"shop": SHOP, "mode": "at", "at": later}).json()
    # the campaign starts and composes both messages, which wait for their time
    advance(live.runtime, campaign["id"], now=datetime.fromisoformat(scheduled["send_at"]))
    assert len(_campaign_messages(live, campaign["id"])) == 2
    # Ben replies STOP before his message leaves
    assert live.boxes.twilio.send_inbound(BEN, live.runtime.config.twilio_from, "STOP").status_code == 200
    live.work()
    with live.runtime.db.transaction() as session:
        session.execute(sa.update(Message).where(Message.id.in_(
            [m.id for m in _campaign_messages(live, campaign["id"])])).values(send_at=utcnow()))
    live.work()
    # then Ana gets the campaign, Ben only the confirmation of his STOP
    assert [m["body"][:5] for m in live.boxes.twilio.inbox(ANA)] == ["Flash"]
    assert all("Flash" not in m["body"] for m in live.boxes.twilio.inbox(BEN))
    statuses = {m.to_phone: m.status for m in _campaign_messages(live, campaign["id"])}
    assert statuses[ANA] == "sent" and statuses[BEN] in ("cancelled", "suppressed")
