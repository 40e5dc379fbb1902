"""Rotating PARLONS_ENCRYPTION_KEY: a new key first, `parlons secrets rotate`, then the old key
can go, and every stored token still opens."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from cryptography.fernet import Fernet

from automations.models import Installation
from connector import create_app
from connector.commands.secrets import rotate
from connector.local.sandboxes import start_sandboxes
from connector.shops import forget

SHOP = "rotation.myshopify.com"
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def _app(config, key: str):
    forget()
    return create_app(dataclasses.replace(config, encryption_key=key))


def _stored(app) -> tuple[str, str]:
    with app.extensions["parlons"].db.session() as s:
        inst = s.scalars(sa.select(Installation)).one()
        return inst.access_token_enc, inst.extra["api_secret_enc"]


def test_secrets_written_under_the_old_key_open_with_the_new_key_alone_after_rotation(config, database, redis_conn):
    from connector.clients import shopify_for
    from connector.install import connect_shopify

    boxes = start_sandboxes()
    try:
        config = boxes.configure(config)
        boxes.shopify.add_shop(SHOP, name="Rotation")
        # given a custom-app shop connected while the only key was OLD
        app = _app(config, OLD)
        runtime = app.extensions["parlons"]
        token = boxes.shopify.grant_token(SHOP, expires_in=None)
        with runtime.db.transaction() as s:
            connect_shopify(runtime, s, SHOP, token, api_secret="custom-app-secret")
        before = _stored(app)
        runtime.close()

        # when NEW is put first and the secrets are rotated
        app = _app(config, f"{NEW},{OLD}")
        result = app.test_cli_runner().invoke(rotate, [])
        assert result.exit_code == 0, result.output
        assert '"rewritten": 2' in result.output and '"unreadable": []' in result.output
        after = _stored(app)
        assert after[0] != before[0] and after[1] != before[1]
        # and a second run finds nothing left to do
        again = app.test_cli_runner().invoke(rotate, [])
        assert '"rewritten": 0' in again.output and '"current": 2' in again.output
        app.extensions["parlons"].close()

        # then with OLD dropped the shop still talks to Shopify and its webhook secret opens
        app = _app(config, NEW)
        runtime = app.extensions["parlons"]
        with runtime.db.session() as s:
            from automations.models import Shop

            shop = s.scalars(sa.select(Shop).where(Shop.domain == SHOP)).one()
            assert shopify_for(runtime, s, shop).shop_info()["name"] == "Rotation"
            assert runtime.secrets.decrypt(_stored(app)[1]) == "custom-app-secret"
        runtime.close()
    finally:
        boxes.stop()


def test_a_secret_no_key_opens_is_reported_and_left_as_it_is(app):
    # given a token encrypted under a key the installation no longer has
    runtime = app.extensions["parlons"]
    lost = Fernet(Fernet.generate_key()).encrypt(b"shpat_lost").decode()
    with runtime.db.transaction() as s:
        from tests.connector.helpers import make_shop

        shop_id = make_shop(runtime.db, domain="lost.myshopify.com")
        s.add(Installation(shop_id=shop_id, provider="shopify", access_token_enc=lost))
    # when secrets are rotated
    result = app.test_cli_runner().invoke(rotate, [])
    # then the command fails naming what it could not open, and nothing was overwritten
    assert result.exit_code != 0
    assert "could not be decrypted" in result.output
    assert "installations.access_token_enc#" in result.output
    with runtime.db.session() as s:
        assert s.scalars(sa.select(Installation.access_token_enc)).one() == lost
