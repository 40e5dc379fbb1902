"""The REST API of list growth: keywords checked on save, the page and snippet, QR codes."""

from __future__ import annotations

import io

import segno

from tests.connector.api_helpers import bearer, new_key, seed_shop

SHOP = "alpha.myshopify.com"


def setup(app) -> dict[str, str]:
    db = app.extensions["parlons"].db
    seed_shop(db, SHOP, "+33611111111", "Alice")
    return bearer(new_key(db, SHOP))


def test_the_settings_name_the_page_the_snippet_the_keywords_and_the_legal_texts(app, client):
    headers = setup(app)
    settings = client.get("/api/v1/signup", headers=headers).get_json()
    assert settings["keywords"] == ["JOIN", "INSCRIPTION"]
    assert settings["keyword_links"]["JOIN"] == "sms:+33757000001?body=JOIN"
    assert settings["page_url"] == f"http://127.0.0.1:5000/join/{SHOP}"
    assert f'<script src="http://127.0.0.1:5000/join/{SHOP}/embed.js" async></script>' in settings["embed_snippet"]
    assert settings["legal"]["en"]["version"] == "2026-01"
    assert "Reply STOP at any time" in settings["legal"]["en"]["text"]


def test_keywords_colliding_with_compliance_words_or_answers_are_refused_with_the_reason(app, client):
    headers = setup(app)
    refused = client.patch("/api/v1/signup", headers=headers,
                         json={"keywords": ["SOLDES", "STOP", "ACHETER", "info"]})
    assert refused.status_code == 400
    assert refused.get_json()["messages"] == {"keywords": {
        "1": ["STOP is an opt-out keyword (STOP family)"],
        "2": ["ACHETER is an answer a conversation flow expects"],
        "3": ["info is a help keyword"]}}
    assert client.get("/api/v1/signup", headers=headers).get_json()["keywords"] == ["JOIN", "INSCRIPTION"]
    saved = client.patch("/api/v1/signup", headers=headers, json={"keywords": ["soldes", "Rejoindre"]})
    assert saved.status_code == 200 and saved.get_json()["keywords"] == ["SOLDES", "REJOINDRE"]


def test_qr_codes_for_the_page_and_a_keyword_in_png_and_svg(app, client):
    headers = setup(app)
    png = client.get("/api/v1/signup/qr?format=png&scale=4", headers=headers)
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.headers["Content-Disposition"] == 'attachment; filename="sms-signup-page.png"'
    expected = io.BytesIO()
    segno.make_qr(f"http://127.0.0.1:5000/join/{SHOP}", error="m").save(expected, kind="png", scale=4, border=4)
    assert png.data == expected.getvalue()
    svg = client.get("/api/v1/signup/qr?target=keyword&keyword=inscription&format=svg", headers=headers)
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    expected = io.BytesIO()
    segno.make_qr("sms:+33757000001?body=INSCRIPTION", error="m").save(expected, kind="svg", scale=8, border=4)
    assert svg.data == expected.getvalue()
    unknown = client.get("/api/v1/signup/qr?target=keyword&keyword=SOLDES", headers=headers)
    assert unknown.status_code == 400 and unknown.get_json()["messages"] == {
        "keyword": ["one of the shop's keywords: JOIN, INSCRIPTION"]}


def test_welcome_codes_legal_texts_and_the_price_drop_share_are_checked_and_saved(app, client):
    headers = setup(app)
    bad = client.patch("/api/v1/signup", headers=headers, json={
        "welcome_code": {"percentage": 150, "prefix": "bienvenue!"}, "legal": {"fr": "trop court"},
        "price_drop_share": 2})
    assert bad.status_code == 400
    assert bad.get_json()["messages"] == {
        "welcome_code": {"percentage": ["Must be greater than or equal to 1 and less than or equal to 100."],
                         "prefix": ["1 to 20 capital letters or digits"]},
        "legal": {"fr": ["Length must be between 20 and 1000."], "version": ["Missing data for required field."]},
        "price_drop_share": ["Must be greater than or equal to 0.01 and less than or equal to 0.9."]}
    legal = "Oui, je veux les SMS de {brand} ({frequency}). STOP pour arrêter."
    saved = client.patch("/api/v1/signup", headers=headers, json={
        "welcome_code": {"percentage": 15}, "legal": {"fr": legal, "version": "2026-03"}, "price_drop_share": 0.2})
    settings = saved.get_json()
    assert settings["welcome_code"] == {"percentage": 15.0, "prefix": "BIENVENUE", "days": 30}
    assert settings["legal"]["fr"] == {"text": "Oui, je veux les SMS de Boutique Alice (jusqu'à 4 SMS par semaine). "
                                               "STOP pour arrêter.", "version": "2026-03"}
    assert settings["legal"]["en"]["text"].startswith("By entering my number")  # no English text given: default
    assert settings["price_drop_share"] == 0.2
    # and null turns welcome codes off again
    off = client.patch("/api/v1/signup", headers=headers, json={"welcome_code": None}).get_json()
    assert off["welcome_code"] is None and off["keywords"] == ["JOIN", "INSCRIPTION"]
