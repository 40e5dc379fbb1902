"""`parlons preview`: what an SMS would look like, how many segments it costs and when it leaves."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from connector.commands.jsonlines import answer_each_line
from connector.services.preview import PreviewError, preview


def _human(result: dict) -> str:
    lines = [result["body"], "", f"{result['encoding']}, {result['characters']} characters, "
             f"{result['segments']} segment(s)"]
    if result["non_gsm_characters"]:
        lines.append("outside GSM-7: " + " ".join(result["non_gsm_characters"]))
    if result["footer_added"]:
        lines.append("opt-out footer added")
    if result.get("to"):
        lines.append(f"to {result['to']} ({result['country']}): sends at {result['send_at']}"
                     + (f" — deferred: {result['deferred_reason']}" if result["deferred_reason"] else ""))
        lines.append(f"cost {result['cost']} {result.get('currency') or ''}".rstrip())
    return "\n".join(lines)


@click.command("preview")
@click.argument("text", required=False)
@click.option("--to", "to", help="Recipient phone (E.164, or national in the shop's region).")
@click.option("--at", "at", help="When it would be sent (ISO 8601; default now).")
@click.option("--marketing/--transactional", default=True, help="Marketing (default) or transactional.")
@click.option("--shop", help="Use this shop's policy (footer, windows, prices); default: built-in.")
@click.option("--raw", is_flag=True, help="Count the text exactly as given.")
@click.option("--smart", is_flag=True, default=None, help="Replace typographic characters with GSM-7 ones.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def preview_command(text, to, at, marketing, shop, raw, smart, as_json) -> None:  # noqa: ANN001
    """Preview TEXT, or with `-` one JSON string per line on stdin (one JSON object per line out)."""
    runtime = current_app.extensions["parlons"]
    base = {"to": to, "at": at, "marketing": marketing, "shop": shop, "raw": raw, "smart": smart}
    if text is None:
        raise click.UsageError("give TEXT, or - to read JSON strings from stdin")
    if text == "-":
        answer_each_line(lambda item: preview(runtime, {**base, "text": item}))
        return
    try:
        result = preview(runtime, {**base, "text": text})
    except PreviewError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(result, ensure_ascii=False, indent=2) if as_json else _human(result))
COMMANDS = [preview_command]
