"""Message templates: Jinja2 in a sandbox, plain text, forgiving about missing data.

`{{ first_name | default("client") }}` renders the fallback when the value is missing or None;
a plain `{{ missing }}` renders nothing; None never renders as "None". Templates are merchant
input: they render on a sandboxed environment without loaders, so they cannot reach Python
internals, include files or import macros.
"""

from __future__ import annotations

import traceback
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, Template, nodes
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.meta import find_undeclared_variables
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from automations import events as ev

_CONTACT = {
    "first_name": "Recipient's first name (may be missing: use a default)",
    "last_name": "Recipient's last name",
    "shop_name": "The shop's name",
    "shop_url": "The shop's home page",
}
_DISCOUNT = {"discount_code": "A discount code attached to the flow or campaign"}
_LINE_ITEMS = {
    "line_items": "List of items, each with title, variant_title, quantity and price",
    "product_title": "Title of the first item",
}
_ORDER = {
    "order_name": "Order name as the customer knows it, e.g. #1001",
    "order_total": "Order total with currency, e.g. 49,90 €",
    "order_status_url": "Page where the customer follows the order",
    **_LINE_ITEMS,
}
_TRACKING = {
    "order_name": _ORDER["order_name"],
    "tracking_number": "Carrier tracking number",
    "tracking_url": "Carrier tracking page",
    "carrier": "Carrier name, e.g. Colissimo",
}

VARIABLES: dict[str, dict[str, str]] = {
    ev.CART_ABANDONED: {
        **_CONTACT,
        "checkout_url": "Link back to the abandoned cart",
        "cart_total": "Cart total with currency",
        **_LINE_ITEMS,
        **_DISCOUNT,
    },
    ev.ORDER_PLACED: {**_CONTACT, **_ORDER},
    ev.ORDER_PAID: {**_CONTACT, **_ORDER},
    ev.ORDER_FULFILLED: {**_CONTACT, **_ORDER, **_TRACKING},
    ev.ORDER_CANCELLED: {**_CONTACT, **_ORDER, "cancel_reason": "Why the order was cancelled"},
    ev.ORDER_SHIPPED: {**_CONTACT, **_TRACKING, **_LINE_ITEMS},
    ev.OUT_FOR_DELIVERY: {**_CONTACT, **_TRACKING},
    ev.DELIVERED: {
        **_CONTACT,
        **_TRACKING,
        **_LINE_ITEMS,
        "review_url": "Page where the customer reviews the order",
        **_DISCOUNT,
    },
    ev.DELIVERY_PROBLEM: {
        **_CONTACT,
        **_TRACKING,
        "delivery_status": "What the carrier reports, e.g. failed attempt",
    },
    ev.CUSTOMER_CREATED: {**_CONTACT, **_DISCOUNT},
    ev.CONSENT_GRANTED: {**_CONTACT, **_DISCOUNT},
    ev.NO_ORDER_SINCE: {
        **_CONTACT,
        "days_since_last_order": "Whole days since the last order",
        "last_order_name": "Name of the last order",
        **_DISCOUNT,
    },
    ev.DATE_REACHED: {
        **_CONTACT,
        "date_name": "What the date is, e.g. birthday",
        "date": "The date reached, e.g. 14/02",
        **_DISCOUNT,
    },
    ev.INBOUND_REPLY: {
        **_CONTACT,
        "reply_text": "What the customer wrote",
        "keyword": "The recognised keyword or answer, e.g. OUI or 3",
    },
}
CAMPAIGN = "Campaign"  # campaigns are not events: they get the contact variables only
VARIABLES[CAMPAIGN] = {**_CONTACT, **_DISCOUNT}

_FORBIDDEN_TAGS = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)
_UNSAFE_NAMES = frozenset(
    {"mro", "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code", "f_globals"}
)


class TemplateError(ValueError):
    """A template that does not compile, uses what the sandbox forbids, or fails to render."""

    def __init__(self, line: int | None, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}" if line else reason)


class _Environment(SandboxedEnvironment):
    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # Fail loudly instead of rendering an unsafe access as empty text.
        raise SecurityError(f"access to {attribute!r} is not allowed")


_ENV = _Environment(
    autoescape=False,
    undefined=ChainableUndefined,
    finalize=lambda value: "" if value is None else value,
    keep_trailing_newline=False,
)


def variables_for(trigger: str) -> dict[str, str]:
    """Variable name -> description for templates of a trigger (an event type or "Campaign")."""
    try:
        return dict(VARIABLES[trigger])
    except KeyError:
        raise ValueError(f"no templates for trigger {trigger!r}") from None


def validate(source: str) -> None:
    """Raise TemplateError(line, reason) unless `source` compiles within the sandbox's rules."""
    _compile(source)


def unknown_variables(source: str, trigger: str) -> list[str]:
    """Variables the template uses that the trigger does not document (likely typos)."""
    used = find_undeclared_variables(_parse(source))
    return sorted(used - set(variables_for(trigger)))


def render(source: str, variables: dict[str, Any]) -> str:
    """Render a template; None values count as missing so their `default(...)` applies."""
    template = _compile(source)
    context = {k: v for k, v in variables.items() if v is not None}
    try:
        return template.render(context)
    except (JinjaTemplateError, SecurityError, ArithmeticError, TypeError, ValueError) as exc:
        raise TemplateError(_template_line(exc), _reason(exc)) from exc


@lru_cache(maxsize=1024)
def _compile(source: str) -> Template:
    tree = _parse(source)
    for node in tree.find_all(_FORBIDDEN_TAGS):
        tag = type(node).__name__.lower().replace("fromimport", "from … import")
        raise TemplateError(node.lineno, f"'{tag}' is not allowed in SMS templates")
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else _const(node.arg)
        if name is not None and (name.startswith("_") or name in _UNSAFE_NAMES):
            raise TemplateError(node.lineno, f"access to {name!r} is not allowed")
    try:
        return _ENV.from_string(tree)
    except JinjaTemplateError as exc:
        raise TemplateError(getattr(exc, "lineno", None), _reason(exc)) from exc


def _parse(source: str) -> nodes.Template:
    try:
        return _ENV.parse(source)
    except JinjaTemplateError as exc:
        raise TemplateError(getattr(exc, "lineno", None), _reason(exc)) from exc


def _const(node: nodes.Node) -> str | None:
    return node.value if isinstance(node, nodes.Const) and isinstance(node.value, str) else None


def _reason(exc: Exception) -> str:
    return (getattr(exc, "message", None) or str(exc) or type(exc).__name__).rstrip(".")


def _template_line(exc: Exception) -> int | None:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<template>"]
    return frames[-1].lineno if frames else None
