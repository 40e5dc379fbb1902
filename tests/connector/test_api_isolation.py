"""A key of shop A can neither read nor change anything of shop B, through every endpoint.

The endpoints are read from the app's URL map, so a new one is covered as soon as it exists: its
path parameters are filled with shop B's objects, and a write must have a valid body listed in
BODIES (the test says so when it lacks one), so that the refusal comes from the shop check and
not from a missing field."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from automations.models import ApiKey, Base
from tests.connector.api_helpers import bearer, new_key, seed_shop

A, B = "alpha.myshopify.com", "beta.myshopify.com"
RULE = {"key": "merci-vip", "name": "Merci VIP", "trigger": "OrderPlaced", "kind": "marketing",
        "steps": [{"type": "send", "template": "Merci {{ first_name }} !"}]}
VIP = {"all": [{"field": "contact.tags", "op": "contains", "value": "vip"}]}
# A valid body for each endpoint that takes one (as shop A would send it for its own objects).
BODIES: dict[str, dict] = {
    "rules.create_rule": RULE,
    "rules.update_rule": {**RULE, "key": "order_shipped"},
    "rules.enable_rule": {},
    "rules.disable_rule": {},
    "rules.simulate_rule": {"since": "30d"},
    "messages.messages_preview": {"text": "Bonjour", "to": "+33611111111"},
    "conversations.create": {"to": "+33611111111", "scenario": "visit_reminder",
                             "variables": {"property": "le T3", "visit_time": "demain 10h"}},
    "api-keys.create_key": {"name": "x", "scope": "read"},
    "api-keys.revoke_key": {},
    "webhook-endpoints.create_endpoint": {"url": "https://alpha.example.com/hooks", "events": ["message.sent"]},
    "webhook-endpoints.change_endpoint": {"enabled": False},
    "webhook-endpoints.delete_endpoint": {},
    "webhook-endpoints.replay_delivery": {},
    "contacts.unsubscribe": {"reason": "asked by phone"},
    "contacts.erase_contact": {},
    "shops.change_settings": {"smart_encoding": True},
    "conversation-inbox.reply": {"text": "Bonjour, je regarde"},
    "conversation-inbox.add_note": {"text": "rappeler demain"},
    "conversation-inbox.assign": {"assignee": "Zoé"},
    "conversation-inbox.close": {},
    "segments.create_segment": {"key": "vip-a", "name": "VIP", "conditions": VIP},
    "segments.update_segment": {"name": "VIP", "conditions": VIP},
    "segments.delete_segment": {},
    "segments.count_segment": {"conditions": VIP},
    "segments.sample_segment": {"conditions": VIP},
    "campaigns.create_campaign": {"name": "Flash", "audience": {"include": [1]},
                                  "variants": [{"templates": {"fr": "Bonjour"}}]},
    "campaigns.update_campaign": {"name": "Flash", "audience": {"include": [1]},
                                  "variants": [{"templates": {"fr": "Bonjour"}}]},
    "campaigns.delete_campaign": {},
    "campaigns.estimate_campaign": {},
    "campaigns.test_campaign": {"phone": "+33611111111"},
    "campaigns.schedule_campaign": {"mode": "now"},
    "campaigns.pause_campaign": {},
    "campaigns.resume_campaign": {},
    "campaigns.cancel_campaign": {},
    "signup.change_signup": {"keywords": ["SOLDES"]},
}
PUBLIC = {"api-docs.openapi_json", "api-docs.openapi_swagger_ui", "api_docs_assets.swagger_ui_file"}


def api_routes():
    from connector import create_app
    from connector.config import Config

    app = create_app(Config(database_url="sqlite://", api_token="x"))
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.rule.startswith("/api/v1/") and rule.endpoint not in PUBLIC:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield pytest.param(rule.rule, rule.endpoint, method, id=f"{method} {rule.rule}")


def snapshot(db) -> str:
    """Every row of every table, but when keys were last used (reading stamps it)."""
    rows = {}
    with db.session() as s:
        for table in Base.metadata.sorted_tables:
            data = [dict(r._mapping) for r in s.execute(sa.select(table).order_by(*table.primary_key.columns))]
            if table.name == ApiKey.__tablename__:
                data = [{k: v for k, v in r.items() if k != "last_used_at"} for r in data]
            rows[table.name] = data
    return json.dumps(rows, default=str, sort_keys=True)


@pytest.fixture
def shops(app):
    db = app.extensions["parlons"].db
    seed_shop(db, A, "+33611111111", "Alice")
    beta = seed_shop(db, B, "+33622222222", "Bruno")
    return db, new_key(db, A), beta


@pytest.mark.parametrize(("path", "endpoint", "method"), list(api_routes()))
def test_a_key_of_shop_a_cannot_reach_shop_b(client, shops, path, endpoint, method):
    db, key, beta = shops
    writes = method != "GET"
    if writes and endpoint not in BODIES:
        pytest.fail(f"add a valid body for {endpoint} to BODIES")
    body = BODIES.get(endpoint) if writes else None
    params = [name.split(":")[-1] for name in path.split("<")[1:]]
    url = path
    for raw in path.split("<")[1:]:
        spec = raw.split(">")[0]
        url = url.replace(f"<{spec}>", str(beta.ids[spec.split(':')[-1]]))
    before = snapshot(db)
    answers = []
    # when shop A's key names shop B…
    named = {**body, "shop": B} if body is not None else None
    answers.append(client.open(f"{url}?shop={B}", method=method, headers=bearer(key), json=named))
    if params:  # …and when it asks for shop B's objects without naming a shop
        answers.append(client.open(url, method=method, headers=bearer(key), json=body))
    # then it is told that nothing of the kind exists, and learns nothing of shop B
    for answer in answers:
        assert answer.status_code == 404, (answer.request.url, answer.status_code, answer.get_data(as_text=True))
        text = answer.get_data(as_text=True)
        assert not [m for m in beta.markers[1:] if m in text], text
    # and nothing of anyone changed
    assert snapshot(db) == before


@pytest.mark.parametrize(("path", "endpoint", "method"),
                         [p for p in api_routes() if p.values[2] == "GET" and "<" not in p.values[0]])
def test_shop_a_lists_show_nothing_of_shop_b(client, shops, path, endpoint, method):
    db, key, beta = shops
    answer = client.get(path, headers=bearer(key))
    assert answer.status_code == 200, answer.json
    text = answer.get_data().decode("utf-8", "replace")  # some answers are images
    assert not [m for m in beta.markers if m in text]
