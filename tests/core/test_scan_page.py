"""Which repository nodes of a GraphQL page GitHub answered for."""

from bot.core.scan_page import is_not_found, node_errors, page_reason, unanswered

NODES = ["organization", "repositories", "nodes"]


def test_an_error_into_a_node_marks_that_node():
    errors = [
        {
            "type": "FORBIDDEN",
            "message": "Resource not accessible by integration",
            "path": [*NODES, 2, "branchProtectionRules"],
        },
    ]
    assert node_errors(errors) == {2: "FORBIDDEN: Resource not accessible by integration"}


def test_hidden_bypass_actors_do_not_mark_the_node():
    path = [*NODES, 1, "rulesets", "nodes", 0, "bypassActors"]
    assert node_errors([{"type": "FORBIDDEN", "message": "no", "path": path}]) == {}


def test_errors_outside_the_nodes_mark_none():
    assert node_errors([{"message": "x", "path": ["organization"]}, {"message": "y"}]) == {}


def test_a_null_node_without_an_error_is_unanswered_too():
    found = unanswered([{"name": "a"}, None], [])
    assert list(found) == [1]


def test_page_reasons_and_not_found():
    assert page_reason([], 502) == "HTTP 502"
    assert page_reason([{"message": "Something went wrong"}]) == "Something went wrong"
    assert is_not_found([{"type": "NOT_FOUND", "message": "Could not resolve"}])
    assert not is_not_found([{"type": "FORBIDDEN", "message": "no"}])
