"""Shopify's access requirements, read from the `requiredAccess` sentences of its published schema.

Shopify writes each requirement as English, for example:
  "`read_locales` access scope or `read_markets_home` access scope."
  "Any of `write_content`, `write_online_store_pages` access scopes."
  "`write_products` access scope as well as any of `write_own_subscription_contracts`,
   `write_purchase_options` access scopes. Also: The user must have ... permission."
A `Requirement` keeps the sentence as published and reads it as clauses that must all hold, each
satisfied by any one of its scopes. What the sentence asks beyond scopes (a staff member's
permission, a plan, a kind of token, a condition on some input) is kept in `conditions`: it is
reported, not enforced, since an offline token acts for no staff member.

Granted scopes are widened before checking: a `write_x` scope grants `read_x` too ("Any scope that
writes a resource also grants read access to it", Shopify's access-scope guide).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

DOCUMENTATION = "https://shopify.dev/api/usage/access-scopes"

_TOKEN = re.compile(r"`([a-z][a-z0-9_]*)`(\s+user permission)?")
_BARE = re.compile(r"\b(read|write)_([a-z0-9_]+)")


@dataclass(frozen=True)
class Requirement:
    """What Shopify requires to read a type or field; `text` is its own sentence."""

    text: str
    clauses: tuple[frozenset[str], ...] = ()
    conditions: tuple[str, ...] = ()

    def satisfied_by(self, granted: Iterable[str]) -> bool:
        have = widen(granted)
        return all(clause & have for clause in self.clauses)

    def scopes(self) -> set[str]:
        return set().union(*self.clauses) if self.clauses else set()


def widen(granted: Iterable[str]) -> frozenset[str]:
    """The scopes a token holds, with the read scope that each write scope implies."""
    scopes = {scope.strip() for scope in granted if scope and scope.strip()}
    return frozenset(scopes | {"read_" + s[len("write_"):] for s in scopes if s.startswith("write_")})


def parse_scope_list(value: str | Iterable[str] | None) -> frozenset[str]:
    """Scopes as Shopify sends them (`"read_orders,write_customers"`) or as a list."""
    if value is None:
        return frozenset()
    items = value.split(",") if isinstance(value, str) else list(value)
    return frozenset(item.strip() for item in items if item and item.strip())


def _clause(part: str, *, mutation: bool) -> frozenset[str]:
    scopes: set[str] = set()
    for name, user_permission in _TOKEN.findall(part):
        if user_permission:  # "or `manage_delivery_settings` user permission": not a scope
            continue
        if name.startswith(("read_", "write_", "unauthenticated_")):
            scopes.add(name)
        elif mutation:  # "`orders` access scope" on a mutation
            scopes.add("write_" + name)
        else:  # "Any of `shipping` access scopes": read or write
            scopes |= {"read_" + name, "write_" + name}
    return frozenset(scopes)


def parse_required_access(text: str | None, *, mutation: bool = False) -> Requirement | None:
    """Read one `requiredAccess` sentence; `mutation` for the fields of the Mutation root."""
    if not text or not text.strip():
        return None
    text = text.strip()
    main, _, also = text.partition("Also:")
    conditions: list[str] = []
    clauses: list[frozenset[str]] = []
    if "for queries and both" in main:
        # "`read_markets` for queries and both `read_markets` as well as `write_markets` for mutations."
        queries, _, mutations = main.partition("for queries and both")
        parts = mutations.split(" as well as ") if mutation else [queries]
    else:
        parts = main.split(" as well as ")
    for part in parts:
        clause = _clause(part, mutation=mutation)
        if clause:
            clauses.append(clause)
    if not clauses:
        conditions.append(main.strip())
    also = also.strip()
    if also:
        if also.startswith("Requires") and _TOKEN.search(also):
            clauses.append(_clause(also, mutation=mutation))
        else:
            conditions.append(also)
    return Requirement(text=text, clauses=tuple(clauses), conditions=tuple(conditions))


def webhook_topic_requirement(description: str | None) -> Requirement | None:
    """The scope a webhook topic needs, as its enum value's description states it:
    "Requires the `read_orders` scope." or "Requires at least one of the following scopes:
    read_orders, read_marketplace_orders."
    """
    if not description or "Requires" not in description:
        return None
    sentence = description[description.index("Requires"):].strip()
    scopes = frozenset(f"{verb}_{rest}" for verb, rest in _BARE.findall(sentence))
    if not scopes:
        return Requirement(text=sentence, conditions=(sentence,))
    return Requirement(text=sentence, clauses=(scopes,))


class AccessIndex:
    """Every `requiredAccess` of a published schema, parsed once: by type, and by type and field."""

    def __init__(self, introspection: dict) -> None:
        schema = introspection["__schema"]
        mutation_root = (schema.get("mutationType") or {}).get("name")
        self._types: dict[str, Requirement] = {}
        self._fields: dict[tuple[str, str], Requirement] = {}
        self._topics: dict[str, Requirement] = {}
        self._connections: dict[str, str] = {}  # "CustomerConnection" -> "Customer"
        for kind in schema["types"]:
            name = kind["name"]
            if name.endswith("Connection"):
                nodes = next((f["type"] for f in kind.get("fields") or () if f["name"] == "nodes"), None)
                while nodes is not None and nodes.get("ofType") is not None:
                    nodes = nodes["ofType"]
                if nodes is not None:
                    self._connections[name] = nodes["name"]
            if found := parse_required_access(kind.get("requiredAccess")):
                self._types[name] = found
            for field in kind.get("fields") or ():
                found = parse_required_access(field.get("requiredAccess"), mutation=name == mutation_root)
                if found:
                    self._fields[(name, field["name"])] = found
            if name == "WebhookSubscriptionTopic":
                for value in kind.get("enumValues") or ():
                    if found := webhook_topic_requirement(value.get("description")):
                        self._topics[value["name"]] = found

    def type(self, name: str) -> Requirement | None:
        return self._types.get(name)

    def field(self, type_name: str, field_name: str) -> Requirement | None:
        return self._fields.get((type_name, field_name))

    def for_field(self, parent: str, field: str, returns: str) -> list[Requirement]:
        """What selecting `parent.field` (returning the named type `returns`) needs: the field's
        own requirement, its type's, and for a connection its nodes' type's (Shopify documents
        `customers` as needing `read_customers`, whether or not any customer comes back)."""
        found = [self.field(parent, field), self.type(returns)]
        if returns in self._connections:
            found.append(self.type(self._connections[returns]))
        unique: dict[str, Requirement] = {}
        for requirement in found:
            if requirement is not None:
                unique.setdefault(requirement.text, requirement)
        return list(unique.values())

    def webhook_topic(self, topic: str) -> Requirement | None:
        """What subscribing to a topic (`ORDERS_CREATE`) needs; None when it needs no scope."""
        return self._topics.get(topic)
