"""Admin: the sign-up tab gives the merchant the page, the embed snippet, each keyword's link, and
QR codes to download that decode to those addresses."""

from __future__ import annotations

import struct

import sqlalchemy as sa

from automations.models import Shop
from tests.connector.helpers import make_shop, sign_in

SHOP = "parlons-test.myshopify.com"


def _signed_in(app, client, **shop_fields):  # noqa: ANN001, ANN202
    make_shop(app.extensions["parlons"].db, **shop_fields)
    assert sign_in(client, SHOP, "test-api-token").status_code == 302


def test_the_sign_up_tab_shows_the_page_the_snippet_and_each_keyword_with_its_qr_codes(app, client):
    _signed_in(app, client, sms_number="+33757000001", locale="fr")
    page = client.get("/admin/settings/signup")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Page d&#39;inscription" in html and f"http://127.0.0.1:5000/join/{SHOP}" in html
    assert "<script" in html.split('id="f-snippet"')[1].split("</textarea>")[0].replace("&lt;script", "<script")
    for word in ("JOIN", "INSCRIPTION"):
        assert f'data-keyword="{word}"' in html and f"sms:+33757000001?body={word}" in html
    png = client.get("/admin/settings/signup/qr.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert 'filename="sms-signup-page.png"' in png.headers["Content-Disposition"]
    assert png.data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">I", png.data[16:20])[0] > 100  # IHDR width
    svg = client.get("/admin/settings/signup/qr.svg?keyword=JOIN")
    assert svg.status_code == 200 and svg.data.startswith(b"<?xml") and b"<svg" in svg.data


def test_no_qr_code_for_a_word_that_is_not_the_shop_s_keyword_nor_before_sign_in(app, client):
    assert client.get("/admin/settings/signup/qr.png").status_code in (302, 401)
    _signed_in(app, client, sms_number="+33757000001")
    assert client.get("/admin/settings/signup/qr.png?keyword=STOP").status_code == 404
    assert client.get("/admin/settings/signup/qr.gif").status_code == 404
    with app.extensions["parlons"].db.transaction() as session:
        session.scalar(sa.select(Shop)).sms_number = None
    assert client.get("/admin/settings/signup/qr.png?keyword=JOIN").status_code == 404
