"""`parlons sms …`: choose a shop's SMS provider, sender and failover; run a dispatch worker."""

from __future__ import annotations

import re
import threading

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from automations.models import Shop, ShopSmsSettings
from connector.worker.dispatch_loop import run
from integrations.providers import PROVIDERS
from integrations.sms import SenderKind

_SENDER_FORMS = {
    SenderKind.NUMBER: (re.compile(r"^\+[1-9]\d{6,14}$"), "a number in E.164, such as +33757000001"),
    SenderKind.SHORT_CODE: (re.compile(r"^\d{3,8}$"), "3 to 8 digits, such as 36180"),
    SenderKind.ALPHANUMERIC: (re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$"),
                              "1 to 11 letters, digits or spaces, at least one letter"),
    SenderKind.MESSAGING_SERVICE: (re.compile(r"^MG[0-9a-f]{32}$"), "a Messaging Service SID (MG + 32 hex)"),
}


class RouteSchema(Schema):
    provider = fields.String(required=True, validate=validate.OneOf(list(PROVIDERS)))
    sender_kind = fields.String(load_default="number", validate=validate.OneOf([k.value for k in SenderKind]))
    sender = fields.String(required=True)
    sender_mps = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0.01, max=10_000))
    failover_provider = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(list(PROVIDERS)))
    failover_sender_kind = fields.String(load_default=None, allow_none=True,
                                         validate=validate.OneOf([k.value for k in SenderKind]))
    failover_sender = fields.String(load_default=None, allow_none=True)

    @validates_schema(skip_on_field_errors=False)
    def _senders(self, data: dict, **_kwargs) -> None:
        errors: dict[str, list[str]] = {}
        for kind_key, sender_key in (("sender_kind", "sender"), ("failover_sender_kind", "failover_sender")):
            value = data.get(sender_key)
            if value is None:
                continue
            kind = data.get(kind_key) or "number"
            if kind not in set(SenderKind):
                continue
            pattern, form = _SENDER_FORMS[SenderKind(kind)]
            if not pattern.match(value):
                errors[sender_key] = [f"must be {form}"]
        if bool(data.get("failover_provider")) != bool(data.get("failover_sender")):
            errors["failover_sender"] = ["a failover needs both a provider and a sender"]
        if data.get("failover_provider") == data.get("provider") and data.get("failover_sender") == data.get("sender"):
            errors.setdefault("failover_sender", []).append("the failover must differ from the primary route")
        if errors:
            raise ValidationError(errors)


@click.group("sms")
def sms() -> None:
    """SMS providers and dispatch."""


@sms.command("route")
@click.argument("domain")
@click.option("--provider", required=True, help=f"One of {', '.join(PROVIDERS)}.")
@click.option("--sender", required=True, help="Number, short code, alphanumeric sender or MG… SID.")
@click.option("--kind", "sender_kind", default="number", show_default=True,
              help="number, short_code, alphanumeric or messaging_service.")
@click.option("--mps", "sender_mps", type=float, help="Messages per second of this sender (default: the provider's).")
@click.option("--failover", "failover_provider", help="Provider to send through while the first is failing.")
@click.option("--failover-sender")
@click.option("--failover-kind", "failover_sender_kind")
@with_appcontext
def route(domain: str, **options) -> None:
    """Choose how the shop DOMAIN sends its SMS."""
    try:
        data = RouteSchema().load({k: v for k, v in options.items() if v is not None})
    except ValidationError as error:
        for field, messages in sorted(error.normalized_messages().items()):
            click.echo(f"{field}: {'; '.join(messages)}", err=True)
        raise SystemExit(2) from None
    runtime = current_app.extensions["parlons"]
    with runtime.db.transaction() as session:
        shop = session.scalar(sa.select(Shop).where(Shop.domain == domain))
        if shop is None:
            raise click.ClickException(f"no shop {domain}")
        session.merge(ShopSmsSettings(shop_id=shop.id, **data))
    failover = f", failover {data['failover_provider']} from {data['failover_sender']}" if data["failover_provider"] else ""
    click.echo(f"{domain} sends through {data['provider']} from {data['sender']}{failover}")


@sms.command("dispatch")
@with_appcontext
def dispatch() -> None:
    """Run a dispatch worker in this process until interrupted (Ctrl-C)."""
    stop = threading.Event()
    try:
        run(current_app.extensions["parlons"], stop)
    except KeyboardInterrupt:
        stop.set()


COMMANDS = [sms]
