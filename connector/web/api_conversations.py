"""REST API v1: start a reply-driven conversation (a ready-made scenario or a flow of your own).

`POST /api/v1/conversations` {"shop", "to", "scenario" | "flow", "variables"} -> 201 with the
conversation, the contact and the first question (sent by the dispatcher at once). Refusals are
`{"error": ..., "messages": {field: [...]}}`: 400 invalid, 404 unknown shop, 409 when the contact
cannot be asked (replied STOP, no marketing consent for a marketing flow, handled by a person).
`GET /api/v1/conversations/scenarios` lists the ready-made scenarios with their variables.

`start_conversation` is shared by this endpoint, `parlons conversations start` and the demo.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jinja2
import sqlalchemy as sa
from jinja2 import nodes
from marshmallow import INCLUDE, Schema, ValidationError, fields
from sqlalchemy.orm import Session

from automations import contacts, conversations
from automations.conversation_flows import FlowDefinition
from automations.events import ContactData
from automations.models import Shop, utcnow
from automations.scenarios import SCENARIOS, flow_for, list_scenarios
from connector.runtime import Runtime
from connector.web import rt
from connector.web.rest import (
    SHOP_FIELD,
    ApiError,
    ShopQuery,
    api_blueprint,
    idempotent,
    request_shop,
)
from connector.web.rest.auth import optional_shop
from connector.web.rest.errors import handle_api_error

bp = api_blueprint("conversations", "Reply-driven conversations: start one, list the scenarios")

# Variables every conversation has without being given (contact, shop, the answer being read).
BUILT_IN = frozenset({"first_name", "last_name", "shop_name", "shop_url", "shop_domain", "answer",
                      "reply_text", "checkout_url", "checkout_token", "subject_key"})
_PARSER = jinja2.Environment()


class StartError(ValueError):
    """A conversation that cannot start: HTTP-like status and messages per field."""

    def __init__(self, status: int, messages: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in messages.items()))
        self.status, self.messages = status, messages


def flow_variables(flow: FlowDefinition) -> tuple[list[str], list[str]]:
    """(required, optional) variables the flow's texts use, besides the built-in ones.

    A variable is optional when every use of it has a `default(...)`; a link a `send_link`
    action sends is required."""
    texts = [flow.expired, flow.handoff_message, flow.reminder.template if flow.reminder else None]
    required: set[str] = set()
    optional: set[str] = set()
    for step in flow.steps.values():
        texts += [step.question, step.reprompt]
        for action in (a for answer in step.answers for a in answer.actions):
            texts.append(action.template)
            if action.type == "set_property" and isinstance(action.value, str):
                texts.append(action.value)
            if action.type == "send_link":
                required.add(action.name or "link")
    for text in filter(None, texts):
        tree = _PARSER.parse(text)
        defaulted = {id(f.node) for f in tree.find_all(nodes.Filter)
                     if f.name in ("default", "d") and isinstance(f.node, nodes.Name)}
        for name in tree.find_all(nodes.Name):
            if name.ctx == "load":
                (optional if id(name) in defaulted else required).add(name.name)
    required -= BUILT_IN
    return sorted(required), sorted(optional - required - BUILT_IN)


def scenario_catalogue() -> list[dict[str, Any]]:
    """The ready-made scenarios: key, industry, name per language, variables and an example."""
    out = []
    for scenario in list_scenarios():
        required, optional = flow_variables(scenario.variants["fr"])
        out.append({
            "key": scenario.key, "industry": scenario.industry,
            "names": {lang: flow.name for lang, flow in scenario.variants.items()},
            "languages": sorted(scenario.variants), "marketing": scenario.variants["fr"].marketing,
            "required_variables": required, "optional_variables": optional,
            "example": {k: v for k, v in scenario.example.items() if v is not None},
        })
    return out


def start_conversation(
    session: Session, data: dict[str, Any], now: datetime | None = None
) -> dict[str, Any]:
    """Open a conversation for `data["to"]` at `data["shop"]` and schedule its first question.

    The phone becomes a contact if it is new (with no consent). Raises StartError."""
    now = now or utcnow()
    errors: dict[str, list[str]] = {}
    domain, to = data.get("shop"), data.get("to")
    variables = data.get("variables") if data.get("variables") is not None else {}
    if not isinstance(domain, str) or not domain:
        errors["shop"] = ["the shop's domain is required"]
    if not isinstance(to, str) or not to.strip():
        errors["to"] = ["the recipient's phone is required"]
    if not isinstance(variables, dict):
        errors["variables"] = ["must be an object of name -> value"]
    scenario, flow_data = data.get("scenario"), data.get("flow")
    if bool(scenario) == bool(flow_data):
        errors["scenario"] = ["give either a scenario key or a flow definition"]
    elif scenario and scenario not in SCENARIOS:
        errors["scenario"] = [f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}"]
    if errors:
        raise StartError(400, errors)
    shop = session.scalar(sa.select(Shop).where(Shop.domain == domain))
    if shop is None or not shop.active:
        raise StartError(404, {"shop": [f"no installed shop {domain!r}"]})
    phone = contacts.normalise_phone(to, shop.default_region)
    if phone.e164 is None:
        raise StartError(400, {"to": [phone.error or "not a phone number"]})
    existing = contacts.find_contact(session, shop, ContactData(phone=phone.e164), phone.e164)
    locale = existing.locale if existing is not None else None
    if scenario:
        flow = flow_for(scenario, data.get("locale") or locale or shop.locale)
    else:
        try:
            flow = FlowDefinition.from_dict(flow_data)
        except (ValidationError, TypeError) as exc:
            messages = exc.messages if isinstance(exc, ValidationError) else str(exc)
            raise StartError(400, {"flow": [str(messages)]}) from exc
    required, _ = flow_variables(flow)
    missing = [name for name in required if variables.get(name) in (None, "")]
    if missing:
        raise StartError(400, {"variables": [f"missing: {', '.join(missing)}"]})
    contact = contacts.upsert_contact(session, shop, ContactData(phone=phone.e164),
                                      source="api").contact
    try:
        conversation, question = conversations.start(session, shop, contact, flow,
                                                     dict(variables), now)
    except conversations.ConversationRefused as exc:
        raise StartError(409, {"to": [str(exc)]}) from exc
    return {
        "conversation_id": conversation.id, "status": conversation.status,
        "flow_key": conversation.flow_key, "locale": flow.locale, "contact_id": contact.id,
        "contact_created": existing is None,
        "to": contact.phone_e164, "message_id": question.id, "question": question.body,
        "expires_at": conversation.expires_at.isoformat() if conversation.expires_at else None,
        "url": f"/admin/conversations/{conversation.id}",
    }


def start_and_signal(runtime: Runtime, data: dict[str, Any]) -> dict[str, Any]:
    """Start in its own transaction, then wake the dispatcher so the question leaves now."""

    with runtime.db.transaction() as session:
        result = start_conversation(session, data)
    runtime.signal("dispatch")
    return result


class StartBody(Schema):
    class Meta:
        unknown = INCLUDE

    shop = fields.String(metadata=SHOP_FIELD)
    to = fields.String(required=True, metadata={"description": "the recipient's phone, any format"})
    scenario = fields.String(metadata={"description": "a ready-made scenario's key (or give a flow)"})
    flow = fields.Dict(metadata={"description": "a flow definition of your own (or give a scenario)"})
    variables = fields.Dict(allow_none=True, metadata={"description": "name -> value for the texts"})
    locale = fields.String(allow_none=True)


class StartedSchema(Schema):
    conversation_id = fields.Integer(required=True)
    status = fields.String(required=True)
    flow_key = fields.String(allow_none=True)
    locale = fields.String(allow_none=True)
    contact_id = fields.Integer(required=True)
    contact_created = fields.Boolean(required=True)
    to = fields.String(allow_none=True)
    message_id = fields.Integer(required=True)
    question = fields.String(allow_none=True)
    expires_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    url = fields.String(required=True)


class ScenarioSchema(Schema):
    key = fields.String(required=True)
    industry = fields.String(required=True)
    names = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    languages = fields.List(fields.String(), required=True)
    marketing = fields.Boolean(required=True)
    required_variables = fields.List(fields.String(), required=True)
    optional_variables = fields.List(fields.String(), required=True)
    example = fields.Dict(required=True)


class ScenarioListSchema(Schema):
    scenarios = fields.List(fields.Nested(ScenarioSchema), required=True)


@bp.errorhandler(StartError)
def _refused(exc: StartError):  # noqa: ANN202
    names = {400: "invalid", 404: "not_found", 409: "refused"}
    return handle_api_error(ApiError(exc.status, exc.messages, error=names.get(exc.status, "invalid")))


@bp.post("/conversations")
@bp.arguments(StartBody)
@idempotent
@bp.response(201, StartedSchema)
def create(body: dict[str, Any]):  # noqa: ANN201
    """Start a conversation: the first question leaves at once."""
    with rt().db.session() as session:
        domain = request_shop(session).domain
    return start_and_signal(rt(), {**body, "shop": domain})


@bp.get("/conversations/scenarios")
@bp.arguments(ShopQuery, location="query")
@bp.response(200, ScenarioListSchema)
def scenarios(_args: dict[str, Any]):  # noqa: ANN201
    """The ready-made scenarios (the same for every shop; a key may only name its own)."""
    with rt().db.session() as session:
        optional_shop(session)
    return {"scenarios": scenario_catalogue()}
