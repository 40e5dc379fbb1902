"""Segments: validated like rules, counted in SQL, reachable vs matching, built-ins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from automations import segments
from automations.models import Contact, Link, LinkClick, Message, Order
from automations.segments_sql import Compiler, count, sample

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _contact(session, shop, n: int, **kw) -> Contact:
    values = dict(shop_id=shop.id, phone_e164=f"+3361234{n:04d}", first_name=f"C{n}", locale="fr",
                  consent_status="subscribed", tags=[], orders_count=0, total_spent="0", created_at=NOW)
    values.update(kw)
    contact = Contact(**values)
    session.add(contact)
    session.flush()
    return contact


def _count(session, shop, condition):
    compiler = Compiler(session, shop.id, NOW)
    return count(session, compiler, compiler.where(condition))


def test_a_bad_segment_is_refused_field_by_field(session, shop):
    # given a segment with an unknown field, a wrong operator and a bad value
    body = {"key": "Bad Key", "name": "x", "conditions": {"all": [
        {"field": "contact.shoe_size", "op": "eq", "value": 42},
        {"field": "engagement.clicked", "op": "eq", "value": 3},
        {"field": "commerce.total_spent", "op": "gte", "value": "lots"},
    ]}}
    # when it is validated
    with pytest.raises(segments.MarketingError) as refused:
        segments.validate_definition(session, shop, body)
    # then every mistake is named where it is
    messages = refused.value.messages
    assert "key" in messages
    assert "field" in messages["conditions"]["all"][0]
    assert messages["conditions"]["all"][1]["op"] == ["engagement.clicked takes within_days, exists"]
    assert messages["conditions"]["all"][2]["value"] == ["must be a number"]


def test_count_says_how_many_match_and_why_the_others_are_not_reachable(session, shop):
    # given five French VIP-tagged contacts, in every state
    _contact(session, shop, 1, tags=["VIP"])
    _contact(session, shop, 2, tags=["vip"], consent_status="not_subscribed")
    _contact(session, shop, 3, tags=["vip"], opted_out_at=NOW)
    _contact(session, shop, 4, tags=["vip"], phone_e164=None, phone_error="invalid")
    _contact(session, shop, 5, tags=["vip"], redacted_at=NOW)
    _contact(session, shop, 6, tags=["other"])
    # when the tag segment is counted
    result = _count(session, shop, {"all": [{"field": "contact.tags", "op": "contains", "value": "vip"}]})
    # then five match, one is reachable, and each other one has its reason
    assert result == {"matching": 5, "reachable": 1, "unreachable": {
        "redacted": 1, "opted_out": 1, "invalid_phone": 1, "no_consent": 1}}


def test_commerce_engagement_and_country_conditions(session, shop):
    # given a buyer who clicked yesterday, a lapsed buyer, and a US contact who never bought
    clicker = _contact(session, shop, 1, orders_count=2, total_spent="300.00", last_order_at=NOW - timedelta(days=3))
    _contact(session, shop, 2, orders_count=1, total_spent="40.00", last_order_at=NOW - timedelta(days=200))
    _contact(session, shop, 3, phone_e164="+12025550123")
    message = Message(shop_id=shop.id, contact_id=clicker.id, direction="outbound", kind="marketing",
                      status="delivered", idempotency_key="m1", created_at=NOW - timedelta(days=1))
    session.add(message)
    session.flush()
    link = Link(code="abc", shop_id=shop.id, contact_id=clicker.id, message_id=message.id, target_url="https://x")
    session.add(link)
    session.flush()
    session.add(LinkClick(link_id=link.id, clicked_at=NOW - timedelta(days=1)))
    session.add(Order(shop_id=shop.id, gid="gid://shopify/Order/1", contact_id=clicker.id,
                      data={"line_items": [{"title": "Bougie Ambre", "product_id": "gid://shopify/Product/9"}]}))
    session.flush()
    # then each condition selects the right contacts
    assert _count(session, shop, segments.BUILTIN["engaged"][2])["matching"] == 1
    assert _count(session, shop, segments.BUILTIN["lapsed"][2])["matching"] == 1
    assert _count(session, shop, segments.BUILTIN["never-purchased"][2])["matching"] == 1
    assert _count(session, shop, segments.BUILTIN["vip"][2])["matching"] == 1
    assert _count(session, shop, {"all": [{"field": "contact.country", "op": "eq", "value": "US"}]})["matching"] == 1
    assert _count(session, shop, {"all": [
        {"field": "commerce.bought_product", "op": "eq", "value": "bougie ambre"}]})["matching"] == 1
    assert _count(session, shop, {"all": [
        {"field": "commerce.average_order_value", "op": "gte", "value": 100}]})["matching"] == 1
    assert _count(session, shop, {"all": [{"field": "engagement.clicked", "op": "exists", "value": False}]}
                  )["matching"] == 2


def test_segments_include_and_exclude_others_and_keep_versions(session, shop):
    # given a segment of buyers and one that excludes them
    _contact(session, shop, 1, orders_count=1, total_spent="10")
    _contact(session, shop, 2)
    buyers = segments.create(session, shop, {"key": "acheteurs", "name": "Acheteurs", "conditions": {
        "all": [{"field": "commerce.orders_count", "op": "gte", "value": 1}]}})
    others = segments.create(session, shop, {"key": "autres", "name": "Autres", "conditions": {
        "all": [{"field": "segment", "op": "not_in", "value": [buyers.id]}]}})
    compiler = Compiler(session, shop.id, NOW)
    rows = sample(session, compiler, compiler.where(others.definition), 10)
    assert [r["first_name"] for r in rows] == ["C2"]
    assert rows[0]["phone"].startswith("+336") and "1234" not in rows[0]["phone"]
    # when the first changes, it gets a new version; a segment cannot name itself
    segments.update(session, shop, buyers, {"name": "Acheteurs", "conditions": {
        "all": [{"field": "commerce.orders_count", "op": "gte", "value": 2}]}})
    assert buyers.version == 2
    with pytest.raises(segments.MarketingError):
        segments.update(session, shop, buyers, {"name": "x", "conditions": {
            "all": [{"field": "segment", "op": "in", "value": [buyers.id]}]}})
    # and every shop has the built-in segments, which cannot be changed
    keys = {s.key for s in session.query(segments.Segment).filter_by(shop_id=shop.id, builtin=True)}
    assert keys == set(segments.BUILTIN)
