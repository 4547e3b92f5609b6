"""Pagination, ETags, rate limits, faults, latency and the request log."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.clock import FakeClock
from bot.sandbox import Sandbox
from tests.manifest import APP_PERMISSIONS


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    sb = Sandbox(clock=FakeClock(), permissions=APP_PERMISSIONS)
    sb.state.add_org("acme")
    for i in range(45):
        sb.state.add_repo("acme", f"repo-{i:02d}")
    await sb.start()
    yield sb
    await sb.stop()


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    token = sandbox.state.create_token(sandbox.state.install("acme")).token
    headers = {"Authorization": f"token {token}"}
    timeout = aiohttp.ClientTimeout(sock_read=0.2)
    async with aiohttp.ClientSession(sandbox.url, headers=headers, timeout=timeout) as session:
        yield session


async def test_pagination_link_header(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    async with http.get("/orgs/acme/repos?per_page=20&page=2") as response:
        names = [r["name"] for r in await response.json()]
        links = response.links
    assert names == [f"repo-{i:02d}" for i in range(20, 40)]
    assert str(links["next"]["url"]) == f"{sandbox.url}/orgs/acme/repos?per_page=20&page=3"
    assert str(links["last"]["url"]).endswith("page=3")
    assert str(links["prev"]["url"]).endswith("page=1")
    assert str(links["first"]["url"]).endswith("page=1")


async def test_per_page_is_capped_at_100(http: aiohttp.ClientSession) -> None:
    async with http.get("/orgs/acme/repos?per_page=500") as response:
        assert len(await response.json()) == 45
        assert "Link" not in response.headers


async def test_etag_answers_304_without_counting(http: aiohttp.ClientSession) -> None:
    async with http.get("/repos/acme/repo-01") as response:
        etag = response.headers["ETag"]
        remaining = int(response.headers["x-ratelimit-remaining"])
    async with http.get("/repos/acme/repo-01", headers={"If-None-Match": etag}) as response:
        assert response.status == 304
        assert await response.read() == b""
        assert int(response.headers["x-ratelimit-remaining"]) == remaining


async def test_rate_limit_headers_count_down_and_reset(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    # 45 repositories: 5,000 an hour plus 50 for each above 20 (GitHub's installation limit).
    limit = 5000 + 50 * (45 - 20)
    seen = []
    for _ in range(3):
        async with http.get("/repos/acme/repo-01") as response:
            seen.append(int(response.headers["x-ratelimit-remaining"]))
            assert response.headers["x-ratelimit-limit"] == str(limit)
            assert response.headers["x-ratelimit-resource"] == "core"
            reset = int(response.headers["x-ratelimit-reset"])
    assert seen == [limit - 1, limit - 2, limit - 3]
    assert isinstance(sandbox.clock, FakeClock)
    sandbox.clock.advance(reset - sandbox.clock.time() + 1)
    # An hour on, the token has expired too: a fresh one of the same installation.
    installation = next(iter(sandbox.state.installations))
    fresh = {"Authorization": f"token {sandbox.state.create_token(installation).token}"}
    async with http.get("/repos/acme/repo-01", headers=fresh) as response:
        assert response.status == 200
        assert response.headers["x-ratelimit-remaining"] == str(limit - 1)


async def test_exhausted_primary_limit(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    sandbox.faults.exhaust_primary(reset_in=120)
    async with http.get("/repos/acme/repo-01") as response:
        assert response.status == 403
        assert response.headers["x-ratelimit-remaining"] == "0"
        assert int(response.headers["x-ratelimit-reset"]) == int(sandbox.clock.time() + 120)
    assert isinstance(sandbox.clock, FakeClock)
    sandbox.clock.advance(121)
    async with http.get("/repos/acme/repo-01") as response:
        assert response.status == 200


async def fetch_status(http: aiohttp.ClientSession) -> str:
    try:
        async with http.get("/repos/acme/repo-01") as response:
            await response.read()
            if response.status == 403:
                assert response.headers["retry-after"] == "1"
                return "secondary"
            if response.status == 429:
                return "secondary429"
            return str(response.status)
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
        return "reset"
    except TimeoutError:
        return "timeout"


async def test_faults_at_a_rate_produce_the_configured_kinds(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    sandbox.faults.timeout_delay = 0.5
    sandbox.faults.configure(0.5, kinds=("502", "reset", "secondary", "secondary429"), seed=7)
    outcomes = Counter([await fetch_status(http) for _ in range(40)])
    assert set(outcomes) == {"200", "502", "reset", "secondary", "secondary429"}
    injected = Counter(sandbox.faults.injected)
    # aiohttp retries an idempotent request once when a kept-alive connection drops,
    # so the sandbox sees more requests than the client made.
    assert len(sandbox.requests) == outcomes["200"] + sum(injected.values())
    assert injected["reset"] >= outcomes["reset"]
    assert all(outcomes[k] == injected[k] for k in ("502", "secondary", "secondary429"))


async def test_timeout_fault_hangs_past_the_client_read_timeout(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    sandbox.faults.timeout_delay = 0.5
    sandbox.faults.configure(1.0, kinds=("timeout",))
    assert await fetch_status(http) == "timeout"


async def test_exempt_templates_never_fail(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    sandbox.faults.configure(1.0, kinds=("503",))
    sandbox.faults.exempt(["/repos/{owner}/{repo}"])
    assert {await fetch_status(http) for _ in range(5)} == {"200"}


async def test_request_log_and_overlapping_writes(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    sandbox.latency = 0.05
    body = {"required_status_checks": None, "enforce_admins": True,
            "required_pull_request_reviews": None, "restrictions": None}  # fmt: skip
    path = "/repos/acme/repo-01/branches/main/protection"

    async def put() -> None:
        async with http.put(path, json=body) as response:
            assert response.status == 200

    await asyncio.gather(put(), put())
    assert sandbox.overlapping_writes == [("acme", "repo-01")]
    writes = sandbox.writes("acme", "repo-01")
    assert [(w.method, w.template, w.status) for w in writes] == [
        ("PUT", "/repos/{owner}/{repo}/branches/{branch}/protection", 200)
    ] * 2
    assert writes[0].body == body
    assert sandbox.writes("acme", "repo-02") == []


async def test_sequential_writes_do_not_overlap(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    for _ in range(2):
        async with http.post("/repos/acme/repo-01/labels", json={"name": "x", "color": "ff0000"}):
            pass
    assert sandbox.overlapping_writes == []


async def test_an_installation_limit_grows_with_repositories_up_to_12500() -> None:
    sb = Sandbox(clock=FakeClock(), permissions=APP_PERMISSIONS)
    for org, count in (("small", 3), ("huge", 400)):
        sb.state.add_org(org)
        for i in range(count):
            sb.state.add_repo(org, f"r{i}")
    await sb.start()
    try:
        for org, expected in (("small", "5000"), ("huge", "12500")):
            token = sb.state.create_token(sb.state.install(org)).token
            headers = {"Authorization": f"token {token}"}
            async with (
                aiohttp.ClientSession(sb.url, headers=headers) as http,
                http.get(f"/repos/{org}/r0") as response,
            ):
                assert response.headers["x-ratelimit-limit"] == expected
    finally:
        await sb.stop()
