"""Composition: what a merchant previews is what the recipient receives, with its cost and time.

Also covers the pieces composition is built from that have no test module of their own:
the shop policy settings and the link helpers.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, time
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from automations.compose import compose
from automations.links import add_utm, find_urls, new_code, rewrite_links, short_link
from automations.policy import SendWindow, ShopPolicy

PARIS = ZoneInfo("Europe/Paris")
TUESDAY_10H = datetime(2026, 3, 10, 10, 0, tzinfo=PARIS)


class Shortener:
    """Stands in for the connector's link store: records what it was asked to shorten."""

    def __init__(self, public_url: str = "https://parlons.example") -> None:
        self.public_url = public_url
        self.stored: dict[str, str] = {}

    def __call__(self, url: str) -> str:
        code = new_code()
        self.stored[code] = url
        return short_link(self.public_url, code)


# --- compose ---------------------------------------------------------------------------------


def test_marketing_preview_adds_the_stop_footer_and_counts_what_is_sent():
    # given a short French marketing text
    result = compose("Soldes -30% ce week-end !", policy=ShopPolicy())
    data = result.to_json()
    # then the body carries the footer and the count is of the full body
    assert data["body"] == "Soldes -30% ce week-end !\nRépondez STOP pour vous désabonner"
    assert data["footer_added"] is True
    assert (data["encoding"], data["segments"]) == ("GSM-7", 1)
    assert data["characters"] == len(data["body"])
    assert data["non_gsm_characters"] == []
    # and without a recipient there is no send time or cost
    assert data["to"] is None and data["send_at"] is None and data["cost"] is None


def test_raw_counts_the_text_exactly_as_given():
    text = "Bonjour l’équipe https://x.fr/a"
    result = compose(text, raw=True, smart=True, shorten=Shortener())
    assert result.body == text
    assert result.footer_added is False and result.links == [] and not result.smart_encoded
    assert result.info.encoding == "UCS-2"
    assert result.to_json()["non_gsm_characters"] == ["’"]


def test_transactional_gets_no_footer():
    result = compose("Votre commande #1001 est expédiée.", marketing=False)
    assert result.body == "Votre commande #1001 est expédiée."
    assert result.footer_added is False


def test_footer_can_tip_a_message_into_a_second_segment():
    # given a 150-character text: alone it fits one SMS, with the footer it needs two
    text = "a" * 150
    assert compose(text, raw=True).info.segments == 1
    assert compose(text).info.segments == 2


def test_with_a_recipient_the_preview_says_when_and_how_much():
    # given a French mobile on a Tuesday at 10:00
    result = compose("Soldes !", to="+33 6 12 34 56 78", at=TUESDAY_10H)
    data = result.to_json()
    # then it goes now, to France, at the French price
    assert data["to"] == "+33612345678"
    assert data["country"] == "FR" and data["timezone"] == "Europe/Paris"
    assert data["send_at"] == "2026-03-10T10:00:00+01:00"
    assert data["deferred_reason"] is None
    assert data["cost"] == "0.0750" and data["currency"] == "EUR"


def test_a_marketing_message_on_sunday_is_deferred_with_its_reason():
    sunday = datetime(2026, 3, 15, 11, 0, tzinfo=PARIS)
    data = compose("Soldes !", to="0612345678", at=sunday).to_json()
    assert data["send_at"] == "2026-03-16T08:00:00+01:00"
    assert data["deferred_reason"] == "Sunday"


def test_cost_follows_segments_and_country():
    # given a UCS-2 text of 100 characters (two segments) to a US number
    data = compose("ô" * 100, to="+12125551234", at=TUESDAY_10H, raw=True).to_json()
    assert data["segments"] == 2
    assert data["country"] == "US"
    assert Decimal(data["cost"]) == 2 * Decimal(data["price_per_segment"])


def test_invalid_recipient_is_refused():
    with pytest.raises(ValueError, match="invalid phone number"):
        compose("Hello", to="+33 12")
    with pytest.raises(ValueError, match="invalid phone number"):
        compose("Hello", to="not a number")


def test_smart_encoding_turns_a_typographic_text_back_into_one_gsm_sms():
    # given a 120-character text pasted from a word processor (one apostrophe makes it UCS-2)
    text = "Léa, l’offre de printemps est là : -20 % sur toute la boutique avec le code PRINTEMPS" \
        + " jusqu'à dimanche"
    plain = compose(text, marketing=False, smart=False)
    smart = compose(text, marketing=False, smart=True)
    # then smart encoding saves a segment and says it changed the text
    assert (plain.info.encoding, plain.info.segments) == ("UCS-2", 2)
    assert (smart.info.encoding, smart.info.segments) == ("GSM-7", 1)
    assert smart.smart_encoded and "l'offre" in smart.body


def test_smart_encoding_follows_the_shop_policy_by_default():
    text = "C’est parti"
    assert compose(text, policy=ShopPolicy(smart_encoding=True), marketing=False).body == "C'est parti"
    assert compose(text, marketing=False).body == text


def test_smart_encoding_is_not_kept_when_it_would_cost_a_segment():
    # given a text that stays UCS-2 (ô) where "…" -> "..." would push it past 70 units
    text = "ô" * 68 + "…"
    result = compose(text, marketing=False, smart=True)
    assert result.body == text and not result.smart_encoded
    assert result.info.segments == 1


def test_links_are_shortened_before_counting_and_reported():
    # given a long product link and a shortener writing to the shop's public URL
    shortener = Shortener()
    long_url = "https://boutique.example/products/sac-mila-cuir-camel?variant=4455667788&ref=x"
    result = compose(f"Votre sac vous attend : {long_url}.", shorten=shortener)
    # then the body carries the short link, the original is recorded, and counts follow
    assert long_url not in result.body
    [(original, short)] = result.links
    assert original == long_url and short in result.body
    assert re.fullmatch(r"https://parlons\.example/l/[A-Za-z0-9_-]{8}", short)
    assert shortener.stored[short.rsplit("/", 1)[1]] == long_url
    assert result.to_json()["links"] == [{"original": long_url, "short": short}]


def test_links_already_on_the_public_url_are_not_shortened_again():
    policy = ShopPolicy(public_url="https://parlons.example")
    body = "Suivi : https://parlons.example/l/AbCdEfGh"
    assert compose(body, policy=policy, shorten=Shortener(), marketing=False).body == body


def test_composition_json_is_serialisable():
    data = compose("Salut 🙂", to="+33612345678", at=TUESDAY_10H, shorten=Shortener()).to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["encoding"] == "UCS-2" and data["non_gsm_characters"] == ["🙂"]


# --- links -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "urls"),
    [
        ("Voir https://x.fr/a?b=1. Merci", ["https://x.fr/a?b=1"]),
        ("Lien : https://x.fr/p, et (https://x.fr/q) !", ["https://x.fr/p", "https://x.fr/q"]),
        ("Ici https://x.fr/c :", ["https://x.fr/c"]),
        ("«https://x.fr/g»", ["https://x.fr/g"]),
        ("https://en.wikipedia.org/wiki/Foo_(bar) ok", ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
        ("ftp://x.fr www.x.fr http:// rien", []),
    ],
)
def test_urls_are_found_without_trailing_punctuation(body, urls):
    assert find_urls(body) == urls


def test_add_utm_keeps_existing_parameters_and_fragment():
    url = add_utm("https://x.fr/p?color=red&utm_source=insta#avis", campaign="soldes-mars")
    parts = urlsplit(url)
    assert parse_qs(parts.query) == {
        "color": ["red"], "utm_source": ["insta"], "utm_medium": ["sms"],
        "utm_campaign": ["soldes-mars"],
    }
    assert parts.fragment == "avis"
    assert add_utm("https://x.fr") == "https://x.fr?utm_source=parlons&utm_medium=sms"


def test_rewrite_links_shortens_each_distinct_url_once():
    calls = []

    def shorten(url: str) -> str:
        calls.append(url)
        return f"https://s.io/l/{len(calls)}"

    body, pairs = rewrite_links("A https://x.fr/1 B https://x.fr/2, C https://x.fr/1.", shorten)
    assert body == "A https://s.io/l/1 B https://s.io/l/2, C https://s.io/l/1."
    assert pairs == [("https://x.fr/1", "https://s.io/l/1"), ("https://x.fr/2", "https://s.io/l/2")]
    assert calls == ["https://x.fr/1", "https://x.fr/2"]


def test_new_codes_are_short_url_safe_and_random():
    codes = {new_code() for _ in range(1000)}
    assert len(codes) == 1000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{8}", c) for c in codes)


# --- policy settings -------------------------------------------------------------------------


def test_default_policy_is_a_french_shop():
    policy = ShopPolicy()
    assert (policy.default_region, policy.timezone, policy.locale) == ("FR", "Europe/Paris", "fr")
    assert (policy.marketing_cap_24h, policy.marketing_cap_7d) == (1, 4)
    assert policy.smart_encoding is False and policy.hold_transactional_in_window is False
    assert policy.footer_texts()["fr"] == "Répondez STOP pour vous désabonner"
    assert ShopPolicy(short_code="36111").footer_texts()["fr"] == "STOP au 36111"


def test_settings_round_trip_through_json():
    policy = ShopPolicy(
        sender_name="Lune", short_code="36111", opt_out_footers={"en": "Text STOP to quit"},
        window_overrides={"FR": SendWindow(time(9), time(19), frozenset(range(5)))},
        marketing_cap_7d=None, prices={"FR": Decimal("0.05")}, public_url="https://p.example",
    )
    settings = json.loads(json.dumps(policy.to_settings()))
    assert ShopPolicy.from_settings(settings) == policy
    assert settings["window_overrides"]["FR"] == {
        "start": "09:00", "end": "19:00", "days": ["mon", "tue", "wed", "thu", "fri"],
        "no_public_holidays": False,
    }


def test_unknown_settings_are_ignored_and_missing_ones_default():
    assert ShopPolicy.from_settings({"future_option": 1}) == ShopPolicy()
    assert ShopPolicy.from_settings(None) == ShopPolicy()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("timezone", "Mars/Olympus"),
        ("default_region", "France"),
        ("marketing_cap_24h", -1),
        ("marketing_cap_7d", "4"),
        ("smart_encoding", "yes"),
        ("default_window", {"start": "20:00", "end": "08:00"}),
        ("default_window", {"start": "8h", "end": "20:00"}),
        ("window_overrides", {"FR": {"start": "08:00", "end": "20:00", "days": ["dim"]}}),
        ("window_overrides", {"FR": {"start": "08:00", "end": "20:00", "days": ["sun"]}}),
        ("window_overrides", {"US": {"start": "21:00", "end": "23:00"}}),
        ("opt_out_footers", ["STOP"]),
        ("currency", "euros"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(key, value):
    with pytest.raises(ValueError, match=key):
        ShopPolicy.from_settings({key: value})
