import pytest

from bot.sandbox.graphql_schema import (
    load_graphql_schema,
    node_cost,
    node_count,
    validate_query,
)

ORG_REPOSITORIES = """
query($org: String!, $cursor: String) {
  organization(login: $org) {
    repositories(first: 100, after: $cursor) {
      pageInfo { hasNextPage endCursor }
      nodes { ...Repo }
    }
  }
  rateLimit { cost remaining resetAt }
}
fragment Repo on Repository {
  name isArchived isFork
  defaultBranchRef { name }
  branchProtectionRules(first: 10) {
    nodes { pattern requiresApprovingReviews requiredApprovingReviewCount isAdminEnforced }
  }
}
"""

# The worked example in GitHub's rate-limit documentation: 1 + 100 + 5,000 requests.
DOCS_EXAMPLE = """
query {
  viewer {
    login
    repositories(first: 100) {
      edges { node { id issues(first: 50) {
        edges { node { id labels(first: 60) { edges { node { name } } } } }
      } } }
    }
  }
}
"""


def test_schema_knows_github_types() -> None:
    schema = load_graphql_schema()
    assert schema.get_type("BranchProtectionRule") is not None
    assert load_graphql_schema() is schema


def test_org_repositories_query_is_valid() -> None:
    assert validate_query(ORG_REPOSITORIES, {"org": "acme"}) == []


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ('{ organization(login: "a") { nope } }', "Cannot query field 'nope'"),
        ("{ organization { name } }", "organization(login:)' of type 'String!' is required"),
        ("{ organization(login: ", "Syntax Error"),
        (
            '{ organization(login: "a") { repositories { nodes { name } } } }',
            "You must provide a `first` or `last` value to properly paginate the `repositories`",
        ),
        (
            '{ organization(login: "a") { repositories(first: 101) { nodes { name } } } }',
            "Requesting 101 records on the `repositories` connection",
        ),
        (
            '{ organization(login: "a") { repositories(last: 0) { nodes { name } } } }',
            "Requesting 0 records",
        ),
    ],
)
def test_invalid_queries_are_refused(query: str, fragment: str) -> None:
    errors = validate_query(query)
    assert any(fragment in error for error in errors), errors


def test_page_size_from_variables_is_checked() -> None:
    query = (
        'query($n: Int) { organization(login: "a") { repositories(first: $n) { nodes { name } } } }'
    )
    assert validate_query(query) == []
    assert validate_query(query, {"n": 50}) == []
    assert "Requesting 500 records" in validate_query(query, {"n": 500})[0]


def test_total_count_alone_needs_no_page_size() -> None:
    query = '{ organization(login: "a") { repositories { totalCount } } }'
    assert validate_query(query) == []


def test_cost_follows_githubs_worked_example() -> None:
    assert node_cost(DOCS_EXAMPLE) == 51
    assert node_count(DOCS_EXAMPLE) == 100 + 5_000 + 300_000


def test_org_scan_page_costs_one_point() -> None:
    # 1 request for repositories + 100 for their protection rules = 101 → 1 point.
    assert node_cost(ORG_REPOSITORIES, {"org": "acme"}) == 1


def test_cost_is_at_least_one() -> None:
    assert node_cost("{ viewer { login } }") == 1
