"""Campaigns: scheduling refusals, one message per recipient, throttle, pause/resume/cancel,
a segment changing mid-send, A/B winner with its test, attribution of orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from automations import attribution, campaign_ab, campaign_send, campaigns, segments
from automations.campaign_estimate import estimate
from automations.campaign_report import campaign_report
from automations.models import (
    Attribution,
    CampaignRecipient,
    Contact,
    Link,
    LinkClick,
    Message,
    Order,
)

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Paris


def _people(session, shop, n: int, **kw) -> list[Contact]:
    made = []
    first = session.scalar(sa.select(sa.func.count()).select_from(Contact))
    for i in range(first, first + n):
        values = dict(shop_id=shop.id, phone_e164=f"+336{20000000 + i}", first_name=f"Zoé{i}", locale="fr",
                      consent_status="subscribed", tags=["vip"])
        contact = Contact(**{**values, **kw})
        session.add(contact)
        made.append(contact)
    session.flush()
    return made


def _vip(session, shop):
    return segments.create(session, shop, {"key": "vip-tag", "name": "VIP", "conditions": {
        "all": [{"field": "contact.tags", "op": "contains", "value": "vip"}]}})


def _campaign(session, shop, segment, **kw):
    body = {"name": "Vente flash", "audience": {"include": [segment.id]},
            "variants": [{"templates": {"fr": "{{ first_name }}, -20% ce soir : https://boutique.example/flash"}}]}
    body.update(kw)
    return campaigns.create(session, shop, body)


def _messages(session, campaign):
    return list(session.scalars(sa.select(Message).join(CampaignRecipient, CampaignRecipient.message_id == Message.id)
                                .where(CampaignRecipient.campaign_id == campaign.id).order_by(Message.id)
                                .execution_options(populate_existing=True)))


def test_bad_campaigns_and_schedules_are_refused_with_the_reason(session, shop):
    segment = _vip(session, shop)
    with pytest.raises(segments.MarketingError) as bad:
        campaigns.create(session, shop, {"name": "", "audience": {"include": [999]}, "variants": [
            {"templates": {"fr": "{{ first_name "}}]})
    assert set(bad.value.messages) == {"name", "variants"}
    campaign = _campaign(session, shop, segment)
    # an empty audience
    with pytest.raises(segments.MarketingError) as empty:
        campaign_send.schedule(session, shop, campaign, {"mode": "now"}, NOW)
    assert empty.value.messages == {"audience": ["no contact matches this audience"]}
    # an unreachable one
    _people(session, shop, 2, consent_status="not_subscribed")
    with pytest.raises(segments.MarketingError) as unreachable:
        campaign_send.schedule(session, shop, campaign, {"mode": "now"}, NOW)
    assert "no consent: 2" in unreachable.value.messages["audience"][0]
    # a time in the past
    _people(session, shop, 1)
    with pytest.raises(segments.MarketingError) as past:
        campaign_send.schedule(session, shop, campaign, {"mode": "at", "at": "2026-12-01T10:00:00"}, NOW)
    assert past.value.messages == {"at": ["is in the past"]}


def test_a_campaign_composes_one_message_per_recipient_with_its_link_and_footer(session, shop):
    people = _people(session, shop, 5)
    campaign = _campaign(session, shop, _vip(session, shop))
    found = estimate(session, shop, campaign, NOW)
    assert found["reachable"] == 5 and found["cost_by_country"][0]["country"] == "FR"
    assert found["variants"][0]["locales"]["fr"]["segments"] == 1
    campaign_send.schedule(session, shop, campaign, {"mode": "now"}, NOW)
    assert campaign_send.start(session, campaign, NOW)
    assert not campaign_send.start(session, campaign, NOW)  # a second worker does nothing
    # a contact who joins after the start does not get it
    _people(session, shop, 1)
    assert campaign_send.compose_batch(session, shop, campaign, NOW) == 5
    assert campaign_send.compose_batch(session, shop, campaign, NOW) == 0
    sent = _messages(session, campaign)
    assert len(sent) == 5 and {m.contact_id for m in sent} == {p.id for p in people}
    assert sent[0].body.startswith("Boutique Lumière: Zoé0, -20% ce soir : https://sms.example.org/l/")
    assert "STOP" in sent[0].body and sent[0].kind == "marketing" and sent[0].status == "scheduled"
    assert session.scalar(sa.select(sa.func.count()).select_from(Link).where(Link.message_id == sent[0].id)) == 1


def test_throttle_spreads_the_messages_and_pause_resume_cancel_keep_who_got_it(session, shop):
    _people(session, shop, 10)
    campaign = _campaign(session, shop, _vip(session, shop), throttle_hours=5)
    campaign_send.schedule(session, shop, campaign, {"mode": "now"}, NOW)
    campaign_send.start(session, campaign, NOW)
    # at the start only the first few minutes' share is composed
    assert campaign_send.compose_batch(session, shop, campaign, NOW) == 1
    assert campaign_send.compose_batch(session, shop, campaign, NOW + timedelta(minutes=29)) == 1
    later = NOW + timedelta(hours=1)
    assert campaign_send.compose_batch(session, shop, campaign, later) == 1
    times = [m.send_at for m in _messages(session, campaign)]
    assert times[1] - times[0] == timedelta(minutes=30)  # 10 messages over 5 hours
    # pause: what has not left goes back to the recipients to do; the one already sent stays sent
    first = _messages(session, campaign)[0]
    first.status = "sent"
    campaigns.pause(session, campaign, later)
    todo = session.scalars(sa.select(CampaignRecipient.status).where(CampaignRecipient.campaign_id == campaign.id))
    assert sorted(todo) == ["pending"] * 9 + ["queued"]
    assert campaign_send.compose_batch(session, shop, campaign, later) == 0 or campaign.status != "sending"
    campaigns.resume(session, campaign, later + timedelta(hours=1))
    assert campaign.started_at == NOW + timedelta(hours=1)
    campaign_send.compose_batch(session, shop, campaign, later + timedelta(hours=1))
    # cancel: waiting messages cancelled, the rest skipped, nobody composed twice
    campaigns.cancel(session, campaign, later + timedelta(hours=1))
    statuses = sorted(m.status for m in _messages(session, campaign))
    assert statuses.count("sent") == 1 and set(statuses) <= {"sent", "cancelled"}
    counts = campaigns.progress(session, campaign)
    assert counts["to_compose"] == 0 and counts["sent"] == 1
    per_contact = session.execute(sa.select(Message.contact_id, sa.func.count()).where(
        Message.status != "cancelled", Message.kind == "marketing").group_by(Message.contact_id)).all()
    assert all(n == 1 for _, n in per_contact)


def test_a_contact_who_leaves_the_segment_mid_send_does_not_get_it(session, shop):
    people = _people(session, shop, 3)
    campaign = _campaign(session, shop, _vip(session, shop))
    campaign_send.schedule(session, shop, campaign, {"mode": "local", "date": "2026-12-08", "time": "10:00"}, NOW)
    campaign_send.start(session, campaign, NOW + timedelta(hours=12))
    people[0].tags = []  # left before composing
    campaign_send.compose_batch(session, shop, campaign, NOW + timedelta(hours=12))
    messages = _messages(session, campaign)
    assert len(messages) == 2
    assert messages[0].send_at == datetime(2026, 12, 8, 9, 0, tzinfo=UTC)  # 10:00 in Paris
    people[1].tags = ["other"]  # left after composing, before the message leaves
    session.flush()
    assert campaign_send.recheck(session, campaign, NOW + timedelta(hours=13)) == 1
    assert sorted(m.status for m in _messages(session, campaign)) == ["cancelled", "scheduled"]


def test_ab_winner_by_clicks_goes_to_the_remainder_with_its_z_test(session, shop):
    _people(session, shop, 200)
    campaign = _campaign(session, shop, _vip(session, shop), variants=[
        {"templates": {"fr": "A {{ first_name }} https://boutique.example/a"}},
        {"templates": {"fr": "B {{ first_name }} https://boutique.example/b"}}],
        ab={"mode": "winner", "test_share": 40, "metric": "clicks", "after_hours": 2})
    campaign_send.schedule(session, shop, campaign, {"mode": "now"}, NOW)
    campaign_send.start(session, campaign, NOW)
    while campaign_send.compose_batch(session, shop, campaign, NOW):
        pass
    test_group = _messages(session, campaign)
    assert 60 <= len(test_group) <= 100  # 40% of 200
    for message in test_group:
        message.status, message.sent_at = "delivered", NOW
        if ": B " in message.body:
            link = session.scalar(sa.select(Link).where(Link.message_id == message.id))
            session.add(LinkClick(link_id=link.id, clicked_at=NOW + timedelta(minutes=5)))
    session.flush()
    assert campaign_ab.pick_winner(session, campaign, NOW + timedelta(hours=1)) is None  # too early
    result = campaign_ab.pick_winner(session, campaign, NOW + timedelta(hours=2))
    assert result["winner"] == "B" and result["significant"] and result["p_value"] < 0.001
    assert result["test"].startswith("two-proportion z-test")
    while campaign_send.compose_batch(session, shop, campaign, NOW + timedelta(hours=2)):
        pass
    rest = _messages(session, campaign)[len(test_group):]
    assert len(rest) == 200 - len(test_group) and all(": B " in m.body for m in rest)


def test_z_test_of_equal_rates_is_noise():
    z, p = campaign_ab.z_test(10, 100, 11, 100)
    assert abs(z) < 1 and p > 0.5


def test_orders_are_attributed_once_to_the_last_click_else_receipt_and_cancellations_reverse(session, shop):
    clicker, receiver, stranger = _people(session, shop, 3)
    campaign = _campaign(session, shop, _vip(session, shop))
    campaign_send.schedule(session, shop, campaign, {"mode": "now"}, NOW)
    campaign_send.start(session, campaign, NOW)
    campaign_send.compose_batch(session, shop, campaign, NOW)
    for message in _messages(session, campaign):
        message.status, message.sent_at = "delivered", NOW
    link = session.scalar(sa.select(Link).where(Link.contact_id == clicker.id))
    session.add(LinkClick(link_id=link.id, clicked_at=NOW + timedelta(days=2)))
    orders = [Order(shop_id=shop.id, gid=f"gid://shopify/Order/{i}", contact_id=c.id, created_at=at,
                    data={"total_price": "120.00", "currency": "EUR"})
              for i, (c, at) in enumerate([(clicker, NOW + timedelta(days=3)), (receiver, NOW + timedelta(hours=5)),
                                           (stranger, NOW + timedelta(days=3))])]
    session.add_all(orders)
    session.flush()
    assert attribution.attribute_orders(session, shop, NOW + timedelta(days=3)) == {"attributed": 2, "reversed": 0}
    assert attribution.attribute_orders(session, shop, NOW + timedelta(days=3)) == {"attributed": 0, "reversed": 0}
    methods = dict(session.execute(sa.select(Attribution.contact_id, Attribution.method)).all())
    assert methods == {clicker.id: "click", receiver.id: "receipt"}
    report = campaign_report(session, campaign)
    assert (report["orders"], report["revenue"], report["unique_clicks"]) == (2, "240.00", 1)
    orders[1].status = "cancelled"
    session.flush()
    assert attribution.attribute_orders(session, shop, NOW + timedelta(days=3))["reversed"] == 1
    report = campaign_report(session, campaign)
    assert (report["orders"], report["revenue"]) == (1, "120.00")
    assert report["roi"] > 100 and report["by_day"][0]["sent"] == 3
