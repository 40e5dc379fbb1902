"""`parlons conversations …`: start a reply-driven conversation, list the ready-made scenarios."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from connector.web.api_conversations import StartError, scenario_catalogue, start_and_signal


@click.group("conversations")
def conversations_group() -> None:
    """Reply-driven SMS conversations (scenarios such as test drive 1/2/3 or appointment O/N)."""


def _pairs(values: tuple[str, ...]) -> dict[str, str]:
    pairs = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--var")
        pairs[name.strip()] = value
    return pairs


@conversations_group.command("start")
@click.option("--shop", required=True, help="The shop's domain (xxx.myshopify.com).")
@click.option("--to", "to", required=True, help="The customer's phone (E.164 or national).")
@click.option("--scenario", help="A ready-made scenario key (see `parlons conversations scenarios`).")
@click.option("--flow", "flow_file", type=click.File("r"), help="A flow definition (JSON file).")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE",
              help="A variable the texts use (repeat).")
@click.option("--example", is_flag=True, help="Fill missing variables with the scenario's example.")
@click.option("--locale", help="Language of the scenario (default: the contact's, else the shop's).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def start(shop, to, scenario, flow_file, variables, example, locale, as_json) -> None:  # noqa: ANN001
    """Start a conversation: its first question leaves at once through the dispatcher."""
    from automations.scenarios import SCENARIOS

    values = _pairs(variables)
    if example and scenario in SCENARIOS:
        values = {**{k: v for k, v in SCENARIOS[scenario].example.items() if v is not None},
                  **values}
    data = {"shop": shop, "to": to, "scenario": scenario, "variables": values, "locale": locale}
    if flow_file is not None:
        try:
            data["flow"] = json.load(flow_file)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--flow") from exc
    try:
        result = start_and_signal(current_app.extensions["parlons"], data)
    except StartError as exc:
        if as_json:
            click.echo(json.dumps({"error": exc.status, "messages": exc.messages},
                                  ensure_ascii=False))
            raise SystemExit(1) from exc
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(f"conversation {result['conversation_id']} ({result['flow_key']}, "
               f"{result['locale']}) waiting for {result['to']}"
               + (f" until {result['expires_at']}" if result["expires_at"] else ""))
    click.echo(f"question: {result['question']}")


@conversations_group.command("scenarios")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def scenarios(as_json: bool) -> None:
    """List the ready-made scenarios and the variables each one needs."""
    catalogue = scenario_catalogue()
    if as_json:
        click.echo(json.dumps(catalogue, ensure_ascii=False, indent=2))
        return
    for item in catalogue:
        needs = ", ".join(item["required_variables"]) or "nothing"
        flag = " [marketing: needs consent]" if item["marketing"] else ""
        click.echo(f"{item['key']:<20} {item['names']['en']}{flag}")
        click.echo(f"{'':<20} variables: {needs}")
        if item["optional_variables"]:
            click.echo(f"{'':<20} optional: {', '.join(item['optional_variables'])}")


COMMANDS = [conversations_group]
