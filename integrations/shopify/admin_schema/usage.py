"""What a document uses: each selected field with the access it needs, and what is deprecated."""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    ArgumentNode,
    DocumentNode,
    EnumValueNode,
    FieldNode,
    GraphQLSchema,
    InlineFragmentNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    is_enum_type,
    visit,
)

from integrations.shopify.admin_schema.access import AccessIndex, Requirement
from integrations.shopify.admin_schema.validation import document_path


@dataclass(frozen=True)
class FieldAccess:
    """A selected field (or type condition) whose type or definition needs access."""

    coordinate: str  # "QueryRoot.shopLocales", "AbandonedCheckoutLineItem.product"
    path: tuple[str, ...]  # where in the document: ("query ShopInfo", "shopLocales")
    requirement: Requirement
    field_name: str


@dataclass(frozen=True)
class Deprecation:
    coordinate: str  # "Customer.email", "QueryRoot.webhookSubscriptions(callbackUrl:)"
    reason: str
    path: tuple[str, ...]


class _UsageVisitor(Visitor):
    def __init__(self, type_info: TypeInfo, requirements: AccessIndex) -> None:
        super().__init__()
        self.type_info = type_info
        self.requirements = requirements
        self.accesses: list[FieldAccess] = []
        self.deprecations: list[Deprecation] = []

    def enter_field(self, node: FieldNode, _key, _parent, _path, ancestors) -> None:
        parent = self.type_info.get_parent_type()
        field = self.type_info.get_field_def()
        if parent is None or field is None:
            return
        name = node.name.value
        where = tuple(document_path(list(ancestors)) + [node.alias.value if node.alias else name])
        coordinate = f"{parent.name}.{name}"
        for requirement in self.requirements.for_field(parent.name, name, get_named_type(field.type).name):
            self.accesses.append(FieldAccess(coordinate, where, requirement, name))
        if field.deprecation_reason:
            self.deprecations.append(Deprecation(coordinate, field.deprecation_reason, where))

    def enter_inline_fragment(self, node: InlineFragmentNode, _key, _parent, _path, ancestors) -> None:
        if node.type_condition is None:
            return
        requirement = self.requirements.type(node.type_condition.name.value)
        if requirement is not None:
            where = tuple(document_path(list(ancestors) + [node]))
            self.accesses.append(FieldAccess(node.type_condition.name.value, where, requirement,
                                             where[-2] if len(where) > 1 else where[-1]))

    def enter_argument(self, node: ArgumentNode, _key, _parent, _path, ancestors) -> None:
        argument = self.type_info.get_argument()
        parent = self.type_info.get_parent_type()
        field = next((a for a in reversed(ancestors) if isinstance(a, FieldNode)), None)
        if argument is None or parent is None or field is None or not argument.deprecation_reason:
            return
        coordinate = f"{parent.name}.{field.name.value}({node.name.value}:)"
        self.deprecations.append(Deprecation(coordinate, argument.deprecation_reason,
                                             tuple(document_path(list(ancestors)))))

    def enter_enum_value(self, node: EnumValueNode, *_args) -> None:
        enum = get_named_type(self.type_info.get_input_type())
        if enum is not None and is_enum_type(enum):
            value = enum.values.get(node.value)
            if value is not None and value.deprecation_reason:
                self.deprecations.append(Deprecation(f"{enum.name}.{node.value}", value.deprecation_reason, ()))


def document_usage(schema: GraphQLSchema, document: DocumentNode,
                   requirements: AccessIndex) -> tuple[list[FieldAccess], list[Deprecation]]:
    """Walk a valid document: the access each selection needs, the deprecated things it uses."""
    type_info = TypeInfo(schema)
    visitor = _UsageVisitor(type_info, requirements)
    visit(document, TypeInfoVisitor(type_info, visitor))
    return visitor.accesses, visitor.deprecations
