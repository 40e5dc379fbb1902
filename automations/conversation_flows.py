"""Reply-driven conversations, the flow format: a flow is data (`FlowDefinition`), loadable from
a JSON-able dict checked by `FlowSchema`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from automations import keywords, templating

ACTION_TYPES = ("send", "send_link", "checkout_link", "set_property", "webhook", "handoff")
_NEEDS_TEMPLATE = ("send", "send_link", "checkout_link")


@dataclass(frozen=True, eq=False)
class Action:
    """One thing an answer does.

    send: text `template`; send_link: `template` with the link held in variable `name` (default
    "link"); checkout_link: `template` with `{{ checkout_url }}` (the cart's abandoned-checkout
    URL, else the shop's `checkout_url_template`); set_property: contact property `name` =
    `value` (a template); webhook: an `OutboundWrite` to the shop's webhook, event `name`, extra
    data `value`; handoff: to a person, reason `value`, optional `template` told to the customer.
    """

    type: str
    template: str | None = None
    name: str | None = None
    value: Any = None


@dataclass(frozen=True, eq=False)
class ExpectedAnswer(keywords.Answer):
    """An expected answer, what it does, and the step to ask next (None ends the conversation)."""

    actions: tuple[Action, ...] = ()
    next: str | None = None


@dataclass(frozen=True)
class Step:
    question: str
    answers: tuple[ExpectedAnswer, ...]
    reprompt: str | None = None  # default: "I did not understand, reply A, B or C"


@dataclass(frozen=True)
class Reminder:
    after: timedelta
    template: str


@dataclass(frozen=True)
class FlowDefinition:
    """A reply-driven flow. Answers are accepted until the earliest of `timeout` after the start
    and `expires_at_local` (next occurrence of that shop-local time, "00:00" = midnight); a
    late answer gets `expired`. After `max_reprompts` unexpected replies a person takes over."""

    key: str
    steps: Mapping[str, Step]
    start: str = "start"
    locale: str = "fr"
    name: str = ""
    marketing: bool = False  # the first question carries the opt-out mention
    max_reprompts: int = 1
    timeout: timedelta | None = None
    expires_at_local: str | None = None
    expired: str | None = None
    handoff_message: str | None = None
    reminder: Reminder | None = None

    def to_dict(self) -> dict[str, Any]:
        return FlowSchema().dump(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlowDefinition:
        """Validate and load a flow; raises marshmallow.ValidationError naming the bad field."""
        return FlowSchema().load(data)


def _template(value: str | None) -> None:
    if value:
        try:
            templating.validate(value)
        except templating.TemplateError as exc:
            raise ValidationError(str(exc)) from exc


class ActionSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(ACTION_TYPES))
    template = fields.String(allow_none=True, load_default=None, validate=_template)
    name = fields.String(allow_none=True, load_default=None)
    value = fields.Raw(allow_none=True, load_default=None)

    @validates_schema
    def _complete(self, data: dict[str, Any], **_: Any) -> None:
        if data["type"] in _NEEDS_TEMPLATE and not data.get("template"):
            raise ValidationError(f"a {data['type']} action needs a template", "template")
        if data["type"] in ("set_property", "webhook") and not data.get("name"):
            raise ValidationError(f"a {data['type']} action needs a name", "name")

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Action:
        return Action(**data)


class AnswerSchema(Schema):
    key = fields.String(required=True, validate=validate.Length(min=1, max=40))
    synonyms = fields.List(fields.String(), load_default=list)
    number = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(0, 99))
    actions = fields.List(fields.Nested(ActionSchema), load_default=list)
    next = fields.String(allow_none=True, load_default=None)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> ExpectedAnswer:
        return ExpectedAnswer(data["key"], tuple(data["synonyms"]), data["number"],
                              tuple(data["actions"]), data["next"])


class StepSchema(Schema):
    question = fields.String(required=True, validate=[validate.Length(min=1), _template])
    answers = fields.List(fields.Nested(AnswerSchema), required=True,
                          validate=validate.Length(min=1))
    reprompt = fields.String(allow_none=True, load_default=None, validate=_template)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Step:
        return Step(data["question"], tuple(data["answers"]), data["reprompt"])


class ReminderSchema(Schema):
    after = fields.TimeDelta(required=True)
    template = fields.String(required=True, validate=_template)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Reminder:
        return Reminder(**data)


class FlowSchema(Schema):
    key = fields.String(required=True, validate=validate.Length(min=1, max=64))
    steps = fields.Dict(keys=fields.String(), values=fields.Nested(StepSchema), required=True)
    start = fields.String(load_default="start")
    locale = fields.String(load_default="fr")
    name = fields.String(load_default="")
    marketing = fields.Boolean(load_default=False)
    max_reprompts = fields.Integer(load_default=1, validate=validate.Range(0, 5))
    timeout = fields.TimeDelta(allow_none=True, load_default=None)
    expires_at_local = fields.String(allow_none=True, load_default=None)
    expired = fields.String(allow_none=True, load_default=None, validate=_template)
    handoff_message = fields.String(allow_none=True, load_default=None, validate=_template)
    reminder = fields.Nested(ReminderSchema, allow_none=True, load_default=None)

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        steps = data["steps"]
        if data["start"] not in steps:
            raise ValidationError(f"start step {data['start']!r} is not defined", "start")
        for name, step in steps.items():
            for answer in step.answers:
                if answer.next is not None and answer.next not in steps:
                    raise ValidationError(f"step {name!r}: answer {answer.key!r} goes to an "
                                          f"undefined step {answer.next!r}", "steps")
        if data.get("expires_at_local"):
            try:
                time.fromisoformat(data["expires_at_local"])
            except ValueError as exc:
                raise ValidationError("must be HH:MM", "expires_at_local") from exc

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> FlowDefinition:
        return FlowDefinition(**data)
