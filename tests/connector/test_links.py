"""Tracked links: a person's click is recorded and redirected to the target with its UTM tags;
robots and HEAD requests are redirected without counting; an unknown code gets a friendly page."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from automations import engine, rules
from automations.events import ConsentData, ContactData, DomainEvent
from automations.models import Link, LinkClick, Message, Shop

AUTH = {"Authorization": "Bearer test-api-token"}
SHOP = "boutique-liens.myshopify.com"
PHONE = "+33612345678"
BROWSER = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
           "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
IMESSAGE_PREVIEW = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) "
                    "Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0")


@pytest.fixture
def sent_link(app):
    """A marketing SMS composed by the engine for a subscribed contact, with one short link."""
    db = app.extensions["parlons"].db
    at = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    with db.transaction() as session:
        shop = Shop(domain=SHOP, name="Boutique Liens", currency="EUR",
                    settings={"public_url": "https://sms.example.org"})
        session.add(shop)
        session.flush()
        rule = rules.save_rule(session, shop, {
            "key": "nouveautes", "name": "Nouveautés", "trigger": "OrderPlaced", "kind": "marketing",
            "steps": [{"type": "send", "template": "Merci ! Nos nouveautés : https://boutique.example/new?ref=sms"}]})
        outcome = engine.handle_event(session, shop, DomainEvent(
            "OrderPlaced", occurred_at=at, subject_key="gid://shopify/Order/9",
            contact=ContactData(phone=PHONE, first_name="Léa"),
            consent=ConsentData("subscribed", "shopify", at), data={"order_name": "#9"}), now=at)
        [message_id] = outcome.messages
        link = session.scalars(sa.select(Link)).one()
        body = session.get(Message, message_id).body
        return {"code": link.code, "rule_id": rule.id, "message_id": message_id, "body": body, "db": db}


def clicks(db) -> list[LinkClick]:
    with db.session() as session:
        return list(session.scalars(sa.select(LinkClick)))


def test_a_click_is_recorded_and_redirected_to_the_target_with_utm_tags(client, sent_link):
    # given an SMS whose link was shortened by the engine
    assert f"https://sms.example.org/l/{sent_link['code']}" in sent_link["body"]
    # when the customer taps it on their phone
    answer = client.get(f"/l/{sent_link['code']}", headers={"User-Agent": BROWSER})
    # then they land on the shop's page, tagged for the shop's analytics
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    assert (target.netloc, target.path) == ("boutique.example", "/new")
    assert parse_qs(target.query) == {"ref": ["sms"], "utm_source": ["parlons"], "utm_medium": ["sms"],
                                      "utm_campaign": ["nouveautes"]}
    assert answer.headers["Cache-Control"] == "no-store"
    # and the click is recorded with its time and browser
    [click] = clicks(sent_link["db"])
    assert click.user_agent == BROWSER and click.clicked_at is not None


def test_clicks_show_on_the_rule_in_the_api(client, sent_link):
    # given two taps on the link
    for _ in range(2):
        client.get(f"/l/{sent_link['code']}", headers={"User-Agent": BROWSER})
    # when the merchant reads the rule
    answer = client.get(f"/api/v1/rules/{sent_link['rule_id']}?shop={SHOP}", headers=AUTH)
    # then it counts two clicks on one message, and one message not sent yet
    stats = answer.json["stats"]
    assert stats["clicks"] == 2 and stats["clicked_messages"] == 1
    assert stats["messages"] == 1 and stats["sent"] == 0 and stats["by_status"] == {"scheduled": 1}


@pytest.mark.parametrize("method, agent", [
    ("HEAD", BROWSER), ("GET", IMESSAGE_PREVIEW), ("GET", "WhatsApp/2.23.20.0 A"), ("GET", "")])
def test_previews_robots_and_head_requests_are_redirected_but_not_counted(client, sent_link, method, agent):
    # given a messaging app drawing the link's preview card (or a link checker)
    headers = {"User-Agent": agent}
    # when it fetches the short link
    answer = client.open(f"/l/{sent_link['code']}", method=method, headers=headers)
    # then it is redirected like anyone, and no click is counted
    assert answer.status_code == 302 and "utm_source=parlons" in answer.headers["Location"]
    assert clicks(sent_link["db"]) == []


@pytest.mark.parametrize("code", ["nope1234", "x" * 40, "%C3%A9t%C3%A9"])
def test_an_unknown_code_gets_a_friendly_html_page(client, sent_link, code):
    # when someone follows a mistyped or expired link
    answer = client.get(f"/l/{code}", headers={"User-Agent": BROWSER})
    # then they read a short page in French and English, not a JSON error or a crash
    assert answer.status_code == 404
    assert answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    assert "Ce lien n’existe pas ou plus" in page and "This link does not exist" in page
    assert clicks(sent_link["db"]) == []
