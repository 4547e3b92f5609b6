"""The sandbox's history: commits over time, merged PRs, reviews, checks, org settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.clock import FakeClock, isoformat
from bot.sandbox import Sandbox
from bot.sandbox.history import (
    check_at,
    commit_at,
    configure_codeql,
    merge_pull,
    open_pull,
    review_at,
)
from tests.manifest import APP_PERMISSIONS

DAY = 86400.0
QUERY = """
query History($owner: String!, $name: String!, $since: GitTimestamp, $until: GitTimestamp) {
  repository(owner: $owner, name: $name) {
    ref(qualifiedName: "refs/heads/main") {
      target {
        ... on Commit {
          history(since: $since, until: $until, first: 100) {
            totalCount
            nodes {
              oid
              committedDate
              author { user { login } }
              associatedPullRequests(first: 1) {
                nodes {
                  number
                  mergedAt
                  baseRefName
                  author { login }
                  mergeCommit { oid }
                  reviews(first: 20) { nodes { state author { login } submittedAt } }
                  commits(last: 1) {
                    nodes {
                      commit {
                        oid
                        statusCheckRollup {
                          state
                          contexts(first: 20) {
                            nodes { ... on CheckRun { name conclusion } }
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}
"""


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    box = Sandbox(clock=FakeClock(), permissions=APP_PERMISSIONS)
    box.state.add_org("acme")
    box.state.add_org_owner("acme", "alice")
    box.state.add_org_member("acme", "bob")
    box.state.add_repo("acme", "web")
    await box.start()
    yield box
    await box.stop()
    assert box.state.violations == []


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    token = sandbox.state.create_token(sandbox.state.install("acme")).token
    async with aiohttp.ClientSession(
        sandbox.url, headers={"Authorization": f"token {token}"}
    ) as session:
        yield session


async def graphql(http: aiohttp.ClientSession, **variables: Any) -> Any:
    async with http.post("/graphql", json={"query": QUERY, "variables": variables}) as response:
        answer = await response.json()
    assert "errors" not in answer, answer
    return answer["data"]


def seed(sandbox: Sandbox) -> dict[str, str]:
    """A reviewed squash merge, a self-approved merge commit, a direct push; return the shas."""
    state, now = sandbox.state, sandbox.clock.time()
    one = open_pull(state, "acme", "web", author="bob", at=now - 5 * DAY, title="Feature")
    head_one = state.repo("acme", "web").pulls[one]["head_sha"]
    review_at(state, "acme", "web", one, user="alice", at=now - 4.5 * DAY, review="DISMISSED")
    review_at(state, "acme", "web", one, user="carol", at=now - 4.2 * DAY, review="APPROVED")
    check_at(state, "acme", "web", head_one, name="test", conclusion="success", at=now - 4.9 * DAY)
    check_at(
        state, "acme", "web", head_one, name="CodeQL", conclusion="success", at=now - 4.9 * DAY
    )
    squash = merge_pull(state, "acme", "web", one, by="carol", at=now - 4 * DAY)
    two = open_pull(state, "acme", "web", author="bob", at=now - 3 * DAY, title="Hotfix")
    head_two = state.repo("acme", "web").pulls[two]["head_sha"]
    review_at(state, "acme", "web", two, user="bob", at=now - 2.9 * DAY, review="APPROVED")
    check_at(state, "acme", "web", head_two, name="test", conclusion="failure", at=now - 2.9 * DAY)
    merge = merge_pull(state, "acme", "web", two, by="bob", at=now - 2.5 * DAY, method="merge")
    push = commit_at(state, "acme", "web", "main", author="dave", at=now - DAY, message="oops")
    return {"squash": squash, "merge": merge, "head_two": head_two, "push": push}


async def test_history_lists_commits_newest_first_with_their_pull_requests(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    shas = seed(sandbox)
    since, until = isoformat(sandbox.clock.time() - 30 * DAY), isoformat(sandbox.clock.time() - 1)
    data = await graphql(http, owner="acme", name="web", since=since, until=until)
    history = data["repository"]["ref"]["target"]["history"]
    oids = [n["oid"] for n in history["nodes"]]
    # The merge commit brings the PR's own commit into main's history, as git log shows it.
    assert oids == [shas["push"], shas["merge"], shas["head_two"], shas["squash"]]
    by_oid = {n["oid"]: n for n in history["nodes"]}
    assert by_oid[shas["push"]]["associatedPullRequests"]["nodes"] == []
    assert by_oid[shas["push"]]["author"]["user"]["login"] == "dave"
    squash_pr = by_oid[shas["squash"]]["associatedPullRequests"]["nodes"][0]
    assert squash_pr["mergeCommit"]["oid"] == shas["squash"]
    assert squash_pr["mergedAt"] == isoformat(sandbox.clock.time() - 4 * DAY)
    assert [(r["state"], r["author"]["login"]) for r in squash_pr["reviews"]["nodes"]] == [
        ("DISMISSED", "alice"),
        ("APPROVED", "carol"),
    ]
    rollup = squash_pr["commits"]["nodes"][0]["commit"]["statusCheckRollup"]
    assert rollup["state"] == "SUCCESS"
    assert {c["name"]: c["conclusion"] for c in rollup["contexts"]["nodes"]} == {
        "test": "SUCCESS",
        "CodeQL": "SUCCESS",
    }
    merged_pr = by_oid[shas["merge"]]["associatedPullRequests"]["nodes"][0]
    assert merged_pr["author"]["login"] == merged_pr["reviews"]["nodes"][0]["author"]["login"]
    failing = merged_pr["commits"]["nodes"][0]["commit"]["statusCheckRollup"]
    assert failing["state"] == "FAILURE"


async def test_history_honours_since_and_until(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    shas = seed(sandbox)
    now = sandbox.clock.time()
    data = await graphql(
        http,
        owner="acme",
        name="web",
        since=isoformat(now - 3.5 * DAY),
        until=isoformat(now - 2 * DAY),
    )
    oids = [n["oid"] for n in data["repository"]["ref"]["target"]["history"]["nodes"]]
    assert oids == [shas["merge"], shas["head_two"]]


async def test_org_settings_owners_and_security_settings(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    state = sandbox.state
    state.account("acme").two_factor_requirement_enabled = True
    state.repo("acme", "web").private_vulnerability_reporting = True
    configure_codeql(state.repo("acme", "web"), True)
    async with http.get("/orgs/acme") as response:
        assert (await response.json())["two_factor_requirement_enabled"] is True
    async with http.get("/orgs/acme/members?role=admin&per_page=100") as response:
        assert [m["login"] for m in await response.json()] == ["alice"]
    async with http.get("/orgs/acme/members?per_page=100") as response:
        assert [m["login"] for m in await response.json()] == ["alice", "bob"]
    async with http.get("/repos/acme/web/private-vulnerability-reporting") as response:
        assert await response.json() == {"enabled": True}
    async with http.get("/repos/acme/web/code-scanning/default-setup") as response:
        assert (await response.json())["state"] == "configured"


async def test_a_member_reads_two_factor_as_null(sandbox: Sandbox) -> None:
    sandbox.state.account("acme").two_factor_requirement_enabled = True
    sandbox.state.add_personal_token("ghp_member", "bob")
    headers = {"Authorization": "token ghp_member"}
    async with (
        aiohttp.ClientSession(sandbox.url, headers=headers) as session,
        session.get("/orgs/acme") as response,
    ):
        assert (await response.json())["two_factor_requirement_enabled"] is None


async def test_default_setup_refused_on_private_repo_without_code_security(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    sandbox.state.add_repo("acme", "secret", private=True)
    async with http.get("/repos/acme/secret/code-scanning/default-setup") as response:
        assert response.status == 403
        assert "Code Security must be enabled" in (await response.json())["message"]
