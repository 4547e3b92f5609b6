"""GitHub Enterprise Server: REST at /api/v3, GraphQL at /api/graphql, rulesets from 3.11."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.cli.embedded import embedded
from bot.clock import FakeClock
from bot.sandbox import Sandbox
from tests.fixtures import install, weak_protection
from tests.manifest import APP_PERMISSIONS


@pytest.fixture
async def enterprise(clock: FakeClock) -> AsyncIterator[Sandbox]:
    """A GHES 3.10 sandbox: no rulesets API."""
    box = Sandbox(clock=clock, enterprise="3.10", permissions=APP_PERMISSIONS)
    box.state.add_org("acme")
    box.state.add_org_owner("acme", "alice")
    box.state.add_repo("acme", "web")
    box.state.set_protection("acme", "web", "main", weak_protection())
    box.state.add_repo("acme", "api")
    await box.start()
    yield box
    await box.stop()
    assert box.state.violations == []


async def test_bulwark_protects_an_enterprise_server_org(
    enterprise: Sandbox, clock: FakeClock
) -> None:
    assert enterprise.api_url.endswith("/api/v3")
    async with embedded(enterprise, clock=clock) as bulwark:
        assert bulwark.settings.github_api_url == enterprise.api_url
        await install(bulwark)

    for name in ("web", "api"):
        got = enterprise.state.protection("acme", name, "main")
        assert got is not None, name
        assert got["enforce_admins"]["enabled"] is True
        assert got["required_pull_request_reviews"]["required_approving_review_count"] == 1
    rulesets = [r for r in enterprise.requests if "/rules" in r.template]
    assert rulesets and {r.status for r in rulesets} == {404}  # asked, and took "none"
    # Every request reached a route: none fell outside /api/v3 (an unmatched path has no template).
    assert all("{" in r.template for r in enterprise.requests if r.status == 404)


async def test_routes_live_under_api_v3(enterprise: Sandbox) -> None:
    token = enterprise.state.create_token(enterprise.state.install("acme")).token
    headers = {"Authorization": f"token {token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(enterprise.url + "/repos/acme/web") as outside:
            assert outside.status == 404
        async with http.get(enterprise.api_url + "/repos/acme/web") as inside:
            assert inside.status == 200
            assert (await inside.json())["url"] == enterprise.api_url + "/repos/acme/web"
        query = {"query": "query { viewer { login } }"}
        async with http.post(enterprise.graphql_url, json=query) as graphql:
            assert graphql.status == 200
            assert enterprise.graphql_url.endswith("/api/graphql")
