"""What reports on a commit, code scanning default setup, and merging as GitHub decides it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.clock import FakeClock
from bot.sandbox import Sandbox
from bot.sandbox.state import CiCheck
from tests.manifest import APP_PERMISSIONS

SETUP = "/repos/acme/{repo}/code-scanning/default-setup"
ROLLUP = """
query($owner: String!, $name: String!) {
  repository(owner: $owner, name: $name) {
    defaultBranchRef { target { ... on Commit { statusCheckRollup { contexts(first: 50) {
      nodes { __typename ... on CheckRun { name checkSuite { app { databaseId slug } } }
              ... on StatusContext { context } } } } } } }
    pullRequests(first: 5, orderBy: {field: UPDATED_AT, direction: DESC}) {
      nodes { headRefOid statusCheckRollup { contexts(first: 50) { nodes { __typename
        ... on CheckRun { name } ... on StatusContext { context } } } } } }
    languages(first: 10) { nodes { name } }
  }
}
"""


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    sb = Sandbox(clock=FakeClock(), permissions=APP_PERMISSIONS)
    state = sb.state
    state.add_org("acme")
    state.add_repo(
        "acme", "web", ci=[CiCheck("test"), CiCheck("lint", None)], languages={"Python": 900}
    )
    state.add_repo("acme", "bare", languages={"Python": 10})
    state.add_repo("acme", "docs", languages={"Markdown": 10})
    state.add_repo("acme", "secret", private=True, languages={"Go": 10})
    state.add_repo("acme", "paid", private=True, languages={"Go": 10}).code_security = True
    state.add_repo("acme", "custom", languages={"Java": 10}).code_scanning.advanced = True
    state.add_repo("acme", "old", archived=True, languages={"Ruby": 10})
    await sb.start()
    yield sb
    await sb.stop()
    assert state.violations == []


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    token = sandbox.state.create_token(sandbox.state.install("acme")).token
    async with aiohttp.ClientSession(sandbox.url) as session:
        session.headers["Authorization"] = f"token {token}"
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, path, json=body) as response:
        text = await response.text()
        return response.status, (await response.json() if text else None)


async def test_ci_reports_on_every_new_commit_as_its_app(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    state = sandbox.state
    sha = state.add_commit("acme", "web", "main", author="alice")
    status, body = await call(http, "GET", f"/repos/acme/web/commits/{sha}/check-runs")
    assert status == 200
    assert [(r["name"], r["app"]["slug"], r["app"]["id"]) for r in body["check_runs"]] == [
        ("test", "github-actions", 15368)
    ]
    assert [s["context"] for s in state.repo("acme", "web").statuses[sha]] == ["lint"]
    assert state.check_runs("acme", "bare") == []


async def test_graphql_rollup_shows_checks_and_statuses_of_head_and_pull_heads(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    state = sandbox.state
    state.add_pull("acme", "web", head_sha="c" * 40, author="bob")
    state.report_check("acme", "web", "c" * 40, "e2e", app="circleci-checks")
    status, body = await call(
        http, "POST", "/graphql", {"query": ROLLUP, "variables": {"owner": "acme", "name": "web"}}
    )
    assert status == 200 and "errors" not in body
    repo = body["data"]["repository"]
    head = repo["defaultBranchRef"]["target"]["statusCheckRollup"]["contexts"]["nodes"]
    assert {n.get("name") or n.get("context") for n in head} == {"test", "lint"}
    run = next(n for n in head if n["__typename"] == "CheckRun")
    assert run["checkSuite"]["app"] == {"databaseId": 15368, "slug": "github-actions"}
    [pull] = repo["pullRequests"]["nodes"]
    assert {
        n.get("name") or n.get("context") for n in pull["statusCheckRollup"]["contexts"]["nodes"]
    } == {"test", "lint", "e2e"}
    assert repo["languages"]["nodes"] == [{"name": "Python"}]


async def test_default_setup_turns_on_and_reports_codeql_after_its_first_analysis(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    state = sandbox.state
    assert (await call(http, "GET", SETUP.format(repo="bare")))[1]["state"] == "not-configured"
    number = state.add_pull("acme", "bare", head_sha="d" * 40, author="bob")

    status, body = await call(http, "PATCH", SETUP.format(repo="bare"), {"state": "configured"})
    assert status == 202 and set(body) == {"run_id", "run_url"}
    got = (await call(http, "GET", SETUP.format(repo="bare")))[1]
    assert got["state"] == "configured" and got["languages"] == ["python"]
    assert state.check_runs("acme", "bare") == []  # nothing before the first analysis
    # A second, different change while the first is being applied: 409.
    assert (await call(http, "PATCH", SETUP.format(repo="bare"), {"state": "not-configured"}))[
        0
    ] == 409
    assert (await call(http, "PATCH", SETUP.format(repo="bare"), {"state": "configured"}))[0] == 200

    assert state.run_analyses() == ["acme/bare"]
    head = state.repo("acme", "bare").branches["main"]
    runs = {(r["head_sha"], r["name"], r["app_id"]) for r in state.check_runs("acme", "bare")}
    assert runs == {(head, "CodeQL", 57789), ("d" * 40, "CodeQL", 57789)}
    later = state.add_commit("acme", "bare", "main", author="alice")
    assert any(
        r["head_sha"] == later and r["name"] == "CodeQL" for r in state.check_runs("acme", "bare")
    )
    assert state.repo("acme", "bare").pulls[number]["state"] == "open"


async def test_default_setup_without_a_supported_language_never_analyses(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    assert (await call(http, "PATCH", SETUP.format(repo="docs"), {"state": "configured"}))[0] == 202
    assert sandbox.state.run_analyses() == []
    assert sandbox.state.check_runs("acme", "docs") == []


@pytest.mark.parametrize(
    ("repo", "method", "status", "message"),
    [
        (
            "secret",
            "GET",
            403,
            "Code Security must be enabled for this repository to use code scanning.",
        ),
        (
            "secret",
            "PATCH",
            403,
            "Code Security must be enabled for this repository to use code scanning.",
        ),
        ("old", "PATCH", 403, "Repository was archived so is read-only."),
        ("custom", "PATCH", 422, "advanced setup"),
    ],
)
async def test_default_setup_refusals(
    http: aiohttp.ClientSession, repo: str, method: str, status: int, message: str
) -> None:
    body = {"state": "configured"} if method == "PATCH" else None
    got, answer = await call(http, method, SETUP.format(repo=repo), body)
    assert got == status and message in answer["message"]


async def test_private_repository_with_code_security_may_turn_it_on(
    http: aiohttp.ClientSession,
) -> None:
    assert (await call(http, "PATCH", SETUP.format(repo="paid"), {"state": "configured"}))[0] == 202


async def test_an_app_without_administration_write_may_read_but_not_change_it(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    for installation in sandbox.state.installations.values():
        installation.permissions = {"administration": "read", "metadata": "read"}
    assert (await call(http, "GET", SETUP.format(repo="bare")))[0] == 200
    status, body = await call(http, "PATCH", SETUP.format(repo="bare"), {"state": "configured"})
    assert (status, body["message"]) == (403, "Resource not accessible by integration")
    assert sandbox.state.repo("acme", "bare").code_scanning.state == "not-configured"


async def test_merge_waits_for_required_checks_and_approvals(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    state = sandbox.state
    state.set_protection(
        "acme",
        "web",
        "main",
        {
            "required_status_checks": {
                "strict": False,
                "checks": [{"context": "test"}, {"context": "CodeQL"}],
            },
            "enforce_admins": True,
            "required_pull_request_reviews": {"required_approving_review_count": 1},
            "restrictions": None,
        },
    )
    number = state.add_pull("acme", "web", head_sha="e" * 40, author="bob")
    path = f"/repos/acme/web/pulls/{number}"
    assert (await call(http, "GET", path))[1]["mergeable_state"] == "blocked"
    status, body = await call(http, "PUT", path + "/merge", {})
    assert (status, body["message"]) == (405, 'Required status check "CodeQL" is expected.')

    state.report_check("acme", "web", "e" * 40, "CodeQL", app="github-advanced-security")
    status, body = await call(http, "PUT", path + "/merge", {})
    assert (status, body["message"]) == (
        405,
        "At least 1 approving review is required by reviewers with write access.",
    )
    state.add_review("acme", "web", number, user="bob")  # the author's own approval does not count
    assert (await call(http, "PUT", path + "/merge", {}))[0] == 405
    state.add_review("acme", "web", number, user="carol")
    assert (await call(http, "GET", path))[1]["mergeable_state"] == "clean"
    status, body = await call(http, "PUT", path + "/merge", {})
    assert status == 200 and body["merged"] is True
    assert state.repo("acme", "web").branches["main"] == body["sha"]
