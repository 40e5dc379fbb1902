"""An image on a campaign: sent as MMS where the shop's provider has it (the image URL goes on
each message, which dispatch hands to the provider), refused with the reason where it has not."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from automations import consent
from automations.contacts import upsert_contact
from automations.events import ConsentData, ContactData
from automations.models import Message, Shop, ShopSmsSettings, utcnow
from connector.worker.campaigns import advance
from tests.connector.helpers import SHOP, make_shop

AUTH = {"Authorization": "Bearer test-api-token"}
IMAGE = "https://boutique.example/images/flash.jpg"


@pytest.fixture
def body(app, client) -> dict:
    """A campaign with an image to a segment of two subscribed contacts of a shop on Twilio."""
    database = app.extensions["parlons"].db
    make_shop(database, SHOP, sms_number="+33757000001", settings={"public_url": "http://127.0.0.1:5000"})
    now = utcnow()
    with database.transaction() as session:
        shop = session.query(Shop).filter_by(domain=SHOP).one()
        for i in range(2):
            contact = upsert_contact(session, shop, ContactData(phone=f"+3361200000{i}"), source="shopify").contact
            contact.tags = ["vip"]
            consent.record(session, contact, ConsentData("subscribed", "shopify", now, {"form": "checkout"}), now)
    segment = client.post("/api/v1/segments", headers=AUTH, json={
        "shop": SHOP, "key": "tag-vip", "name": "VIP",
        "conditions": {"all": [{"field": "contact.tags", "op": "contains", "value": "vip"}]}}).json
    return {"shop": SHOP, "name": "Vente flash", "audience": {"include": [segment["id"]]},
            "variants": [{"templates": {"fr": "-20% ce soir seulement"}}], "media_url": IMAGE}


def choose(app, **settings) -> None:
    with app.extensions["parlons"].db.transaction() as session:
        shop_id = session.scalar(sa.select(Shop.id).where(Shop.domain == SHOP))
        session.merge(ShopSmsSettings(shop_id=shop_id, **settings))


def test_an_image_goes_on_every_message_of_a_shop_whose_provider_sends_mms(app, client, body):
    created = client.post("/api/v1/campaigns", headers=AUTH, json=body)
    assert created.status_code == 201 and created.json["media_url"] == IMAGE
    cid = created.json["id"]
    assert client.post(f"/api/v1/campaigns/{cid}/schedule", headers=AUTH,
                       json={"shop": SHOP, "mode": "now"}).status_code == 200
    assert advance(app.extensions["parlons"], cid)["composed"] == 2
    with app.extensions["parlons"].db.session() as session:
        assert [m.media_urls for m in session.scalars(sa.select(Message))] == [[IMAGE], [IMAGE]]


def test_an_image_is_refused_with_the_reason_when_the_provider_or_failover_has_no_mms(app, client, body):
    choose(app, provider="brevo", sender_kind="alphanumeric", sender="BOUTIQUE")
    refused = client.post("/api/v1/campaigns", headers=AUTH, json=body)
    assert refused.status_code == 400
    assert refused.json["messages"] == {"media_url": [
        "the shop's provider brevo sends no MMS: remove the image or choose a provider that sends MMS"]}
    # the same campaign without its image is taken
    assert client.post("/api/v1/campaigns", headers=AUTH, json={**body, "media_url": None}).status_code == 201
    choose(app, provider="vonage", sender_kind="number", sender="+33757000001",
           failover_provider="brevo", failover_sender_kind="alphanumeric", failover_sender="BOUTIQUE")
    refused = client.post("/api/v1/campaigns", headers=AUTH, json=body)
    assert refused.status_code == 400 and "failover provider brevo" in refused.json["messages"]["media_url"][0]


def test_a_draft_with_an_image_cannot_be_scheduled_once_the_shop_moved_to_a_provider_without_mms(
        app, client, body):
    cid = client.post("/api/v1/campaigns", headers=AUTH, json=body).json["id"]
    choose(app, provider="brevo", sender_kind="alphanumeric", sender="BOUTIQUE")
    refused = client.post(f"/api/v1/campaigns/{cid}/schedule", headers=AUTH, json={"shop": SHOP, "mode": "now"})
    assert refused.status_code == 400 and "provider brevo sends no MMS" in refused.json["messages"]["media_url"][0]
    assert client.get(f"/api/v1/campaigns/{cid}?shop={SHOP}", headers=AUTH).json["status"] == "draft"


def test_an_image_url_must_be_https(client, body):
    refused = client.post("/api/v1/campaigns", headers=AUTH, json={**body, "media_url": "http://boutique.example/a.jpg"})
    assert refused.status_code == 400 and list(refused.json["messages"]) == ["media_url"]
