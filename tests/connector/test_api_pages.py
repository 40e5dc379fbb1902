"""Lists come a page at a time behind a cursor, newest first, with filters and a Link header."""

from __future__ import annotations

from automations.models import Message, utcnow
from tests.connector.api_helpers import bearer, new_key, seed_shop

A = "alpha.myshopify.com"


def test_walking_the_pages_of_messages_sees_each_once(app, client):
    db = app.extensions["parlons"].db
    alpha = seed_shop(db, A, "+33611111111", "Alice")
    with db.transaction() as s:
        s.add_all(Message(shop_id=alpha.shop_id, contact_id=alpha.ids["contact_id"], direction="outbound",
                          kind="transactional", to_phone="+33611111111", body=f"Colis {n}", status="sent",
                          idempotency_key=f"page-{n}", sent_at=utcnow()) for n in range(5))
    key = new_key(db, A)
    # when a client walks the outbound messages two at a time, following the Link header
    seen, url, pages = [], "/api/v1/messages?direction=outbound&limit=2", 0
    while url:
        page = client.get(url, headers=bearer(key))
        assert page.status_code == 200, page.json
        seen += [m["body"] for m in page.json["data"]]
        pages += 1
        assert page.json["has_more"] == ("Link" in page.headers)
        url = page.headers["Link"].split(">")[0].lstrip("<").replace("http://localhost", "") \
            if page.json["has_more"] else None
        if url:
            assert "direction=outbound" in url and page.json["next_cursor"] in url
    # then every outbound message came once, newest first, and the filter held
    assert seen == [f"Colis {n}" for n in range(4, -1, -1)] + ["Bonjour Alice !"]
    assert pages == 3


def test_bad_paging_and_filters_are_refused_by_field(app, client):
    db = app.extensions["parlons"].db
    seed_shop(db, A, "+33611111111", "Alice")
    key = new_key(db, A)
    for query, field in (("limit=0", "limit"), ("limit=500", "limit"), ("cursor=nope", "cursor"),
                         ("status=lost", "status"), ("since=yesterday", "since")):
        answer = client.get(f"/api/v1/messages?{query}", headers=bearer(key))
        assert answer.status_code == 400 and field in answer.json["messages"], (query, answer.json)
