"""Validating a document and its variables, with the errors worded as Shopify words them.

Shopify runs graphql-ruby: its static validation names unknown fields and arguments and missing
required arguments with its own messages, codes and a document path (`["query Name", "field",
...]`), and a bad variable answers "Variable $x of type T was provided invalid value" with the
`value` and its `problems`. graphql-core (the reference port of graphql-js) does the validating;
the three rules whose wording clients read are replaced by rules that say it Shopify's way, and
every other rule keeps graphql-core's message.
"""

from __future__ import annotations

import json
import re
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    ValidationRule,
    is_enum_type,
    is_non_null_type,
    is_required_argument,
    print_ast,
    specified_rules,
    type_from_ast,
    validate,
)
from graphql.utilities import validate_input_value
from graphql.validation import (
    FieldsOnCorrectTypeRule,
    KnownArgumentNamesRule,
    ProvidedRequiredArgumentsRule,
)


def document_path(ancestors: list[Any]) -> list[str]:
    """Where a node sits, as graphql-ruby reports it: operation, then fields and fragments."""
    path: list[str] = []
    for node in ancestors:
        if isinstance(node, OperationDefinitionNode):
            path.append(node.operation.value + (f" {node.name.value}" if node.name else ""))
        elif isinstance(node, FragmentDefinitionNode):
            path.append(f"fragment {node.name.value}")
        elif isinstance(node, FieldNode):
            path.append(node.alias.value if node.alias else node.name.value)
        elif isinstance(node, InlineFragmentNode):
            path.append(f"... on {node.type_condition.name.value}" if node.type_condition else "...")
        elif isinstance(node, FragmentSpreadNode):
            path.append(f"... {node.name.value}")
    return path


class _ShopifyRule(ValidationRule):
    def shopify_error(self, message: str, node: Any, ancestors: list[Any], extensions: dict,
                      tail: list[str]) -> None:
        error = GraphQLError(message, node, extensions=extensions)
        error.path = document_path(list(ancestors)) + tail  # graphql-ruby's path: in the document
        self.report_error(error)


class FieldsAreDefinedRule(_ShopifyRule):
    """`Field 'x' doesn't exist on type 'T'` (code `undefinedField`)."""

    def enter_field(self, node: FieldNode, _key, _parent, _path, ancestors) -> None:
        parent = self.context.get_parent_type()
        if parent is not None and self.context.get_field_def() is None:
            name = node.name.value
            self.shopify_error(f"Field '{name}' doesn't exist on type '{parent.name}'", node, ancestors,
                               {"code": "undefinedField", "typeName": parent.name, "fieldName": name}, [name])


class ArgumentsAreDefinedRule(_ShopifyRule):
    """`Field 'x' doesn't accept argument 'y'` (code `argumentNotAccepted`)."""

    def enter_field(self, node: FieldNode, _key, _parent, _path, ancestors) -> None:
        field = self.context.get_field_def()
        if field is None:
            return
        for argument in node.arguments or ():
            if argument.name.value not in field.args:
                name = node.name.value
                self.shopify_error(
                    f"Field '{name}' doesn't accept argument '{argument.name.value}'", argument,
                    ancestors, {"code": "argumentNotAccepted", "name": name, "typeName": "Field",
                                "argumentName": argument.name.value}, [name, argument.name.value])


class RequiredArgumentsRule(_ShopifyRule):
    """`Field 'x' is missing required arguments: a, b` (code `missingRequiredArguments`)."""

    def enter_field(self, node: FieldNode, _key, _parent, _path, ancestors) -> None:
        field = self.context.get_field_def()
        if field is None:
            return
        given = {argument.name.value for argument in node.arguments or ()}
        missing = [name for name, arg in field.args.items()
                   if is_required_argument(arg) and name not in given]
        if missing:
            name = node.name.value
            self.shopify_error(f"Field '{name}' is missing required arguments: {', '.join(missing)}", node,
                               ancestors, {"code": "missingRequiredArguments", "className": "Field",
                                           "name": name, "arguments": ", ".join(missing)}, [name])


_REPLACED = (FieldsOnCorrectTypeRule, KnownArgumentNamesRule, ProvidedRequiredArgumentsRule)
SHOPIFY_RULES = [rule for rule in specified_rules if rule not in _REPLACED] + [
    FieldsAreDefinedRule, ArgumentsAreDefinedRule, RequiredArgumentsRule]


def validation_errors(schema: GraphQLSchema, document: DocumentNode) -> list[dict]:
    return [error.formatted for error in validate(schema, document, SHOPIFY_RULES)]


def _value_at(value: Any, path: list) -> Any:
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _problem(message: str, path: list, given: Any, schema: GraphQLSchema) -> dict:
    """graphql-core's complaint about one input value as a graphql-ruby `problems` entry."""
    path = [str(step) if isinstance(step, str) else step for step in path]
    explanation = message
    if "not to be None" in message or "to be provided" in message:
        explanation = "Expected value to not be null"
    elif match := re.search(r"to include required field '(\w+)'", message):
        path, explanation = path + [match[1]], "Expected value to not be null"
    elif match := re.search(r"Expected value of type '(\w+)' not to include unknown field '(\w+)'", message):
        path, explanation = path + [match[2]], f"Field is not defined on {match[1]}"
    elif match := re.search(r"does not exist in '(\w+)' enum", message):
        enum = schema.get_type(match[1])
        names = ", ".join(enum.values) if enum is not None and is_enum_type(enum) else ""
        explanation = f"Expected {json.dumps(_value_at(given, path))} to be one of: {names}"
    elif match := re.search(r"^(?:Expected value of type '(\w+)'|(\w+) cannot represent)", message):
        explanation = f"Could not coerce value {json.dumps(_value_at(given, path))} to {match[1] or match[2]}"
    return {"path": path, "explanation": explanation}


def _problems(value: Any, var_type: Any, schema: GraphQLSchema) -> list[dict]:
    found: list[dict] = []
    validate_input_value(value, var_type, lambda error, path: found.append(_problem(error.message, path, value, schema)))
    return found


def variable_errors(schema: GraphQLSchema, operation: OperationDefinitionNode,
                    variables: dict | None) -> list[dict]:
    """Each declared variable checked against its type, as graphql-ruby reports a bad one."""
    errors: list[dict] = []
    given = variables or {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        var_type = type_from_ast(schema, definition.type)
        if var_type is None:  # an unknown type is a validation error already
            continue
        problems: list[dict] = []
        if name not in given or given[name] is None:
            if is_non_null_type(var_type) and definition.default_value is None:
                problems.append({"path": [], "explanation": "Expected value to not be null"})
        else:
            problems = _problems(given[name], var_type, schema)
        if problems:
            where = definition.loc.source.get_location(definition.loc.start)
            message = f"Variable ${name} of type {print_ast(definition.type)} was provided invalid value"
            first = problems[0]
            if first["path"]:
                message += f" for {'.'.join(map(str, first['path']))} ({first['explanation']})"
            errors.append({
                "message": message,
                "locations": [{"line": where.line, "column": where.column}],
                "extensions": {"value": given.get(name), "problems": problems},
            })
    return errors

