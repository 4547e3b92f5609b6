"""What one GraphQL page of an org's repositories says, node by node, with no I/O.

GitHub answers a GraphQL query with what it could resolve and an `errors` entry for
each field it could not, with the `path` to that field; a field that may not be null
takes its parent with it, so a repository whose protection is refused ("Resource not
accessible by integration", type FORBIDDEN) comes back as a null node.
https://docs.github.com/en/graphql/guides/forming-calls-with-graphql#communicating-with-graphql
https://github.com/fpicalausa/remove-stale-branches/issues/49 (FORBIDDEN errors with paths)
The nodes without an error are judged from the page; the others go to REST.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

NODES_PATH = ("organization", "repositories", "nodes")
# Fields GitHub may refuse without the node being unjudgeable: who may bypass a
# ruleset is shown only to callers who may write it, and REST hides it alike.
HIDDEN_FIELDS = frozenset({"bypassActors"})


def _message(error: Mapping[str, Any]) -> str:
    kind = error.get("type")
    text = str(error.get("message") or "no message")
    return f"{kind}: {text}" if kind else text


def node_errors(errors: Iterable[Mapping[str, Any]]) -> dict[int, str]:
    """Map the index of each repository node an error points into to GitHub's message."""
    found: dict[int, str] = {}
    for error in errors:
        path = list(error.get("path") or ())
        if tuple(path[:3]) != NODES_PATH or len(path) < 4 or not isinstance(path[3], int):
            continue
        if HIDDEN_FIELDS.intersection(p for p in path[4:] if isinstance(p, str)):
            continue
        found.setdefault(path[3], _message(error))
    return found


def unanswered(
    nodes: Sequence[Mapping[str, Any] | None], errors: Iterable[Mapping[str, Any]]
) -> dict[int, str]:
    """Return the nodes GraphQL did not answer for (index → why): an error, or a null node."""
    found = node_errors(errors)
    for index, node in enumerate(nodes):
        if node is None:
            found.setdefault(index, "GitHub returned no data for the repository")
    return found


def page_reason(errors: Iterable[Mapping[str, Any]], status: int | None = None) -> str:
    """Say why a whole page failed: GitHub's first error message, or the HTTP status."""
    messages = [_message(e) for e in errors]
    if messages:
        return messages[0]
    return f"HTTP {status}" if status else "no answer"


def is_not_found(errors: Iterable[Mapping[str, Any]]) -> bool:
    """Tell whether GitHub says the organization does not exist (or is a user)."""
    return any(e.get("type") == "NOT_FOUND" for e in errors)
