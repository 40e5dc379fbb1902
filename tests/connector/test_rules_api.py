"""Rules through the API and the CLI: data that is validated, stored, versioned, scoped to its
shop, refused with field-keyed errors, and simulated over real stored deliveries."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from automations import shops
from automations.models import Shop, utcnow
from connector.commands.rules import list_command, show_command, simulate_command
from tests.connector.helpers import FIXTURES, SHOP, make_shop, post_shopify

AUTH = {"Authorization": "Bearer test-api-token"}
SECRET = "test-shopify-secret"
OTHER = "autre-boutique.myshopify.com"
NEW_RULE = {
    "key": "merci-vip", "name": "Merci VIP", "trigger": "OrderPlaced", "kind": "marketing",
    "conditions": {"all": [{"field": "contact.tags", "op": "contains", "value": "vip"}]},
    "steps": [{"type": "send", "template": {"fr": "Merci {{ first_name }} !", "en": "Thanks {{ first_name }}!"}}],
}


@pytest.fixture
def db(app):
    """A shop with its ready-made rules, and another shop with its own."""
    database = app.extensions["parlons"].db
    for domain in (SHOP, OTHER):
        make_shop(database, domain)
        with database.transaction() as session:
            shops.install_default_rules(session, session.query(Shop).filter_by(domain=domain).one())
    return database


def rule_id(client, key: str, shop: str = SHOP) -> int:
    listed = client.get(f"/api/v1/rules?shop={shop}", headers=AUTH).json["rules"]
    return next(r["id"] for r in listed if r["key"] == key)


def test_a_merchant_lists_creates_reads_and_changes_a_rule(client, db):
    # given a shop with its ready-made rules
    listed = client.get(f"/api/v1/rules?shop={SHOP}", headers=AUTH)
    assert listed.status_code == 200
    keys = {r["key"]: r for r in listed.json["rules"]}
    assert keys["order_shipped"]["enabled"] and not keys["abandoned_checkout"]["enabled"]
    assert keys["order_shipped"]["stats"] == {"messages": 0, "sent": 0, "clicks": 0, "clicked_messages": 0,
                                             "by_status": {}}
    # when they create a rule
    created = client.post("/api/v1/rules", headers=AUTH, json={**NEW_RULE, "shop": SHOP})
    # then it is stored at version 1 with its defaults filled in
    assert created.status_code == 201
    rule = created.json
    assert (rule["version"], rule["shop"], rule["enabled"], rule["priority"]) == (1, SHOP, True, 100)
    assert client.get(f"/api/v1/rules/{rule['id']}?shop={SHOP}", headers=AUTH).json["definition"] == rule["definition"]
    # when they replace its definition, the version goes up; the same definition again changes nothing
    changed = {**NEW_RULE, "name": "Merci à nos VIP", "priority": 20}
    answer = client.put(f"/api/v1/rules/{rule['id']}?shop={SHOP}", headers=AUTH, json=changed)
    assert answer.status_code == 200 and answer.json["version"] == 2 and answer.json["name"] == "Merci à nos VIP"
    again = client.put(f"/api/v1/rules/{rule['id']}", headers=AUTH, json={**changed, "shop": SHOP})
    assert again.json["version"] == 2
    # and every version is kept, newest first
    versions = client.get(f"/api/v1/rules/{rule['id']}/versions?shop={SHOP}", headers=AUTH).json["versions"]
    assert [(v["version"], v["current"], v["definition"]["name"]) for v in versions] == [
        (2, True, "Merci à nos VIP"), (1, False, "Merci VIP")]


def test_an_invalid_rule_is_refused_with_errors_keyed_by_field(client, db):
    shipped = rule_id(client, "order_shipped")
    url = f"/api/v1/rules/{shipped}?shop={SHOP}"
    current = client.get(url, headers=AUTH).json["definition"]
    # when the trigger is unknown and a template uses a variable the trigger does not have
    bad = {**current, "trigger": "OrderTeleported"}
    answer = client.put(url, headers=AUTH, json=bad)
    assert answer.status_code == 400 and answer.json["error"] == "invalid"
    assert list(answer.json["messages"]) == ["trigger"]
    bad = {**current, "steps": [{"type": "send", "template": {"fr": "Code {{ cart_total }}"}}]}
    messages = client.put(url, headers=AUTH, json=bad).json["messages"]
    assert "cart_total" in messages["steps"]["0"]["template"]["fr"][0]
    # and a rule's key cannot be changed, nor a required field left out on create
    assert "key" in client.put(url, headers=AUTH, json={**current, "key": "autre"}).json["messages"]
    answer = client.post("/api/v1/rules", headers=AUTH, json={"shop": SHOP, "key": "x", "kind": "marketing"})
    assert answer.status_code == 400 and {"name", "trigger", "steps"} <= set(answer.json["messages"])
    # and a key already taken is a conflict
    answer = client.post("/api/v1/rules", headers=AUTH, json={**current, "shop": SHOP})
    assert answer.status_code == 409 and "key" in answer.json["messages"]
    # then nothing changed
    assert client.get(url, headers=AUTH).json["version"] == 1


def test_enable_and_disable_are_versioned_changes(client, db):
    cart = rule_id(client, "abandoned_checkout")
    # when the merchant turns the cart flow on, then off
    on = client.post(f"/api/v1/rules/{cart}/enable?shop={SHOP}", headers=AUTH)
    assert on.status_code == 200 and on.json["enabled"] and on.json["version"] == 2
    off = client.post(f"/api/v1/rules/{cart}/disable", headers=AUTH, json={"shop": SHOP})
    # then each switch is a version of its own, the definition otherwise untouched
    assert not off.json["enabled"] and off.json["version"] == 3
    versions = client.get(f"/api/v1/rules/{cart}/versions?shop={SHOP}", headers=AUTH).json["versions"]
    assert [v["definition"]["enabled"] for v in versions] == [False, True, False]
    assert versions[0]["definition"]["steps"] == versions[2]["definition"]["steps"]


def test_a_rule_is_only_seen_through_its_own_shop(client, db):
    mine = rule_id(client, "order_shipped")
    # when another shop, no shop or an unknown shop asks for it
    for query, status, field in ((f"?shop={OTHER}", 404, "rule"), ("", 400, "shop"),
                                 ("?shop=inconnue.myshopify.com", 404, "shop")):
        for answer in (client.get(f"/api/v1/rules/{mine}{query}", headers=AUTH),
                       client.post(f"/api/v1/rules/{mine}/disable{query}", headers=AUTH),
                       client.post(f"/api/v1/rules/{mine}/simulate{query}", headers=AUTH, json={"since": "30d"})):
            # then it is refused, and says which field to fix
            assert answer.status_code == status and field in answer.json["messages"], (query, answer.json)
    assert client.get(f"/api/v1/rules/{mine}?shop={SHOP}", headers=AUTH).json["enabled"] is True
    # and without the token nothing is said at all
    assert client.get(f"/api/v1/rules?shop={SHOP}").status_code == 401


def shipped(phone: str, n: int) -> bytes:
    payload = json.loads((FIXTURES / "fulfillments__create.json").read_text())
    payload["destination"].update(phone=phone, first_name=f"Client{n}", country_code="FR")
    payload.update(name=f"#20{n:02d}.1", admin_graphql_api_id=f"gid://shopify/Fulfillment/90{n:02d}")
    return json.dumps(payload).encode()


def test_simulation_over_posted_deliveries_agrees_between_cli_and_api(app, client, db):
    # given real deliveries posted through the Shopify webhook: three shipments to valid French
    # numbers, one to an invalid number, one delivered twice, and an order and a customer
    for n, phone in enumerate(["06 12 34 56 01", "+33612345602", "0612345603", "555-555-SHIP"]):
        assert post_shopify(client, shipped(phone, n), "fulfillments/create", SECRET).json["outcome"] == "stored"
    post_shopify(client, shipped("0612345601", 0), "fulfillments/create", SECRET)
    for topic in ("orders/create", "customers/create"):
        raw = (FIXTURES / f"{topic.replace('/', '__')}.json").read_bytes()
        post_shopify(client, raw, topic, SECRET)
    rule = rule_id(client, "order_shipped")
    until = (utcnow() + timedelta(minutes=1)).isoformat()
    # when the shipped rule is simulated over the last day, through the API and the CLI
    api = client.post(f"/api/v1/rules/{rule}/simulate", headers=AUTH,
                      json={"shop": SHOP, "since": "1d", "until": until})
    assert api.status_code == 200, api.json
    cli = app.test_cli_runner().invoke(simulate_command, [str(rule), "--since", "1d", "--until", until, "--json"])
    assert cli.exit_code == 0, cli.output
    # then both say the same
    report = json.loads(cli.output)
    assert report == api.json
    # three shipping texts to three contacts, one held back for its phone, the repeat counted once
    assert report["store_events"] == 7 and report["triggers"] == 5 and report["matched"] == 4
    assert report["messages"] == 3 and report["contacts"] == 3
    assert sum(report["by_hour"].values()) == 3 and report["segments"] >= 3 and float(report["cost"]) > 0
    assert report["suppressed"] == 1
    assert [r for r in report["suppressed_reasons"]][0].startswith("no valid phone")
    # and the human table says it in words
    table = app.test_cli_runner().invoke(simulate_command, [str(rule), "--since", "1d", "--until", until])
    assert "Messages that would have gone out: 3 to 3 contact(s)" in table.output
    assert "By hour of day" in table.output and "no valid phone" in table.output


def test_simulation_refuses_a_period_it_cannot_read(client, db):
    rule = rule_id(client, "order_shipped")
    for body, field in (({}, "since"), ({"since": "hier"}, "since"), ({"since": "30d", "until": "demain"}, "until"),
                        ({"since": "2026-03-02", "until": "2026-03-01"}, "since"), ({"since": "1d", "x": 1}, "x")):
        answer = client.post(f"/api/v1/rules/{rule}/simulate?shop={SHOP}", headers=AUTH, json=body)
        assert answer.status_code == 400 and field in answer.json["messages"], body


def test_cli_lists_and_shows_what_the_api_serves(app, client, db):
    runner = app.test_cli_runner()
    # when the operator lists the shop's rules and shows one
    listed = runner.invoke(list_command, ["--shop", SHOP, "--json"])
    api = client.get(f"/api/v1/rules?shop={SHOP}", headers=AUTH).json["rules"]
    # then they read what the API serves
    assert json.loads(listed.output) == api
    shown = runner.invoke(show_command, [str(api[0]["id"])])
    assert json.loads(shown.output) == api[0]
    table = runner.invoke(list_command, ["--shop", SHOP])
    assert "order_shipped" in table.output and "TRIGGER" in table.output
    # and a rule of another shop is refused when the shop is named
    assert runner.invoke(show_command, [str(api[0]["id"]), "--shop", OTHER]).exit_code == 1
