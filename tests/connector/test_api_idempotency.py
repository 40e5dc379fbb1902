"""Idempotency-Key on the POSTs that create or send: a retry gets the first answer and does nothing
twice; the same key for another request is 422; concurrent retries make one object."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests
import sqlalchemy as sa

from automations.models import IdempotentRequest, Rule
from integrations.serving import serve
from tests.connector.api_helpers import OPERATOR, bearer, new_key, seed_shop
from tests.connector.helpers import count

A, B = "alpha.myshopify.com", "beta.myshopify.com"
RULE = {"key": "merci-vip", "name": "Merci VIP", "trigger": "OrderPlaced", "kind": "marketing",
        "steps": [{"type": "send", "template": "Merci {{ first_name }} !"}]}


def test_a_retried_create_gets_the_first_answer_and_creates_once(app, client):
    db = app.extensions["parlons"].db
    seed_shop(db, A, "+33611111111", "Alice")
    key = new_key(db, A)
    headers = {**bearer(key), "Idempotency-Key": "3f1c0d9e-rule-1"}
    # when the same create is sent twice with the same key (the body's key order aside)
    first = client.post("/api/v1/rules", headers=headers, json=RULE)
    again = client.post("/api/v1/rules", headers=headers, json=dict(reversed(list(RULE.items()))))
    # then the second answer is the first one, marked as replayed, and one rule exists
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(db, Rule, Rule.key == "merci-vip") == 1
    # and the same key with another body is refused, changing nothing
    other = client.post("/api/v1/rules", headers=headers, json={**RULE, "name": "Autre"})
    assert other.status_code == 422 and "Idempotency-Key" in other.json["messages"]
    assert client.get(f"/api/v1/rules/{first.json['id']}", headers=bearer(key)).json["name"] == "Merci VIP"


def test_keys_are_per_shop_and_a_refused_request_can_be_retried(app, client):
    db = app.extensions["parlons"].db
    seed_shop(db, A, "+33611111111", "Alice")
    seed_shop(db, B, "+33622222222", "Bruno")
    same = {"Idempotency-Key": "commande-42"}
    # the same key in two shops is two requests
    one = client.post("/api/v1/rules", headers={**OPERATOR, **same}, json={**RULE, "shop": A})
    two = client.post("/api/v1/rules", headers={**OPERATOR, **same}, json={**RULE, "shop": B})
    assert one.status_code == two.status_code == 201 and one.json["id"] != two.json["id"]
    # a request refused by the rules (a bad template) keeps no answer: fixed, it goes through
    fixed_key = {**OPERATOR, "Idempotency-Key": "essai-2"}
    bad = {**RULE, "shop": A, "key": "essai", "steps": [{"type": "send", "template": "{{ oops"}]}
    assert client.post("/api/v1/rules", headers=fixed_key, json=bad).status_code == 400
    with db.session() as s:
        assert s.scalar(sa.select(IdempotentRequest).where(IdempotentRequest.key == "essai-2")) is None
    # a key that is not printable ASCII is refused
    answer = client.post("/api/v1/rules", headers={**OPERATOR, "Idempotency-Key": "clé"}, json={**RULE, "shop": A})
    assert answer.status_code == 400 and "Idempotency-Key" in answer.json["messages"]


def test_the_stored_answer_is_encrypted_at_rest(app, client):
    db = app.extensions["parlons"].db
    seed_shop(db, A, "+33611111111", "Alice")
    made = client.post("/api/v1/api-keys", headers={**OPERATOR, "Idempotency-Key": "k-1"},
                       json={"shop": A, "name": "CRM", "scope": "read"})
    with db.session() as s:
        row = s.scalar(sa.select(IdempotentRequest))
    assert made.json["key"] not in row.response_enc and "CRM" not in row.response_enc
    replay = client.post("/api/v1/api-keys", headers={**OPERATOR, "Idempotency-Key": "k-1"},
                         json={"shop": A, "name": "CRM", "scope": "read"})
    assert replay.json == made.json


def test_concurrent_retries_make_one_rule(app):
    db = app.extensions["parlons"].db
    seed_shop(db, A, "+33611111111", "Alice")
    key = new_key(db, A)
    server = serve(app)
    try:
        # when eight copies of the same request arrive together
        def post(_: int) -> requests.Response:
            return requests.post(f"{server.url}/api/v1/rules", json=RULE, timeout=30,
                                 headers={**bearer(key), "Idempotency-Key": "en-meme-temps"})

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(post, range(8)))
    finally:
        server.stop()
    # then one rule was made; each answer is that rule, or "still being answered, retry" (409)
    assert count(db, Rule, Rule.key == "merci-vip") == 1
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409} and statuses.count(201) >= 1, [a.text for a in answers]
    created = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(created) == 1
    assert all(a.json()["messages"]["Idempotency-Key"] for a in answers if a.status_code == 409)
