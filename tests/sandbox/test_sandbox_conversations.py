"""Issues, comments, reactions, check runs and GraphQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.clock import FakeClock
from bot.sandbox import Sandbox
from bot.sandbox.graphql_schema import validate_query
from tests.manifest import APP_PERMISSIONS


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    sb = Sandbox(clock=FakeClock(), permissions=APP_PERMISSIONS)
    sb.state.add_org("acme")
    sb.state.add_repo("acme", ".github")
    sb.state.add_repo("acme", "quiet", has_issues=False)
    await sb.start()
    yield sb
    await sb.stop()


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    token = sandbox.state.create_token(sandbox.state.install("acme")).token
    async with aiohttp.ClientSession(sandbox.url, headers={"Authorization": f"token {token}"}) as s:
        yield s


async def call(
    http: aiohttp.ClientSession, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, path, json=body) as response:
        text = await response.text()
        return response.status, (await response.json() if text else None)


async def test_issues_disabled_is_410(http: aiohttp.ClientSession) -> None:
    assert (await call(http, "POST", "/repos/acme/quiet/issues", {"title": "x"}))[0] == 410
    assert (await call(http, "GET", "/repos/acme/quiet/issues"))[0] == 410


async def test_body_too_long_is_422(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    status, body = await call(
        http, "POST", "/repos/acme/.github/issues", {"title": "x", "body": "a" * 65537}
    )
    assert status == 422
    assert body["errors"][0]["message"] == "Body is too long"
    assert sandbox.state.issues("acme", ".github") == []


async def test_issue_by_the_app_is_found_by_label(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    status, issue = await call(
        http,
        "POST",
        "/repos/acme/.github/issues",
        {"title": "Report", "body": "b", "labels": ["repo-protection"]},
    )
    assert status == 201
    assert issue["user"] == {**issue["user"], "login": "bulwark[bot]", "type": "Bot"}
    assert issue["performed_via_github_app"]["slug"] == "bulwark"
    sandbox.state.add_issue("acme", ".github", title="Other", author="alice")
    status, found = await call(
        http, "GET", "/repos/acme/.github/issues?labels=repo-protection&state=all"
    )
    assert [i["number"] for i in found] == [issue["number"]]


async def test_comment_edit_and_reactions(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    number = sandbox.state.add_pull("acme", ".github", head_sha="a" * 40, author="alice")
    status, comment = await call(
        http, "POST", f"/repos/acme/.github/issues/{number}/comments", {"body": "hi"}
    )
    assert status == 201
    path = f"/repos/acme/.github/issues/comments/{comment['id']}"
    assert (await call(http, "PATCH", path, {"body": "edited"}))[1]["body"] == "edited"
    assert (await call(http, "POST", path + "/reactions", {"content": "eyes"}))[0] == 201
    assert (await call(http, "POST", path + "/reactions", {"content": "eyes"}))[0] == 200
    assert [c["body"] for c in sandbox.state.comments("acme", ".github", number)] == ["edited"]
    assert len(sandbox.state.reactions("issue_comment", comment["id"])) == 1


async def test_duplicate_label_is_422(http: aiohttp.ClientSession) -> None:
    body = {"name": "repo-protection", "color": "d73a4a"}
    assert (await call(http, "POST", "/repos/acme/.github/labels", body))[0] == 201
    status, answer = await call(http, "POST", "/repos/acme/.github/labels", body)
    assert (status, answer["errors"][0]["code"]) == (422, "already_exists")


async def test_check_run_create_update_list(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    sha = sandbox.state.repo("acme", ".github").branches["main"]
    body = {"name": "repo-protection", "head_sha": sha, "status": "in_progress"}
    status, run = await call(http, "POST", "/repos/acme/.github/check-runs", body)
    assert status == 201
    update = {
        "conclusion": "failure",
        "output": {"title": "t", "summary": "s"},
        "actions": [
            {"label": "Fix protection", "description": "Apply the policy", "identifier": "fix"}
        ],
    }
    status, run = await call(http, "PATCH", f"/repos/acme/.github/check-runs/{run['id']}", update)
    assert (status, run["status"], run["conclusion"]) == (200, "completed", "failure")
    status, listed = await call(
        http, "GET", f"/repos/acme/.github/commits/{sha}/check-runs?check_name=repo-protection"
    )
    assert [r["id"] for r in listed["check_runs"]] == [run["id"]]
    too_many = {
        **body,
        "actions": [{"label": "x", "description": "y", "identifier": str(i)} for i in range(4)],
    }
    assert (await call(http, "POST", "/repos/acme/.github/check-runs", too_many))[0] == 422


QUERY = """
query($org: String!, $after: String) {
  rateLimit { cost remaining resetAt limit used }
  organization(login: $org) {
    repositories(first: 2, after: $after, orderBy: {field: NAME, direction: ASC}) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        name nameWithOwner isArchived isFork isPrivate isEmpty isDisabled viewerPermission
        defaultBranchRef { name target { oid } }
        branchProtectionRules(first: 10) { nodes {
          pattern isAdminEnforced requiredApprovingReviewCount
          requiredStatusChecks { context app { databaseId } } } }
        rulesets(first: 1) { totalCount }
        refs(refPrefix: "refs/heads/", first: 10) { nodes { name } }
        policy: object(expression: "HEAD:.github/repo-protection.yml") { ... on Blob { text } }
      }
    }
  }
}
"""


async def test_graphql_pages_through_repositories(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    state = sandbox.state
    state.add_repo("acme", "alpha", branches=("main", "dev"))
    state.set_protection(
        "acme",
        "alpha",
        "main",
        {
            "enforce_admins": True,
            "restrictions": None,
            "required_pull_request_reviews": {"required_approving_review_count": 2},
            "required_status_checks": {
                "strict": True,
                "checks": [{"context": "test", "app_id": 15368}],
            },
        },
    )
    state.add_file("acme", "alpha", ".github/repo-protection.yml", "mode: report\n")
    assert validate_query(QUERY) == []
    status, page = await call(
        http, "POST", "/graphql", {"query": QUERY, "variables": {"org": "acme"}}
    )
    assert status == 200 and "errors" not in page, page
    repos = page["data"]["organization"]["repositories"]
    assert repos["totalCount"] == 3 and repos["pageInfo"]["hasNextPage"]
    alpha = repos["nodes"][1]
    assert [n["name"] for n in repos["nodes"]] == [".github", "alpha"]
    assert alpha["branchProtectionRules"]["nodes"] == [
        {
            "pattern": "main",
            "isAdminEnforced": True,
            "requiredApprovingReviewCount": 2,
            "requiredStatusChecks": [{"context": "test", "app": {"databaseId": 15368}}],
        }
    ]
    assert [r["name"] for r in alpha["refs"]["nodes"]] == ["dev", "main"]
    assert alpha["policy"] == {"text": "mode: report\n"}
    assert alpha["viewerPermission"] == "ADMIN"
    assert page["data"]["rateLimit"]["remaining"] < 5000
    after = repos["pageInfo"]["endCursor"]
    status, page = await call(
        http, "POST", "/graphql", {"query": QUERY, "variables": {"org": "acme", "after": after}}
    )
    assert [n["name"] for n in page["data"]["organization"]["repositories"]["nodes"]] == ["quiet"]


async def test_graphql_invalid_query_answers_200_with_errors(http: aiohttp.ClientSession) -> None:
    status, body = await call(
        http, "POST", "/graphql", {"query": '{ organization(login: "acme") { nope } }'}
    )
    assert status == 200
    assert body["errors"] and "data" not in body


async def test_graphql_unknown_org_is_not_found(http: aiohttp.ClientSession) -> None:
    query = '{ organization(login: "ghost") { login } }'
    status, body = await call(http, "POST", "/graphql", {"query": query})
    assert status == 200
    assert body["data"]["organization"] is None
    assert body["errors"][0]["type"] == "NOT_FOUND"


async def test_merge_is_linked_to_its_pull_request_only_after_the_lag(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    state = sandbox.state
    sha = state.add_commit("acme", ".github", "main", message="Merge", author="bob")
    number = state.add_pull(
        "acme", ".github", head_sha=state.new_sha(), author="bob", merged=True,
        merge_commit_sha=sha, association_lag=10.0,
    )  # fmt: skip
    assert await call(http, "GET", f"/repos/acme/.github/commits/{sha}/pulls") == (200, [])
    _, listed = await call(
        http, "GET", "/repos/acme/.github/pulls?state=closed&base=main&sort=updated&direction=desc"
    )
    assert [(p["number"], p["merge_commit_sha"]) for p in listed] == [(number, sha)]

    assert isinstance(sandbox.clock, FakeClock)
    sandbox.clock.advance(10.0)
    _, linked = await call(http, "GET", f"/repos/acme/.github/commits/{sha}/pulls")
    assert [p["number"] for p in linked] == [number]
