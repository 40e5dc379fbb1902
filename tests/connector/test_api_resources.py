"""The shop, its contacts and its inbox through the REST API, with a shop's key."""

from __future__ import annotations

import sqlalchemy as sa

from automations.models import ConsentEvent, Contact, Message, OutboundWrite
from tests.connector.api_helpers import bearer, new_key, seed_shop
from tests.connector.helpers import count

A = "alpha.myshopify.com"


def setup(app):
    db = app.extensions["parlons"].db
    alpha = seed_shop(db, A, "+33611111111", "Alice")
    return db, alpha, bearer(new_key(db, A))


def test_a_merchant_finds_a_contact_and_reads_their_consent_proof(app, client):
    db, alpha, auth = setup(app)
    contact = alpha.ids["contact_id"]
    # they find the contact by the phone as customers write it, by email, or by name
    for q in ("06 11 11 11 11", "alice@exa", "ALICE", "1111"):
        found = client.get(f"/api/v1/contacts?q={q}", headers=auth).json["data"]
        assert [c["id"] for c in found] == [contact], q
    assert client.get("/api/v1/contacts?q=bruno", headers=auth).json["data"] == []
    assert [c["id"] for c in client.get("/api/v1/contacts?consent_status=subscribed", headers=auth).json["data"]] \
        == [contact]
    # and read who consented, when, how, with what evidence
    shown = client.get(f"/api/v1/contacts/{contact}", headers=auth).json
    assert shown["phone"] == "+33611111111" and shown["consent_status"] == "subscribed"
    [proof] = client.get(f"/api/v1/contacts/{contact}/consent", headers=auth).json["data"]
    assert proof["source"] == "shopify" and proof["evidence"] == {"form": "checkout Alice"}
    # and the messages both ways
    bodies = [m["body"] for m in client.get(f"/api/v1/contacts/{contact}/messages", headers=auth).json["data"]]
    assert bodies == ["Une question de Alice", "Bonjour Alice !"]
    inbound = client.get(f"/api/v1/contacts/{contact}/messages?direction=inbound", headers=auth).json["data"]
    assert [m["from"] for m in inbound] == ["+33611111111"]


def test_unsubscribing_a_contact_is_recorded_with_evidence_and_told_to_the_crm(app, client):
    db, alpha, auth = setup(app)
    contact = alpha.ids["contact_id"]
    answer = client.post(f"/api/v1/contacts/{contact}/unsubscribe", headers=auth,
                         json={"reason": "asked at the shop counter"})
    assert answer.status_code == 200 and answer.json["consent_status"] == "unsubscribed"
    assert answer.json["opted_out_at"] is None  # marketing stops; it is not a STOP
    newest = client.get(f"/api/v1/contacts/{contact}/consent", headers=auth).json["data"][0]
    assert newest["source"] == "api" and newest["evidence"]["reason"] == "asked at the shop counter"
    assert newest["evidence"]["requested_by"].startswith("key:")
    assert count(db, OutboundWrite, OutboundWrite.key == f"consent:{newest['id']}:hubspot") == 1


def test_export_then_erase_a_contact(app, client):
    db, alpha, auth = setup(app)
    contact = alpha.ids["contact_id"]
    record = client.get(f"/api/v1/contacts/{contact}/export", headers=auth).json
    assert record["contact"]["email"] == "alice@example.com"
    assert [e["status"] for e in record["consent_ledger"]] == ["subscribed"] and len(record["messages"]) == 2
    erased = client.post(f"/api/v1/contacts/{contact}/erase", headers=auth)
    assert erased.status_code == 200 and erased.json == {"contact_id": contact, "messages_redacted": 2}
    shown = client.get(f"/api/v1/contacts/{contact}", headers=auth).json
    assert shown["phone"] is None and shown["email"] is None and shown["redacted_at"]
    assert client.get("/api/v1/contacts?q=alice", headers=auth).json["data"] == []
    with db.session() as s:
        assert s.scalar(sa.select(ConsentEvent.evidence).where(ConsentEvent.contact_id == contact)) == {}
        assert set(s.scalars(sa.select(Message.body).where(Message.contact_id == contact))) == {"[redacted]"}


def test_the_inbox_through_the_api(app, client):
    db, alpha, auth = setup(app)
    conversation = alpha.ids["conversation_id"]
    assert [c["id"] for c in client.get("/api/v1/conversations?status=assigned", headers=auth).json["data"]] \
        == [conversation]
    assert client.get("/api/v1/conversations?status=closed", headers=auth).json["data"] == []
    history = client.get(f"/api/v1/conversations/{conversation}", headers=auth).json["history"]
    assert [h["kind"] for h in history][:2] == ["outbound", "inbound"] or "inbound" in [h["kind"] for h in history]
    # an agent answers (once, even if the request is retried), notes, reassigns and closes
    headers = {**auth, "Idempotency-Key": "reply-1"}
    sent = client.post(f"/api/v1/conversations/{conversation}/reply", headers=headers,
                       json={"text": "Bonjour Alice, je regarde ça", "agent": "Zoé"})
    again = client.post(f"/api/v1/conversations/{conversation}/reply", headers=headers,
                        json={"text": "Bonjour Alice, je regarde ça", "agent": "Zoé"})
    assert sent.status_code == 201 and again.json == sent.json
    assert sent.json["status"] == "scheduled" and sent.json["author"] == "Zoé"
    assert count(db, Message, Message.body == "Bonjour Alice, je regarde ça") == 1
    note = client.post(f"/api/v1/conversations/{conversation}/notes", headers=auth, json={"text": "VIP"})
    assert note.status_code == 201 and note.json["direction"] == "note"
    assert client.post(f"/api/v1/conversations/{conversation}/assign", headers=auth,
                       json={"assignee": "Marc"}).json["assigned_to"] == "Marc"
    closed = client.post(f"/api/v1/conversations/{conversation}/close", headers=auth)
    assert closed.json["status"] == "closed" and closed.json["closed_at"]
    # and an assignment of a closed conversation is refused, saying why
    refused = client.post(f"/api/v1/conversations/{conversation}/assign", headers=auth, json={"assignee": "x"})
    assert refused.status_code == 400 and "closed" in refused.json["messages"]["conversation"][0]
    kpis = client.get("/api/v1/analytics/conversations", headers=auth).json
    assert kpis["conversations"] == 1 and kpis["replies"] == 1


def test_no_reply_goes_to_a_contact_who_replied_stop(app, client):
    db, alpha, auth = setup(app)
    with db.transaction() as s:
        s.get(Contact, alpha.ids["contact_id"]).opted_out_at = s.get(Contact, alpha.ids["contact_id"]).created_at
    answer = client.post(f"/api/v1/conversations/{alpha.ids['conversation_id']}/reply", headers=auth,
                         json={"text": "Bonjour ?"})
    assert answer.status_code == 409 and "STOP" in answer.json["messages"]["conversation"][0]
    assert count(db, Message, Message.body == "Bonjour ?") == 0


def test_the_shop_and_its_settings(app, client):
    db, alpha, auth = setup(app)
    shop = client.get("/api/v1/shop", headers=auth).json
    assert shop["domain"] == A and shop["settings"]["marketing_cap_24h"] == 1
    changed = client.patch("/api/v1/shop/settings", headers=auth,
                           json={"marketing_cap_24h": 2, "help_text": "Aide : 01 23 45 67 89",
                                 "webhook_secret": "s3cret"})
    assert changed.status_code == 200, changed.json
    settings = changed.json["settings"]
    assert settings["marketing_cap_24h"] == 2 and settings["help_text"].startswith("Aide")
    assert "webhook_secret" not in settings and settings["webhook_secret_set"] is True
    assert "s3cret" not in client.get("/api/v1/shop", headers=auth).get_data(as_text=True)
    # a window outside the law's, an unknown setting, a wrong type: refused, naming each
    for body, field in (({"window_overrides": {"FR": {"start": "21:00", "end": "23:00"}}}, "window_overrides"),
                        ({"colour": "blue"}, "colour"), ({"smart_encoding": "yes"}, "smart_encoding")):
        answer = client.patch("/api/v1/shop/settings", headers=auth, json=body)
        assert answer.status_code == 400 and field in answer.json["messages"], (body, answer.json)
    assert client.get("/api/v1/shop", headers=auth).json["settings"]["marketing_cap_24h"] == 2
    # null puts a setting back to its default
    reset = client.patch("/api/v1/shop/settings", headers=auth, json={"marketing_cap_24h": None})
    assert reset.json["settings"]["marketing_cap_24h"] == 1
    assert [s["domain"] for s in client.get("/api/v1/shops", headers=auth).json["data"]] == [A]
