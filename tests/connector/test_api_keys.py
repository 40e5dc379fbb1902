"""Per-shop API keys: made by the operator or a read-write key of the shop, shown once, stored
hashed; a key sees its own shop only, a read key cannot write, a revoked key is refused."""

from __future__ import annotations

import sqlalchemy as sa

from automations.models import ApiKey
from tests.connector.api_helpers import OPERATOR, bearer, new_key, seed_shop

A, B = "alpha.myshopify.com", "beta.myshopify.com"


def test_the_operator_makes_a_key_that_is_shown_once_and_kept_hashed(app, client):
    db = app.extensions["parlons"].db
    seed_shop(db, A, "+33611111111", "Alice")
    # when the operator makes a read key for shop A
    made = client.post("/api/v1/api-keys", headers=OPERATOR, json={"shop": A, "name": "Tableau de bord", "scope": "read"})
    # then the whole key is in that answer, and only there
    assert made.status_code == 201, made.json
    key = made.json["key"]
    assert key.startswith(made.json["prefix"] + "_") and made.json["scope"] == "read"
    listed = client.get(f"/api/v1/api-keys?shop={A}", headers=OPERATOR).json["data"]
    assert {k["name"] for k in listed} == {"Tableau de bord", "Alice ERP"}
    assert key not in str(listed) and all("key" not in k for k in listed)
    # and the database holds its hash, never the key
    with db.session() as s:
        row = s.scalar(sa.select(ApiKey).where(ApiKey.prefix == made.json["prefix"]))
    assert row.key_hash != key and key not in row.key_hash and row.created_by == "operator"
    # and the key reads its shop's rules
    rules = client.get("/api/v1/rules", headers=bearer(key))
    assert rules.status_code == 200 and rules.json["rules"][0]["shop"] == A
    assert client.get(f"/api/v1/api-keys/{made.json['id']}?shop={A}", headers=OPERATOR).json["last_used_at"]


def test_a_read_key_reads_but_cannot_write(app, client):
    db = app.extensions["parlons"].db
    alpha = seed_shop(db, A, "+33611111111", "Alice")
    key = new_key(db, A, "read")
    rule = alpha.ids["rule_id"]
    assert client.get(f"/api/v1/rules/{rule}", headers=bearer(key)).status_code == 200
    # a POST that only reads is allowed
    preview = client.post("/api/v1/messages/preview", headers=bearer(key), json={"text": "Bonjour"})
    assert preview.status_code == 200
    # when it tries to change something, or to manage keys
    for method, url, body in (("post", f"/api/v1/rules/{rule}/disable", None),
                              ("put", f"/api/v1/rules/{rule}", {"name": "x"}),
                              ("post", "/api/v1/api-keys", {"name": "more", "scope": "read_write"}),
                              ("get", "/api/v1/api-keys", None)):
        answer = getattr(client, method)(url, headers=bearer(key), json=body)
        # then it is refused and says why
        assert answer.status_code == 403, (method, url, answer.json)
        assert answer.json["error"] == "forbidden" and "read" in answer.json["message"]
    assert client.get(f"/api/v1/rules/{rule}", headers=bearer(key)).json["enabled"] is True


def test_a_read_write_key_manages_its_own_shops_keys_only(app, client):
    db = app.extensions["parlons"].db
    seed_shop(db, A, "+33611111111", "Alice")
    beta = seed_shop(db, B, "+33622222222", "Bruno")
    key = new_key(db, A)
    # it makes a key of its own shop
    made = client.post("/api/v1/api-keys", headers=bearer(key), json={"name": "Zapier", "scope": "read"})
    assert made.status_code == 201 and made.json["created_by"].startswith("key:")
    # but not one of another shop, and it cannot see nor revoke another shop's keys
    other = client.post("/api/v1/api-keys", headers=bearer(key), json={"shop": B, "name": "x", "scope": "read"})
    assert other.status_code == 404 and "shop" in other.json["messages"]
    assert client.delete(f"/api/v1/api-keys/{beta.ids['key_id']}", headers=bearer(key)).status_code == 404
    assert client.get(f"/api/v1/api-keys/{beta.ids['key_id']}", headers=bearer(key)).status_code == 404


def test_a_revoked_key_is_refused_at_once(app, client):
    db = app.extensions["parlons"].db
    seed_shop(db, A, "+33611111111", "Alice")
    key = new_key(db, A)
    made = client.post("/api/v1/api-keys", headers=bearer(key), json={"name": "Stagiaire", "scope": "read"}).json
    assert client.get("/api/v1/rules", headers=bearer(made["key"])).status_code == 200
    # when it is revoked
    revoked = client.delete(f"/api/v1/api-keys/{made['id']}", headers=bearer(key))
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    # then the next request with it is 401 and says it was revoked
    answer = client.get("/api/v1/rules", headers=bearer(made["key"]))
    assert answer.status_code == 401 and "revoked" in answer.json["message"]
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    # and the list tells live keys from revoked ones
    live = client.get("/api/v1/api-keys?revoked=false", headers=bearer(key)).json["data"]
    assert made["id"] not in [k["id"] for k in live]


def test_no_key_a_wrong_key_or_a_forged_one_is_401(app, client):
    db = app.extensions["parlons"].db
    seed_shop(db, A, "+33611111111", "Alice")
    key = new_key(db, A)
    forged = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")  # right prefix, wrong secret
    for headers in ({}, {"Authorization": "Bearer nope"}, bearer(forged), {"Authorization": key}):
        answer = client.get("/api/v1/rules", headers=headers)
        assert answer.status_code == 401 and answer.json["error"] == "unauthorized", headers


def test_the_operator_names_the_shop_and_a_key_need_not(app, client):
    db = app.extensions["parlons"].db
    seed_shop(db, A, "+33611111111", "Alice")
    key = new_key(db, A)
    assert client.get("/api/v1/messages", headers=OPERATOR).json["messages"] == {"shop": [
        "the shop's domain is required (?shop=… or \"shop\" in the body)"]}
    assert client.get(f"/api/v1/messages?shop={A}", headers=OPERATOR).status_code == 200
    assert client.get("/api/v1/messages", headers=bearer(key)).status_code == 200
    assert client.get(f"/api/v1/messages?shop={A.upper()}", headers=bearer(key)).status_code == 200
    # a key naming a shop that does not exist and one naming another shop get the same answer
    unknown = client.get("/api/v1/messages?shop=nowhere.myshopify.com", headers=bearer(key))
    seed_shop(db, B, "+33622222222", "Bruno")
    other = client.get(f"/api/v1/messages?shop={B}", headers=bearer(key))
    assert unknown.status_code == other.status_code == 404
    assert unknown.json["messages"]["shop"][0].replace("nowhere", "beta") == other.json["messages"]["shop"][0]


def test_the_operator_manages_keys_from_the_command_line(app, client):
    from connector.commands.api_keys import api_keys

    db = app.extensions["parlons"].db
    seed_shop(db, A, "+33611111111", "Alice")
    runner = app.test_cli_runner()
    made = runner.invoke(api_keys, ["create", "--shop", A, "--name", "Metabase", "--scope", "read"])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip()
    assert client.get("/api/v1/contacts", headers=bearer(key)).status_code == 200
    listed = runner.invoke(api_keys, ["list", "--shop", A]).output
    line = next(row for row in listed.splitlines() if "Metabase" in row)
    assert key[:12] in line and key not in listed and "\tread\tlive\t" in line
    key_id = line.split("\t")[0]
    assert runner.invoke(api_keys, ["revoke", "--shop", A, key_id]).exit_code == 0
    assert client.get("/api/v1/contacts", headers=bearer(key)).status_code == 401
    seed_shop(db, B, "+33622222222", "Bruno")
    other = runner.invoke(api_keys, ["revoke", "--shop", B, key_id])
    assert other.exit_code == 1 and "no API key" in other.output
