"""No personal data in logs: the whole journey (an order ships, the SMS goes out and is
delivered, the customer answers STOP, a text arrives from a stranger, a broken phone number)
logged at DEBUG by every library, then scanned for phones, emails and tokens."""

from __future__ import annotations

import logging
import re

import pytest

from connector.logs import mask
from tests.connector.conftest import SHOP
from tests.connector.test_end_to_end import PHONE, shipped_payload

EMAIL = "camille.durand@example.fr"
STRANGER = "+33698765432"
NO_SHOP_NUMBER = "+33700000999"
UNMASKED = {
    "phone": re.compile(r"(?:\+|%2B)\d{8,15}\b"),
    "email": re.compile(r"[A-Za-z0-9._%+\-]{2,}@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"),
    "token": re.compile(r"shpat_[A-Za-z0-9]{6,}|pat-(?:na|eu)\d+-[A-Za-z0-9\-]{6,}|Bearer [A-Za-z0-9]|gAAAAA[A-Za-z0-9_\-]{6,}"),
}


@pytest.mark.parametrize("text, hidden", [
    ("to +33612345678 now", "+33612345678"),
    ("To=%2B33612345678&x", "33612345678"),
    ("tel 06 12 34 56 78", "12 34 56"),
    ("from camille.durand@example.fr", "camille.durand"),
    ("Authorization: Bearer pat-na1-0a1b2c3d-4e5f", "0a1b2c3d"),
    ("token shpat_0123456789abcdef", "0123456789"),
])
def test_a_log_line_keeps_no_phone_email_or_secret(text, hidden):
    assert hidden not in mask(text)


def test_the_logs_of_a_whole_journey_hold_no_phone_email_or_token(live, caplog):
    caplog.set_level(logging.DEBUG)
    boxes, url = live.boxes, live.url
    secret = live.runtime.config.shopify_api_secret
    # given an order shipped to a customer with a phone and an email
    payload = shipped_payload()
    payload["email"] = EMAIL
    boxes.shopify.emit_webhook("fulfillments/create", payload, f"{url}/webhooks/shopify", secret, shop=SHOP)
    live.work()
    boxes.twilio.deliver_pending()
    # and a broken number, a reply STOP, and a text from a number no shop uses
    broken = shipped_payload(phone="06 12 34 5", name="#1043.1")
    broken.update(id=999001, admin_graphql_api_id="gid://shopify/Fulfillment/999001")
    boxes.shopify.emit_webhook("fulfillments/create", broken, f"{url}/webhooks/shopify", secret, shop=SHOP)
    boxes.twilio.send_inbound(PHONE, live.runtime.config.twilio_from, "STOP")
    boxes.twilio.send_inbound(STRANGER, NO_SHOP_NUMBER, "bonjour", f"{url}/webhooks/twilio/inbound")
    live.work()
    # then the journey was logged (the number no shop uses appears, masked) ...
    text = "\n".join(r.getMessage() + ("\n" + r.exc_text if r.exc_text else "") for r in caplog.records)
    assert mask(NO_SHOP_NUMBER) in text
    # ... and no line holds a phone, an email or a token in clear
    found = {kind: sorted(set(pattern.findall(text))) for kind, pattern in UNMASKED.items()}
    assert found == {"phone": [], "email": [], "token": []}
