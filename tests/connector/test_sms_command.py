"""`parlons sms route`: a shop chooses its provider, sender and failover; bad input is refused
field by field and changes nothing."""

from __future__ import annotations

import sqlalchemy as sa

from automations.models import Shop, ShopSmsSettings
from connector.commands.sms import sms

DOMAIN = "route.myshopify.com"


def _shop(app) -> int:
    runtime = app.extensions["parlons"]
    with runtime.db.transaction() as session:
        shop = Shop(domain=DOMAIN)
        session.add(shop)
        session.flush()
        return shop.id


def _settings(app) -> ShopSmsSettings | None:
    with app.extensions["parlons"].db.session() as session:
        return session.scalar(sa.select(ShopSmsSettings))


def test_a_shop_chooses_vonage_with_a_failover_to_brevo(app):
    _shop(app)
    result = app.test_cli_runner().invoke(sms, [
        "route", DOMAIN, "--provider", "vonage", "--sender", "+33757000001", "--mps", "5",
        "--failover", "brevo", "--failover-sender", "BOUTIQUE", "--failover-kind", "alphanumeric"])
    assert result.exit_code == 0, result.output
    saved = _settings(app)
    assert (saved.provider, saved.sender, saved.sender_mps) == ("vonage", "+33757000001", 5.0)
    assert (saved.failover_provider, saved.failover_sender, saved.failover_sender_kind) == (
        "brevo", "BOUTIQUE", "alphanumeric")


def test_bad_routes_are_refused_field_by_field_and_nothing_is_saved(app):
    _shop(app)
    result = app.test_cli_runner().invoke(sms, [
        "route", DOMAIN, "--provider", "carrier-pigeon", "--sender", "PARLONS-TOO-LONG", "--kind", "alphanumeric",
        "--mps", "0", "--failover", "brevo"])
    assert result.exit_code == 2
    assert "provider: Must be one of" in result.output
    assert "sender: must be 1 to 11 letters" in result.output
    assert "sender_mps:" in result.output
    assert "failover_sender: a failover needs both" in result.output
    assert _settings(app) is None
