"""Check GraphQL queries against GitHub's schema and estimate what they cost.

The schema is the copy of GitHub's SDL in ``bot/sandbox/spec/schema.graphql.gz``.
GitHub's rules beyond the schema are checked here too: every connection needs
``first`` or ``last`` in 1..100, and a query costs about the number of
connection requests it implies divided by 100, at least 1.
https://docs.github.com/graphql/overview/rate-limits-and-node-limits-for-the-graphql-api
"""

from __future__ import annotations

import functools
import gzip
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    build_schema,
    get_named_type,
    parse,
    validate,
    value_from_ast_untyped,
)

MAX_PAGE = 100
MAX_NODES = 500_000


@dataclass(frozen=True)
class Connection:
    """One connection field a query asks for, with its page size."""

    name: str
    limit: int | None  # first/last as given; None when neither was given
    known: bool  # False when the size comes from a variable without a value
    requests: int  # how many times it is fetched: the product of enclosing page sizes
    lists_items: bool  # selects nodes or edges (GitHub lets `totalCount` alone go unpaged)


@functools.cache
def load_graphql_schema() -> GraphQLSchema:
    """Return GitHub's GraphQL schema, built once."""
    spec = resources.files("bot.sandbox").joinpath("spec", "schema.graphql.gz")
    with spec.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as sdl:
        # GitHub's published SDL breaks rules graphql-core enforces on schemas
        # (a field defined twice, deprecated fields implementing live interface
        # fields); GitHub serves it as is, so trust it instead of refusing it.
        return build_schema(sdl.read(), assume_valid=True, assume_valid_sdl=True)


def validate_query(query: str, variables: Mapping[str, Any] | None = None) -> list[str]:
    """Return what GitHub would refuse in ``query`` ([] when it is valid)."""
    try:
        document = parse(query)
    except GraphQLError as error:
        return [error.message]
    schema = load_graphql_schema()
    errors = [error.message for error in validate(schema, document)]
    if errors:
        return errors
    return [problem for c in connections(document, variables) if (problem := page_error(c))]


def page_error(connection: Connection) -> str | None:
    """Return GitHub's complaint about a connection's page size, or None."""
    name = connection.name
    if not connection.lists_items:
        return None
    if connection.limit is None:
        return (
            f"You must provide a `first` or `last` value to properly paginate "
            f"the `{name}` connection."
        )
    if connection.known and not 1 <= connection.limit <= MAX_PAGE:
        return (
            f"Requesting {connection.limit} records on the `{name}` connection "
            f"exceeds the `first` limit of {MAX_PAGE} records."
        )
    return None


def node_cost(query: str, variables: Mapping[str, Any] | None = None) -> int:
    """Estimate GitHub's rate-limit points for ``query``: requests / 100, at least 1."""
    requests = sum(c.requests for c in connections(parse(query), variables))
    return max(1, round(requests / 100))


def node_count(query: str, variables: Mapping[str, Any] | None = None) -> int:
    """Return the most nodes ``query`` can return (GitHub refuses over 500,000)."""
    found = connections(parse(query), variables)
    return sum(c.requests * _page(c) for c in found if c.lists_items)


def _page(connection: Connection) -> int:
    return connection.limit if connection.known and connection.limit else MAX_PAGE


def connections(
    document: DocumentNode, variables: Mapping[str, Any] | None = None
) -> list[Connection]:
    """Return every connection the document's first operation asks for."""
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    walker = _Walker(document, operation, variables or {})
    root = load_graphql_schema().get_root_type(operation.operation)
    return [] if root is None else list(walker.walk(operation.selection_set, root, 1))


class _Walker:
    def __init__(
        self,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
    ) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        defaults = {
            v.variable.name.value: value_from_ast_untyped(v.default_value)
            for v in operation.variable_definitions or ()
            if v.default_value is not None
        }
        self.variables = {**defaults, **variables}

    def walk(
        self, selections: SelectionSetNode | None, parent: GraphQLNamedType, requests: int
    ) -> Iterator[Connection]:
        for node in selections.selections if selections else ():
            if isinstance(node, FieldNode):
                yield from self.field(node, parent, requests)
            elif isinstance(node, InlineFragmentNode):
                yield from self.walk(node.selection_set, self.condition(node, parent), requests)
            elif isinstance(node, FragmentSpreadNode):
                fragment = self.fragments[node.name.value]
                yield from self.walk(
                    fragment.selection_set, self.condition(fragment, parent), requests
                )

    def condition(
        self, node: InlineFragmentNode | FragmentDefinitionNode, parent: GraphQLNamedType
    ) -> GraphQLNamedType:
        if node.type_condition is None:
            return parent
        found = load_graphql_schema().get_type(node.type_condition.name.value)
        return found or parent

    def field(
        self, node: FieldNode, parent: GraphQLNamedType, requests: int
    ) -> Iterator[Connection]:
        definition = getattr(parent, "fields", {}).get(node.name.value)
        if definition is None:
            return
        named = get_named_type(definition.type)
        paged = {"first", "last"} & set(definition.args)
        if not (named.name.endswith("Connection") and paged):
            yield from self.walk(node.selection_set, named, requests)
            return
        limit, known = self.page_size(node)
        items = self.selects_items(node.selection_set)
        yield Connection(node.name.value, limit, known, requests, items)
        yield from self.walk(node.selection_set, named, requests * (limit or MAX_PAGE))

    def selects_items(self, selections: SelectionSetNode | None) -> bool:
        for node in selections.selections if selections else ():
            if isinstance(node, FieldNode) and node.name.value in ("nodes", "edges"):
                return True
            if isinstance(node, InlineFragmentNode) and self.selects_items(node.selection_set):
                return True
            if isinstance(node, FragmentSpreadNode):
                fragment = self.fragments[node.name.value]
                if self.selects_items(fragment.selection_set):
                    return True
        return False

    def page_size(self, node: FieldNode) -> tuple[int | None, bool]:
        for argument in node.arguments or ():
            if argument.name.value not in ("first", "last"):
                continue
            value = value_from_ast_untyped(argument.value, self.variables)
            if isinstance(value, int):
                return value, True
            if value is Undefined:  # a variable whose value is not known here
                return MAX_PAGE, False
        return None, True
