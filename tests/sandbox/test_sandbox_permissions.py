"""The sandbox refuses an installation what its granted permissions do not cover, as GitHub does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.clock import FakeClock
from bot.sandbox import Sandbox
from tests.manifest import APP_PERMISSIONS

ISSUES_ONLY = {**APP_PERMISSIONS, "pull_requests": "read"}  # what app.yml used to ask


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    sb = Sandbox(clock=FakeClock(), permissions=APP_PERMISSIONS)
    sb.state.add_org("acme")
    sb.state.add_repo("acme", "web")
    await sb.start()
    yield sb
    await sb.stop()


async def session(sandbox: Sandbox, granted: dict[str, str]) -> aiohttp.ClientSession:
    inst = sandbox.state.install("acme", permissions=granted)
    token = sandbox.state.create_token(inst).token
    return aiohttp.ClientSession(sandbox.url, headers={"Authorization": f"token {token}"})


async def call(
    http: aiohttp.ClientSession, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, path, json=body) as response:
        return response.status, await response.json()


async def test_a_pr_comment_with_only_issues_write_is_refused(sandbox: Sandbox) -> None:
    state = sandbox.state
    pull = state.add_pull("acme", "web", head_sha="a" * 40, author="alice")
    issue = state.add_issue("acme", "web", title="Bug", author="alice")["number"]
    theirs = state.add_comment("acme", "web", pull, body="/protection status", author="alice")
    async with await session(sandbox, ISSUES_ONLY) as http:
        status, body = await call(
            http, "POST", f"/repos/acme/web/issues/{pull}/comments", {"body": "x"}
        )
        assert status == 403
        assert body["message"] == "Resource not accessible by integration"
        assert body["documentation_url"].startswith("https://docs.github.com/rest/issues/comments")
        reaction = f"/repos/acme/web/issues/comments/{theirs['id']}/reactions"
        assert (await call(http, "POST", reaction, {"content": "eyes"}))[0] == 403
        # issues: write still covers a real issue.
        status, _ = await call(
            http, "POST", f"/repos/acme/web/issues/{issue}/comments", {"body": "y"}
        )
        assert status == 201
    assert [c["body"] for c in state.comments("acme", "web", pull)] == ["/protection status"]
    assert [c["body"] for c in state.comments("acme", "web", issue)] == ["y"]


async def test_app_yml_grants_what_pr_comments_and_reactions_need(sandbox: Sandbox) -> None:
    state = sandbox.state
    pull = state.add_pull("acme", "web", head_sha="a" * 40, author="alice")
    theirs = state.add_comment("acme", "web", pull, body="/protection status", author="alice")
    async with await session(sandbox, APP_PERMISSIONS) as http:
        path = f"/repos/acme/web/issues/{pull}/comments"
        assert (await call(http, "POST", path, {"body": "x"}))[0] == 201
        reaction = f"/repos/acme/web/issues/comments/{theirs['id']}/reactions"
        assert (await call(http, "POST", reaction, {"content": "eyes"}))[0] == 201


@pytest.mark.parametrize(
    ("granted", "status"),
    [({"administration": "read"}, 403), ({"administration": "write"}, 200), ({}, 403)],
)
async def test_a_write_needs_write_access(sandbox: Sandbox, granted: dict, status: int) -> None:
    body = {
        "required_status_checks": None,
        "enforce_admins": True,
        "required_pull_request_reviews": None,
        "restrictions": None,
    }
    async with await session(sandbox, {"metadata": "read", **granted}) as http:
        got, answer = await call(http, "PUT", "/repos/acme/web/branches/main/protection", body)
    assert got == status, answer
    protected = sandbox.state.protection("acme", "web", "main") is not None
    assert protected is (status == 200)


async def test_rulesets_need_what_the_docs_say(sandbox: Sandbox) -> None:
    async with await session(sandbox, {"metadata": "read"}) as http:
        assert (await call(http, "GET", "/repos/acme/web/rulesets"))[0] == 200
        body = {"name": "x", "enforcement": "active", "target": "branch", "rules": []}
        assert (await call(http, "POST", "/repos/acme/web/rulesets", body))[0] == 403
        assert (await call(http, "GET", "/orgs/acme/rulesets"))[0] == 403
