"""`parlons segments …` and `parlons campaigns …`: the same powers as /api/v1/segments and
/api/v1/campaigns, for the operator (every command names its shop)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from automations.segments import MarketingError
from connector.services import campaigns as service
from connector.worker.campaigns import advance_due

SHOP = click.option("--shop", required=True, help="The shop's domain (xxx.myshopify.com).")


def _runtime():  # noqa: ANN202
    return current_app.extensions["parlons"]


def _flatten(messages: Any, prefix: str = "") -> list[str]:
    if isinstance(messages, dict):
        return [line for key, value in messages.items() for line in _flatten(value, f"{prefix}{key}.")]
    texts = messages if isinstance(messages, list) else [messages]
    return [f"{prefix.rstrip('.')}: {text}" for text in texts]


def _run(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except MarketingError as exc:
        raise click.ClickException("; ".join(_flatten(exc.messages))) from exc


def _echo(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _json(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint=name) from exc


@click.group("segments")
def segments_group() -> None:
    """Segments of a shop's contacts: list, create, change, count, sample."""


@segments_group.command("list")
@SHOP
@with_appcontext
def segments_list(shop: str) -> None:
    """The shop's segments, built-in ones included."""
    for segment in _run(lambda: service.list_segments(_runtime(), shop)):
        click.echo(f"{segment['id']:>5}  {segment['key']:<24} v{segment['version']:<3} {segment['name']}")


@segments_group.command("show")
@click.argument("segment_id", type=int)
@SHOP
@with_appcontext
def segments_show(segment_id: int, shop: str) -> None:
    _echo(_run(lambda: service.show_segment(_runtime(), shop, segment_id)))


@segments_group.command("create")
@SHOP
@click.option("--key", required=True)
@click.option("--name", required=True)
@click.option("--conditions", required=True, help='JSON: {"all": [{"field": ..., "op": ..., "value": ...}]}')
@with_appcontext
def segments_create(shop: str, key: str, name: str, conditions: str) -> None:
    body = {"key": key, "name": name, "conditions": _json(conditions, "--conditions")}
    _echo(_run(lambda: service.create_segment(_runtime(), shop, body)))


@segments_group.command("update")
@click.argument("segment_id", type=int)
@SHOP
@click.option("--name", required=True)
@click.option("--conditions", required=True, help="JSON condition tree")
@with_appcontext
def segments_update(segment_id: int, shop: str, name: str, conditions: str) -> None:
    """Replace a segment's name and conditions (a new version when they change)."""
    body = {"name": name, "conditions": _json(conditions, "--conditions")}
    _echo(_run(lambda: service.update_segment(_runtime(), shop, segment_id, body)))


@segments_group.command("delete")
@click.argument("segment_id", type=int)
@SHOP
@with_appcontext
def segments_delete(segment_id: int, shop: str) -> None:
    _run(lambda: service.delete_segment(_runtime(), shop, segment_id))
    click.echo(f"segment {segment_id} deleted")


@segments_group.command("count")
@click.argument("segment_id", type=int, required=False)
@SHOP
@click.option("--conditions", help="count a definition not saved yet (JSON)")
@click.option("--sample", "sample_size", type=int, default=0, help="also show this many matching contacts")
@with_appcontext
def segments_count(segment_id: int | None, shop: str, conditions: str | None, sample_size: int) -> None:
    """How many contacts match, how many are reachable, and why the others are not."""
    if segment_id is None and conditions is None:
        raise click.UsageError("give a SEGMENT_ID or --conditions")
    body = {"segment_id": segment_id} if segment_id else {"conditions": _json(conditions or "", "--conditions")}
    found = _run(lambda: service.count_segment(_runtime(), shop, body, sample_size))
    reasons = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in found["unreachable"].items() if v)
    click.echo(f"matching {found['matching']}, reachable {found['reachable']}" + (f" ({reasons})" if reasons else ""))
    for contact in found.get("sample", []):
        click.echo(f"  {contact['id']:>8}  {contact['phone'] or '-':<16} {contact['first_name'] or ''}"
                   f"  {contact['unreachable_reason'] or 'reachable'}")


@click.group("campaigns")
def campaigns_group() -> None:
    """Campaigns: create, estimate, test, schedule, pause, resume, cancel, report."""


@campaigns_group.command("list")
@SHOP
@with_appcontext
def campaigns_list(shop: str) -> None:
    for c in _run(lambda: service.list_campaigns(_runtime(), shop)):
        p = c["progress"]
        click.echo(f"{c['id']:>5}  {c['status']:<10} {c['name']:<32} sent {p['sent']:>7}  queued {p['queued']:>7}")


@campaigns_group.command("show")
@click.argument("campaign_id", type=int)
@SHOP
@with_appcontext
def campaigns_show(campaign_id: int, shop: str) -> None:
    """The campaign as JSON, with its progress."""
    _echo(_run(lambda: service.show_campaign(_runtime(), shop, campaign_id)))


@campaigns_group.command("create")
@SHOP
@click.option("--file", "source", type=click.File("r"), required=True, help="the campaign as JSON (- for stdin)")
@with_appcontext
def campaigns_create(shop: str, source: Any) -> None:
    body = _json(source.read(), "--file")
    _echo(_run(lambda: service.create_campaign(_runtime(), shop, body)))


@campaigns_group.command("estimate")
@click.argument("campaign_id", type=int)
@SHOP
@with_appcontext
def campaigns_estimate(campaign_id: int, shop: str) -> None:
    """Reachable, excluded by reason, each variant as composed, cost by country, last send time."""
    _echo(_run(lambda: service.estimate(_runtime(), shop, campaign_id)))


@campaigns_group.command("test")
@click.argument("campaign_id", type=int)
@SHOP
@click.option("--phone", required=True)
@click.option("--variant", default=None, help="A, B, C or D (A by default)")
@with_appcontext
def campaigns_test(campaign_id: int, shop: str, phone: str, variant: str | None) -> None:
    """Send one variant to one number now."""
    _echo(_run(lambda: service.test_send(_runtime(), shop, campaign_id, phone, variant)))


@campaigns_group.command("schedule")
@click.argument("campaign_id", type=int)
@SHOP
@click.option("--at", "at", default=None, help="ISO date-time (the shop's zone when it has no offset)")
@click.option("--local", "local", default=None, help="YYYY-MM-DDTHH:MM, the same local time for each recipient")
@with_appcontext
def campaigns_schedule(campaign_id: int, shop: str, at: str | None, local: str | None) -> None:
    """Schedule a draft: now (no option), at a time, or at each recipient's local time."""
    if at and local:
        raise click.UsageError("--at or --local, not both")
    body: dict[str, Any] = {"mode": "now"}
    if at:
        body = {"mode": "at", "at": at}
    elif local:
        day, _, hour = local.partition("T")
        body = {"mode": "local", "date": day, "time": hour}
    found = _run(lambda: service.schedule(_runtime(), shop, campaign_id, body))
    click.echo(f"campaign {campaign_id} scheduled for {found['send_at']}")


def _transition(action: str) -> click.Command:
    @click.argument("campaign_id", type=int)
    @SHOP
    @with_appcontext
    def command(campaign_id: int, shop: str) -> None:
        found = _run(lambda: service.transition(_runtime(), shop, campaign_id, action))
        click.echo(f"campaign {campaign_id}: {found['status']}")

    return click.command(action, help=f"{action.capitalize()} the campaign.")(command)


for _action in ("pause", "resume", "cancel"):
    campaigns_group.add_command(_transition(_action))


@campaigns_group.command("report")
@click.argument("campaign_id", type=int)
@SHOP
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def campaigns_report(campaign_id: int, shop: str, as_json: bool) -> None:
    """What the campaign earned, per variant and by day."""
    found = _run(lambda: service.report(_runtime(), shop, campaign_id))
    if as_json:
        _echo(found)
        return
    rows = [("All", found), *((f"Variant {v['label']}", v) for v in found["variants"])]
    click.echo(f"{'':<12} {'Sent':>7} {'Deliv.':>7} {'Clicks':>7} {'CTR':>6} {'Opt-outs':>8} {'Orders':>6} "
               f"{'Revenue':>10} {'Cost':>8} {'ROI':>7}")
    for name, f in rows:
        ctr = f"{f['ctr'] * 100:.1f}%" if f["ctr"] is not None else "-"
        roi = f"{f['roi']:.1f}x" if f["roi"] is not None else "-"
        click.echo(f"{name:<12} {f['sent']:>7} {f['delivered']:>7} {f['unique_clicks']:>7} {ctr:>6} "
                   f"{f['opt_outs']:>8} {f['orders']:>6} {f['revenue']:>10} {f['cost']:>8} {roi:>7}")
    if found.get("ab_result"):
        ab = found["ab_result"]
        click.echo(f"A/B winner {ab['winner']} by {ab['metric']}: lift {ab['lift']}, p = {ab['p_value']} "
                   f"({'significant' if ab['significant'] else 'not significant'}; {ab['test']})")


@campaigns_group.command("run")
@with_appcontext
def campaigns_run() -> None:
    """Start due campaigns and move sending ones on now (the worker does this by itself)."""
    for done in advance_due(_runtime()):
        click.echo(json.dumps(done))


COMMANDS = (segments_group, campaigns_group)
