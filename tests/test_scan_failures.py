"""The org scan when GitHub's GraphQL answers in part, times out or fails: it never stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.cli.embedded import Embedded
from bot.clock import FakeClock
from bot.core.models import FindingKind, Outcome, RepoStatus
from bot.core.policy import WriteMode
from bot.engine.scan import REPOS_QUERY, Page, RestReason, ScanResult, fetching_ahead
from bot.github.gateway import Gateway
from bot.sandbox import Sandbox
from bot.sandbox.faults import GRAPHQL_FORBIDDEN_MESSAGE
from tests.fixtures import (
    compliant_protection,
    install,
    read_only_scan,
    reconciler,
    report_policy_checks,
    sandbox_clients,
    weak_protection,
)
from tests.manifest import APP_PERMISSIONS

REPOS = 40  # service-00 … service-39: even compliant, odd weak


@pytest.fixture
async def box(clock: FakeClock) -> AsyncIterator[Sandbox]:
    sandbox = Sandbox(clock=clock, permissions=APP_PERMISSIONS)
    report_policy_checks(sandbox.state)
    state = sandbox.state
    state.add_org("acme")
    for i in range(REPOS):
        name = f"service-{i:02d}"
        state.add_repo("acme", name)
        protection = compliant_protection() if i % 2 == 0 else weak_protection()
        state.set_protection("acme", name, "main", protection)
    await sandbox.start()
    yield sandbox
    await sandbox.stop()
    assert sandbox.state.violations == []


@pytest.fixture
async def gh(box: Sandbox, clock: FakeClock) -> AsyncIterator[Gateway]:
    async with sandbox_clients(box, clock) as opened:
        gateway = opened.for_installation(box.state.install("acme"))
        await gateway.client.getitem("/rate_limit")  # the token, before any fault
        yield gateway


async def scan(gh: Gateway, clock: FakeClock) -> ScanResult:
    return await read_only_scan(gh, "acme", clock)


def by_name(result: ScanResult) -> dict[str, RepoStatus]:
    return {s.repo.split("/")[1]: s for s in result.statuses}


def rest_reads(box: Sandbox) -> set[str]:
    """Return the repositories the scan read through REST (the org policy file aside)."""
    paths = [r.path for r in box.requests if r.path.startswith("/repos/acme/")]
    return {p.split("/")[3] for p in paths} - {".github"}


def graphql_firsts(box: Sandbox) -> list[int]:
    return [
        int(r.body["variables"].get("first", 100))
        for r in box.requests
        if r.path == "/graphql" and isinstance(r.body, dict)
    ]


async def test_sandbox_refuses_a_field_with_a_null_node_and_its_path(box: Sandbox) -> None:
    box.faults.graphql.forbid("acme/service-03")
    token = box.state.create_token(box.state.install("acme")).token
    variables = {"org": "acme", "withRefs": False, "policy": "HEAD:x"}
    async with aiohttp.ClientSession() as http:
        answer = await post(http, box, token, {"query": REPOS_QUERY, "variables": variables})
    status, body = answer

    assert status == 200
    nodes = body["data"]["organization"]["repositories"]["nodes"]
    assert nodes[3] is None and nodes[2]["name"] == "service-02"
    (error,) = body["errors"]
    assert error["type"] == "FORBIDDEN"
    assert error["message"] == GRAPHQL_FORBIDDEN_MESSAGE
    assert error["path"] == ["organization", "repositories", "nodes", 3, "branchProtectionRules"]


@pytest.mark.parametrize(("shape", "code"), [("timeout", 200), ("502", 502)])
async def test_sandbox_times_a_large_page_out(box: Sandbox, shape: str, code: int) -> None:
    box.faults.graphql.limit(10, shape)
    token = box.state.create_token(box.state.install("acme")).token
    variables = {"org": "acme", "withRefs": False, "policy": "HEAD:x"}
    async with aiohttp.ClientSession() as http:
        status, body = await post(http, box, token, {"query": REPOS_QUERY, "variables": variables})
        small = {**variables, "first": 10}
        ok, fine = await post(http, box, token, {"query": REPOS_QUERY, "variables": small})

    assert status == code
    assert body["data"] is None
    assert body["errors"][0]["message"].startswith("Something went wrong while executing")
    assert ok == 200 and len(fine["data"]["organization"]["repositories"]["nodes"]) == 10


async def post(
    http: aiohttp.ClientSession, box: Sandbox, token: str, body: dict[str, object]
) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"token {token}"}
    async with http.post(f"{box.url}/graphql", json=body, headers=headers) as response:
        return response.status, await response.json()


async def test_a_refused_node_goes_to_rest_and_the_rest_stay_on_graphql(
    box: Sandbox, gh: Gateway, clock: FakeClock
) -> None:
    box.faults.graphql.forbid("acme/service-03")
    box.requests.clear()

    result = await scan(gh, clock)

    assert len(result.statuses) == REPOS
    assert rest_reads(box) == {"service-03"}
    assert result.rest_reasons == {RestReason.NODE_ERROR.value: 1}
    rest = await reconciler(clock).reconcile(gh, "acme", "service-03", write=WriteMode.NEVER)
    assert by_name(result)["service-03"].findings == rest.findings
    assert by_name(result)["service-03"].outcome is Outcome.DRIFTED


@pytest.mark.parametrize("shape", ["timeout", "502"])
async def test_a_page_that_times_out_is_asked_in_smaller_pages(
    box: Sandbox, gh: Gateway, clock: FakeClock, shape: str
) -> None:
    box.faults.graphql.limit(30, shape)
    box.requests.clear()

    result = await scan(gh, clock)

    assert len(result.statuses) == REPOS
    assert rest_reads(box) == set()  # every repository judged from GraphQL
    # The big page twice, then 25 that answer, then the last 15 in a page of 100 again.
    assert graphql_firsts(box) == [100, 100, 25, 100]
    assert sum(1 for s in result.statuses if s.outcome is Outcome.DRIFTED) == REPOS // 2


@pytest.mark.parametrize("shape", ["timeout", "502"])
async def test_one_repository_that_always_times_out_goes_to_rest(
    box: Sandbox, gh: Gateway, clock: FakeClock, shape: str
) -> None:
    box.faults.graphql.slow("acme/service-07", shape)
    box.requests.clear()

    result = await scan(gh, clock)

    assert len(result.statuses) == REPOS
    assert rest_reads(box) == {"service-07"}
    assert result.rest_reasons == {RestReason.PAGE_FAILED.value: 1}
    assert by_name(result)["service-07"].outcome is Outcome.DRIFTED
    assert 1 in graphql_firsts(box)


async def test_a_repository_nobody_can_read_is_unreadable_and_stops_nothing(
    box: Sandbox, gh: Gateway, clock: FakeClock
) -> None:
    box.faults.graphql.forbid("acme/service-04")
    box.faults.refuse_repo("acme/service-04")

    result = await scan(gh, clock)

    status = by_name(result)["service-04"]
    assert status.outcome is Outcome.ERROR
    assert [f.kind for f in status.findings] == [FindingKind.UNREADABLE]
    assert "Resource not accessible by integration" in (status.reason or "")
    assert "FORBIDDEN" in (status.reason or "")
    assert len(result.statuses) == REPOS
    assert result.counts()["compliant"] == REPOS // 2 - 1


async def test_graphql_down_lists_the_repositories_through_rest(
    box: Sandbox, gh: Gateway, clock: FakeClock
) -> None:
    box.faults.configure(1.0, kinds=["502"], methods=["POST"])  # every GraphQL request

    result = await scan(gh, clock)

    assert len(result.statuses) == REPOS
    assert result.rest_reasons == {RestReason.UNLISTED.value: REPOS}
    assert result.counts()["drifted"] == REPOS // 2


async def test_the_resync_repairs_the_others_when_one_node_is_refused(
    bulwark: Embedded,
) -> None:
    state = bulwark.sandbox.state
    for name in ("bare", "also-bare", "locked"):
        state.add_repo("acme", name)
    bulwark.sandbox.faults.graphql.forbid("acme/locked")
    bulwark.sandbox.faults.refuse_repo("acme/locked")

    await install(bulwark)

    assert state.protection("acme", "bare", "main") is not None
    assert state.protection("acme", "also-bare", "main") is not None
    status = bulwark.runtime.statuses.get("acme/locked")
    assert status is not None and status.outcome is Outcome.ERROR
    assert [f.kind for f in status.findings] == [FindingKind.UNREADABLE]


async def test_fetching_ahead_yields_every_page_in_order_and_stops_cleanly() -> None:
    asked: list[int] = []

    async def pages() -> AsyncIterator[Page]:
        for n in range(3):
            asked.append(n)
            yield Page(nodes=[{"n": n}], total=3, cost=1)

    got = [page.nodes[0]["n"] async for page in fetching_ahead(pages())]
    assert got == [0, 1, 2]
    assert asked == [0, 1, 2]


async def test_fetching_ahead_stops_the_page_asked_ahead_when_the_scan_stops() -> None:
    asked: list[object] = []
    answer = asyncio.Event()  # GitHub never answers the page asked ahead

    async def pages() -> AsyncIterator[Page]:
        yield Page(nodes=[{"n": 0}], total=2, cost=1)
        asked.append(1)
        try:
            await answer.wait()
        except asyncio.CancelledError:
            asked.append("cancelled")
            raise
        yield Page(nodes=[{"n": 1}], total=2, cost=1)

    ahead = fetching_ahead(pages())
    first = await anext(ahead)
    await asyncio.sleep(0)  # the next page is being asked for
    await ahead.aclose()  # the scan stops here
    assert first.nodes[0]["n"] == 0
    assert asked == [1, "cancelled"]
