"""`parlons preview` and POST /api/v1/messages/preview: the same answer for the same question."""

from __future__ import annotations

import json

import pytest

from connector.commands.preview import preview_command

AUTH = {"Authorization": "Bearer test-api-token"}
CASES = [
    {"text": "Bonjour Zoé, votre colis arrive demain", "marketing": False},
    {"text": "Soldes d’hiver « -30 % » ce week-end…", "smart": True, "to": "+33612345678",
     "at": "2026-11-29T10:00:00+01:00"},
    {"text": "Flash sale 🎉 today only", "to": "+12125550123", "at": "2026-11-24T23:30:00-05:00"},
    {"text": "Prix: 10€ [promo]", "raw": True},
]


def _cli(app, case: dict) -> dict:
    args = [case["text"], "--json"]
    for key in ("to", "at"):
        if key in case:
            args += [f"--{key}", case[key]]
    for key in ("raw", "smart"):
        if case.get(key):
            args.append(f"--{key}")
    if case.get("marketing") is False:
        args.append("--transactional")
    result = app.test_cli_runner().invoke(preview_command, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("case", CASES)
def test_cli_and_api_agree(app, client, case):
    # given the same text and options, when asked through the CLI and through the API
    cli = _cli(app, case)
    api = client.post("/api/v1/messages/preview", json=case, headers=AUTH)
    assert api.status_code == 200
    # then both say the same (short link codes are random, so compare without the links)
    for field in ("encoding", "segments", "characters", "non_gsm_characters", "footer_added",
                  "country", "send_at", "deferred_reason", "cost"):
        assert cli[field] == api.json[field], field


def test_marketing_on_a_french_sunday_waits_for_monday_8am_with_the_footer(client):
    answer = client.post("/api/v1/messages/preview", headers=AUTH, json={
        "text": "Bonjour ! -20% ce week-end", "to": "+33612345678", "at": "2026-11-29T10:00:00+01:00"})
    body = answer.json
    assert body["send_at"] == "2026-11-30T08:00:00+01:00"
    assert body["deferred_reason"]
    assert body["footer_added"] and "STOP" in body["body"]
    assert body["encoding"] == "GSM-7" and body["segments"] == 1


def test_one_character_outside_gsm7_makes_the_whole_message_ucs2(client):
    answer = client.post("/api/v1/messages/preview", headers=AUTH,
                         json={"text": "Fête à la crêperie", "raw": True})
    assert answer.json["encoding"] == "UCS-2"
    assert answer.json["non_gsm_characters"] == ["ê"]


def test_stdin_mode_answers_one_json_object_per_line(app):
    lines = "\n".join(json.dumps(t) for t in ["Bonjour", "x" * 161, "café ☕"]) + "\n"
    result = app.test_cli_runner().invoke(preview_command, ["-", "--raw"], input=lines)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.output.splitlines()]
    assert [o["segments"] for o in out] == [1, 2, 1]
    assert [o["encoding"] for o in out] == ["GSM-7", "GSM-7", "UCS-2"]


def test_bad_input_gets_field_keyed_errors_and_no_crash(app, client):
    answer = client.post("/api/v1/messages/preview", headers=AUTH, json={"text": "hi", "to": "12"})
    assert answer.status_code == 400 and "to" in answer.json["messages"]
    answer = client.post("/api/v1/messages/preview", headers=AUTH, json={"to": "+33612345678"})
    assert answer.status_code == 400 and "text" in answer.json["messages"]
    result = app.test_cli_runner().invoke(preview_command, ["-"], input='"ok"\n42\n')
    assert result.exit_code == 1
    assert json.loads(result.output.splitlines()[1])["line"] == 2


def test_the_api_needs_its_token(client):
    assert client.post("/api/v1/messages/preview", json={"text": "x"}).status_code == 401
