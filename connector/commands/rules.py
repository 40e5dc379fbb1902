"""`parlons rules list|show|simulate`: a shop's rules, one rule, and what a rule would have done."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from connector.services import rules as service


def _runtime():  # noqa: ANN202
    return current_app.extensions["parlons"]


def _fail(exc: service.RulesError) -> click.ClickException:
    text = "; ".join(f"{field}: {', '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
                     for field, msgs in exc.messages.items())
    return click.ClickException(text)


@click.group("rules")
def rules() -> None:
    """Automation rules: list them, show one, simulate one over a past period."""


@rules.command("list")
@click.option("--shop", required=True, help="The shop's domain (xxx.myshopify.com).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def list_command(shop: str, as_json: bool) -> None:
    """The shop's rules, by priority, with what they sent and the clicks they earned."""
    try:
        found = service.list_rules(_runtime(), shop)
    except service.RulesError as exc:
        raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    click.echo(f"{'ID':>5}  {'KEY':<24} {'TRIGGER':<18} {'KIND':<13} {'ON':<3} {'V':>3} {'SENT':>6} {'CLICKS':>6}")
    for r in found:
        click.echo(f"{r['id']:>5}  {r['key']:<24} {r['trigger']:<18} {r['kind']:<13} "
                   f"{'yes' if r['enabled'] else 'no':<3} {r['version']:>3} "
                   f"{r['stats']['sent']:>6} {r['stats']['clicks']:>6}")


@rules.command("show")
@click.argument("rule_id", type=int)
@click.option("--shop", help="Refuse unless the rule belongs to this shop.")
@with_appcontext
def show_command(rule_id: int, shop: str | None) -> None:
    """One rule as JSON: its definition, version and figures."""
    try:
        rule = service.show_rule(_runtime(), rule_id, shop, scoped=False)
    except service.RulesError as exc:
        raise _fail(exc) from exc
    click.echo(json.dumps(rule, ensure_ascii=False, indent=2))


def human_report(report: dict) -> str:
    """The simulation as a short table a merchant can read."""
    lines = [
        f"Rule {report['rule']} (#{report['rule_id']}, {report['shop']})",
        f"Period: {report['since']} -> {report['until']}",
        f"Store events replayed: {report['store_events']}, triggers: {report['triggers']}, "
        f"matched: {report['matched']}",
        "",
        f"Messages that would have gone out: {report['messages']} to {report['contacts']} contact(s)",
        f"Segments: {report['segments']}   Cost: {report['cost']} {report['currency'] or ''}".rstrip(),
        f"Deferred by the send window: {report['deferred_by_window']}   "
        f"Ended by an exit event: {report['exited']}   Still waiting at the end: {report['waiting_at_end']}",
    ]
    hours = {int(h): n for h, n in report["by_hour"].items() if n}
    if hours:
        lines += ["", "By hour of day (shop time):"]
        peak = max(hours.values())
        for hour in sorted(hours):
            bar = "#" * max(1, round(30 * hours[hour] / peak))
            lines.append(f"  {hour:02d}h  {hours[hour]:>6}  {bar}")
    lines += ["", f"Suppressed: {report['suppressed']}"]
    for reason, n in report["suppressed_reasons"].items():
        lines.append(f"  {n:>6}  {reason}")
    return "\n".join(lines)


@rules.command("simulate")
@click.argument("rule_id", type=int)
@click.option("--since", required=True, help="A duration back from --until (30d, 12h, 2w) or an ISO date.")
@click.option("--until", help="End of the period (ISO date or date-time; default now).")
@click.option("--shop", help="Refuse unless the rule belongs to this shop.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the API's answer).")
@with_appcontext
def simulate_command(rule_id: int, since: str, until: str | None, shop: str | None, as_json: bool) -> None:
    """Replay the stored store events of a period through RULE_ID; nothing is written or sent."""
    params = {"since": since, **({"until": until} if until else {})}
    try:
        report = service.simulate(_runtime(), rule_id, shop, params, scoped=False)
    except service.RulesError as exc:
        raise _fail(exc) from exc
    click.echo(json.dumps(report, ensure_ascii=False, indent=2) if as_json else human_report(report))


COMMANDS = [rules]
