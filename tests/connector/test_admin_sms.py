"""Admin: the merchant chooses the shop's SMS provider, sender and failover in Settings; a wrong
sender is refused next to its field and nothing is saved; what is saved is the route dispatch uses."""

from __future__ import annotations

from automations.models import ShopSmsSettings
from tests.connector.helpers import make_shop, post_form, sign_in

SHOP = "parlons-test.myshopify.com"
PAGE = "/admin/settings/sms"


def _signed_in(app, client) -> int:  # noqa: ANN001
    shop_id = make_shop(app.extensions["parlons"].db, sms_number="+33757000001", locale="fr")
    assert sign_in(client, SHOP, "test-api-token").status_code == 302
    return shop_id


def test_a_merchant_chooses_brevo_with_an_alphanumeric_sender_and_twilio_as_failover(app, client):
    shop_id = _signed_in(app, client)
    page = client.get(PAGE).get_data(as_text=True)
    assert "Fournisseur SMS" in page and 'value="+33757000001"' in page  # the shop's number until it chooses
    saved = post_form(client, PAGE, PAGE, {"provider": "brevo", "sender_kind": "alphanumeric", "sender": "Lumiere",
                                           "sender_mps": "", "failover_provider": "twilio",
                                           "failover_sender_kind": "number", "failover_sender": "+33757000001"})
    assert saved.status_code == 302
    with app.extensions["parlons"].db.session() as session:
        route = session.get(ShopSmsSettings, shop_id)
        assert (route.provider, route.sender_kind, route.sender, route.sender_mps) == ("brevo", "alphanumeric",
                                                                                      "Lumiere", None)
        assert (route.failover_provider, route.failover_sender) == ("twilio", "+33757000001")
    shown = client.get(PAGE).get_data(as_text=True)
    assert '<option value="brevo" selected>' in shown and 'value="Lumiere"' in shown


def test_a_wrong_sender_is_refused_next_to_its_field_and_nothing_is_saved(app, client):
    shop_id = _signed_in(app, client)
    refused = post_form(client, PAGE, PAGE, {"provider": "twilio", "sender_kind": "number", "sender": "0612345678",
                                             "failover_provider": "vonage", "failover_sender": ""})
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert 'id="f-sender-error" role="alert">must be a number in E.164' in html
    assert 'id="f-failover_sender-error" role="alert">a failover needs both a provider and a sender' in html
    assert 'value="0612345678"' in html  # what was typed stays
    with app.extensions["parlons"].db.session() as session:
        assert session.get(ShopSmsSettings, shop_id) is None
