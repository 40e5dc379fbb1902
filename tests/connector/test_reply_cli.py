"""`parlons reply --dry-run`: how a text would be understood and what would happen, writing nothing."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from automations.models import Base
from connector.commands.reply import reply_command
from connector.web.api_conversations import start_conversation
from tests.connector.helpers import SHOP, make_shop

PHONE = "+33612345678"


@pytest.fixture
def waiting(app):
    """A shop whose customer was asked the visit reminder (waiting for NON)."""
    runtime = app.extensions["parlons"]
    make_shop(runtime.db, sms_number="+33757000001")
    with runtime.db.transaction() as session:
        return start_conversation(session, {
            "shop": SHOP, "to": PHONE, "scenario": "visit_reminder",
            "variables": {"property": "la maison", "visit_time": "18h"}})


def snapshot(app) -> dict:
    """Every row of every table, as text: what "writes nothing" is checked against."""
    with app.extensions["parlons"].db.engine.connect() as conn:
        return {t.name: sorted(map(repr, conn.execute(sa.select(t)).all()))
                for t in Base.metadata.sorted_tables}


def run(app, *args: str, stdin: str | None = None):
    return app.test_cli_runner().invoke(reply_command, list(args), input=stdin)


def test_without_a_shop_it_classifies_the_keyword(app):
    result = run(app, "Arrêt svp", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["intent"] == "opt_out" and out["keyword"] == "arret"


def test_with_shop_and_sender_it_names_the_conversation_and_the_action(app, waiting):
    before = snapshot(app)
    result = run(app, "non merci", "--shop", SHOP, "--from", "06 12 34 56 78", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["intent"] == "other" and out["route"] == "answer"
    assert out["conversation_id"] == waiting["conversation_id"]
    assert out["flow_key"] == "visit_reminder" and out["matched_answer"] == "non"
    assert out["action"] == "send, webhook"
    assert out["would_reply"] == ["C'est noté, la visite de la maison est annulée. Votre conseiller "
                                  "vous recontacte pour une autre date."]
    # a STOP is shown with its confirmation, yet nobody is unsubscribed
    out = json.loads(run(app, "STOP", "--shop", SHOP, "--from", PHONE, "--dry-run", "--json").output)
    assert out["intent"] == "opt_out" and out["route"] == "opt_out"
    assert out["would_reply"][0].startswith("Désinscription confirmée")
    assert snapshot(app) == before


def test_stdin_json_lines_give_one_object_per_line_and_write_nothing(app, waiting):
    before = snapshot(app)
    lines = "\n".join(json.dumps(t) for t in ["NON", "AIDE", "👍", "نعم", "", "START"]) + "\n"
    result = run(app, "-", "--shop", SHOP, "--from", PHONE, "--dry-run", stdin=lines)
    assert result.exit_code == 0, result.output
    outs = [json.loads(line) for line in result.output.splitlines()]
    assert [(o["intent"], o["route"]) for o in outs] == [
        ("other", "answer"), ("help", "help"), ("other", "reprompt"), ("other", "reprompt"),
        ("other", "reprompt"), ("opt_in", "opt_in")]
    assert snapshot(app) == before


def test_an_unknown_sender_is_described_not_created(app, waiting):
    before = snapshot(app)
    out = json.loads(run(app, "Bonjour", "--shop", SHOP, "--from", "+33699999999", "--dry-run",
                         "--json").output)
    assert out["contact_id"] is None and out["route"] == "inbox"
    assert "new contact with no consent" in out["note"]
    assert snapshot(app) == before


def test_bad_lines_and_missing_dry_run_are_refused(app):
    result = run(app, "-", "--dry-run", stdin='"STOP"\n42\nnot json\n')
    assert result.exit_code == 1
    outs = [json.loads(line) for line in result.output.splitlines()]
    assert outs[0]["intent"] == "opt_out"
    assert outs[1] == {"line": 2, "error": "invalid", "messages": {"line": ["each line must be a JSON string"]}}
    assert outs[2]["line"] == 3 and outs[2]["error"] == "invalid"
    refused = run(app, "STOP")
    assert refused.exit_code == 2 and "--dry-run" in refused.output


def test_human_output(app, waiting):
    result = run(app, "NON", "--shop", SHOP, "--from", PHONE, "--dry-run")
    assert result.exit_code == 0
    assert "intent: other" in result.output and "route: answer" in result.output
    assert "would reply: C'est noté" in result.output
