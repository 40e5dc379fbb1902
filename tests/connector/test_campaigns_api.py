"""Segments, campaigns and analytics through the REST API and the CLI: field-keyed refusals,
live counts, the life of a campaign, another shop's objects not found."""

from __future__ import annotations

import json

import pytest

from automations import consent
from automations.contacts import upsert_contact
from automations.events import ConsentData, ContactData
from automations.models import Shop, utcnow
from connector.commands.campaigns import campaigns_group, segments_group
from connector.worker.campaigns import advance
from tests.connector.helpers import SHOP, make_shop

AUTH = {"Authorization": "Bearer test-api-token"}
OTHER = "autre-boutique.myshopify.com"
VIP = {"all": [{"field": "contact.tags", "op": "contains", "value": "vip"}]}


@pytest.fixture
def db(app):
    """A shop with three VIP contacts (one without consent) and another shop."""
    database = app.extensions["parlons"].db
    make_shop(database, SHOP, sms_number="+33757000001", settings={"public_url": "http://127.0.0.1:5000"})
    make_shop(database, OTHER)
    now = utcnow()
    with database.transaction() as session:
        shop = session.query(Shop).filter_by(domain=SHOP).one()
        for i, name in enumerate(("Zoé", "Léa", "Hugo")):
            contact = upsert_contact(session, shop, ContactData(phone=f"+3361100000{i}", first_name=name),
                                     source="shopify").contact
            contact.tags = ["vip"]
            if i < 2:
                consent.record(session, contact, ConsentData("subscribed", "shopify", now, {"form": "checkout"}), now)
    return database


def test_segments_are_validated_counted_sampled_and_scoped(client, db):
    # a bad segment: each mistake under its field
    bad = client.post("/api/v1/segments", headers=AUTH, json={"shop": SHOP, "key": "x", "name": "x", "conditions": {
        "all": [{"field": "commerce.total_spent", "op": "within_days", "value": 3}]}})
    assert bad.status_code == 400
    assert bad.json["messages"]["conditions"]["all"]["0"]["op"][0].startswith("commerce.total_spent takes")
    # a live count of a definition not saved yet
    counted = client.post("/api/v1/segments/count", headers=AUTH, json={"shop": SHOP, "conditions": VIP})
    assert counted.status_code == 200
    assert counted.json == {"matching": 3, "reachable": 2, "unreachable": {
        "redacted": 0, "opted_out": 0, "invalid_phone": 0, "no_consent": 1}}
    made = client.post("/api/v1/segments", headers=AUTH, json={"shop": SHOP, "key": "vip", "name": "VIP",
                                                               "conditions": VIP})
    assert made.status_code == 409  # the built-in "vip" exists
    made = client.post("/api/v1/segments", headers=AUTH, json={"shop": SHOP, "key": "tag-vip", "name": "VIP",
                                                               "conditions": VIP})
    assert made.status_code == 201 and made.json["version"] == 1
    sampled = client.post("/api/v1/segments/sample", headers=AUTH, json={"shop": SHOP, "segment_id": made.json["id"],
                                                                         "limit": 2})
    assert len(sampled.json["sample"]) == 2 and "•" in sampled.json["sample"][0]["phone"]
    listed = client.get(f"/api/v1/segments?shop={SHOP}", headers=AUTH).json["data"]
    assert {"engaged", "buyers", "vip", "never-purchased", "lapsed", "abandoned-checkout", "tag-vip"} == \
        {s["key"] for s in listed}
    # another shop does not see it
    assert client.get(f"/api/v1/segments/{made.json['id']}?shop={OTHER}", headers=AUTH).status_code == 404


def test_a_campaign_is_estimated_scheduled_sent_paused_and_reported(client, app, db):
    segment = client.post("/api/v1/segments", headers=AUTH, json={
        "shop": SHOP, "key": "tag-vip", "name": "VIP", "conditions": VIP}).json
    body = {"shop": SHOP, "name": "Vente flash", "audience": {"include": [segment["id"]]},
            "variants": [{"templates": {"fr": "{{ first_name }}, -20% : https://boutique.example/flash"}}]}
    refused = client.post("/api/v1/campaigns", headers=AUTH, json={**body, "variants": [], "throttle_hours": 0})
    assert refused.status_code == 400 and set(refused.json["messages"]) == {"variants", "throttle_hours"}
    created = client.post("/api/v1/campaigns", headers=AUTH, json=body)
    assert created.status_code == 201 and created.json["status"] == "draft"
    cid = created.json["id"]
    estimate = client.post(f"/api/v1/campaigns/{cid}/estimate", headers=AUTH, json={"shop": SHOP}).json
    assert estimate["reachable"] == 2 and estimate["unreachable"]["no_consent"] == 1
    assert estimate["cost_by_country"] == [{"country": "FR", "recipients": 2, "cost": "0.15"}]
    past = client.post(f"/api/v1/campaigns/{cid}/schedule", headers=AUTH,
                       json={"shop": SHOP, "mode": "at", "at": "2020-01-01T10:00:00"})
    assert past.status_code == 400 and past.json["messages"] == {"at": ["is in the past"]}
    scheduled = client.post(f"/api/v1/campaigns/{cid}/schedule", headers=AUTH, json={"shop": SHOP, "mode": "now"})
    assert scheduled.status_code == 200 and scheduled.json["status"] == "scheduled"
    assert client.put(f"/api/v1/campaigns/{cid}", headers=AUTH, json=body).status_code == 409
    done = advance(app.extensions["parlons"], cid)
    assert done["started"] and done["composed"] == 2
    shown = client.get(f"/api/v1/campaigns/{cid}?shop={SHOP}", headers=AUTH).json
    assert shown["status"] == "sending" and shown["progress"]["audience"] == 2
    paused = client.post(f"/api/v1/campaigns/{cid}/pause", headers=AUTH, json={"shop": SHOP}).json
    assert paused["status"] == "paused" and paused["progress"]["to_compose"] == 2
    assert client.post(f"/api/v1/campaigns/{cid}/resume", headers=AUTH, json={"shop": SHOP}).json["status"] == "sending"
    cancelled = client.post(f"/api/v1/campaigns/{cid}/cancel", headers=AUTH, json={"shop": SHOP}).json
    assert cancelled["status"] == "cancelled" and cancelled["progress"]["to_compose"] == 0
    report = client.get(f"/api/v1/campaigns/{cid}/report?shop={SHOP}", headers=AUTH)
    assert report.status_code == 200 and report.json["sent"] == 0 and report.json["by_day"] == []
    assert client.get(f"/api/v1/campaigns/{cid}/report?shop={OTHER}", headers=AUTH).status_code == 404
    analytics = client.get(f"/api/v1/analytics?shop={SHOP}&days=7", headers=AUTH)
    assert analytics.status_code == 200 and analytics.json["campaigns"]["sent"] == 0


def test_the_cli_counts_segments_and_reports_campaigns(app, db):
    runner = app.test_cli_runner()
    made = runner.invoke(segments_group, ["create", "--shop", SHOP, "--key", "tag-vip", "--name", "VIP",
                                          "--conditions", json.dumps(VIP)])
    assert made.exit_code == 0, made.output
    segment_id = json.loads(made.output)["id"]
    counted = runner.invoke(segments_group, ["count", str(segment_id), "--shop", SHOP])
    assert "matching 3, reachable 2" in counted.output and "no consent: 1" in counted.output
    bad = runner.invoke(segments_group, ["create", "--shop", SHOP, "--key", "x", "--name", "x",
                                         "--conditions", '{"all": [{"field": "nope", "op": "eq", "value": 1}]}'])
    assert bad.exit_code != 0 and "conditions" in bad.output
    created = runner.invoke(campaigns_group, ["create", "--shop", SHOP, "--file", "-"], input=json.dumps({
        "name": "Flash", "audience": {"include": [segment_id]}, "variants": [{"templates": {"fr": "Bonjour !"}}]}))
    assert created.exit_code == 0, created.output
    campaign_id = json.loads(created.output)["id"]
    report = runner.invoke(campaigns_group, ["report", str(campaign_id), "--shop", SHOP])
    assert report.exit_code == 0 and "Sent" in report.output and "ROI" in report.output
