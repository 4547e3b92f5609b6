"""The org scan reads pages from both ends of the name order: every repository once, few pages."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.core.models import Outcome
from bot.engine import scan as scan_module
from bot.engine.scan import ScanResult, org_pages, page_names
from bot.github.clients import GitHubClients
from bot.github.gateway import Gateway
from bot.sandbox import Sandbox
from bot.sandbox.state import Account, Repo
from tests.fixtures import (
    compliant_protection,
    read_only_scan,
    report_policy_checks,
    sandbox_clients,
    weak_protection,
)
from tests.manifest import APP_PERMISSIONS

REPOS = 730  # 8 pages of 100: service-000 … service-729, even compliant, odd weak


@pytest.fixture
async def box(clock: FakeClock) -> AsyncIterator[Sandbox]:
    sandbox = Sandbox(clock=clock, permissions=APP_PERMISSIONS)
    report_policy_checks(sandbox.state)
    state = sandbox.state
    for org, count in (("acme", REPOS), ("small", 150)):
        state.add_org(org)
        for i in range(count):
            name = f"service-{i:03d}"
            state.add_repo(org, name)
            protection = compliant_protection() if i % 2 == 0 else weak_protection()
            state.set_protection(org, name, "main", protection)
    await sandbox.start()
    yield sandbox
    await sandbox.stop()
    assert sandbox.state.violations == []


@pytest.fixture
async def clients(box: Sandbox, clock: FakeClock) -> AsyncIterator[GitHubClients]:
    async with sandbox_clients(box, clock) as opened:
        yield opened


def gateway(box: Sandbox, clients: GitHubClients, org: str = "acme") -> Gateway:
    return clients.for_installation(box.state.install(org))


async def scan(gh: Gateway, clock: FakeClock, org: str = "acme") -> ScanResult:
    return await read_only_scan(gh, org, clock)


def directions(box: Sandbox) -> list[str]:
    """The name order of each page the scan asked for (GraphQL's default: ASC)."""
    return [
        str(r.body["variables"].get("direction", "ASC"))
        for r in box.requests
        if r.path == "/graphql" and isinstance(r.body, dict) and "after" in r.body["variables"]
    ]


async def test_a_big_org_is_read_from_both_ends_each_repository_once(
    box: Sandbox, clients: GitHubClients, clock: FakeClock
) -> None:
    gh = gateway(box, clients)
    box.requests.clear()

    result = await scan(gh, clock)

    names = [s.repo for s in result.statuses]
    assert len(names) == REPOS
    assert len(set(names)) == REPOS  # none judged twice where the streams met
    assert result.counts()[Outcome.DRIFTED.value] == REPOS // 2
    asked = directions(box)
    assert asked[0] == "ASC"  # the first page alone: it tells how big the org is
    assert "DESC" in asked and asked.count("ASC") > 1
    # 8 pages of repositories; where the two streams meet costs at most two more.
    assert 8 <= len(asked) <= 10
    assert result.graphql_pages == len(asked)
    assert result.rest_repositories == 0


async def test_an_org_of_two_pages_is_read_from_one_end(
    box: Sandbox, clients: GitHubClients, clock: FakeClock
) -> None:
    gh = gateway(box, clients, "small")
    box.requests.clear()

    result = await scan(gh, clock, "small")

    assert len({s.repo for s in result.statuses}) == 150
    assert directions(box) == ["ASC", "ASC"]


async def test_an_order_github_did_not_keep_still_reads_every_repository(
    box: Sandbox,
    clients: GitHubClients,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """If descending is not ascending reversed, the two streams meet early: read on."""
    state = box.state
    in_order = state.repos_by_name

    def scrambled(account: Account, *, descending: bool = False) -> list[Repo]:
        repos = in_order(account, descending=descending)
        # Descending starts mid-org: it meets the ascending stream long before the end.
        return repos[350:] + repos[:350] if descending else repos

    monkeypatch.setattr(state, "repos_by_name", scrambled)
    gh = gateway(box, clients)

    with caplog.at_level(logging.WARNING, logger="bot.engine.scan"):
        result = await scan(gh, clock)

    names = [s.repo for s in result.statuses]
    assert sorted(names) == sorted(f"acme/service-{i:03d}" for i in range(REPOS))
    assert "reading on from the first end" in caplog.text


async def test_pages_that_time_out_are_asked_smaller_in_both_streams(
    box: Sandbox, clients: GitHubClients, clock: FakeClock
) -> None:
    gh = gateway(box, clients)
    await gh.client.getitem("/rate_limit")  # the token, before the fault
    box.faults.graphql.limit(30, "timeout")

    result = await scan(gh, clock)

    assert len({s.repo for s in result.statuses}) == REPOS
    assert result.rest_repositories == 0


async def test_a_scan_that_stops_early_leaves_no_stream_running(
    box: Sandbox, clients: GitHubClients
) -> None:
    gh = gateway(box, clients)
    pages = org_pages(gh, "acme", with_refs=False)

    first = await anext(pages)
    await asyncio.sleep(0)  # both streams are asking for their next pages
    await pages.aclose()

    assert len(page_names(first)) == 100
    readers = [
        task
        for task in asyncio.all_tasks()
        if "org_pages" in getattr(task.get_coro(), "__qualname__", "")
    ]
    assert readers == []


async def test_repositories_that_fall_short_alike_share_their_findings(
    box: Sandbox, clients: GitHubClients, clock: FakeClock
) -> None:
    """A big org's statuses are most of what the garbage collector walks: no copies."""
    result = await scan(gateway(box, clients, "small"), clock, "small")

    drifted = [s for s in result.statuses if s.outcome is Outcome.DRIFTED]
    assert len(drifted) == 75
    assert all(s.findings for s in drifted)
    assert len({id(s.findings) for s in drifted}) == len({s.findings for s in drifted}) == 1


@pytest.mark.parametrize("org", ["acme", "small"])
async def test_a_judged_page_is_let_go_before_the_next_is_read(
    box: Sandbox, clients: GitHubClients, monkeypatch: pytest.MonkeyPatch, org: str
) -> None:
    # A decoded page is thousands of containers the garbage collector walks each pass:
    # once judged, none may stay referenced from the readers while they wait for GitHub.
    made: list[weakref.ref[scan_module.Page]] = []
    alive_when_asking: list[int] = []
    read = scan_module._page

    async def watched(gh: Gateway, ask: Any) -> tuple[scan_module.Page | None, str]:
        alive_when_asking.append(sum(ref() is not None for ref in made))
        page, why = await read(gh, ask)
        if page is not None:
            made.append(weakref.ref(page))
        return page, why

    monkeypatch.setattr(scan_module, "_page", watched)
    names = 0
    async for page in org_pages(gateway(box, clients, org), org, with_refs=False):
        names += len(page.nodes)  # judged at once, then let go
    assert names == (REPOS if org == "acme" else 150)
    # One page read ahead per stream may wait in the queue; none already judged.
    assert len(alive_when_asking) >= (8 if org == "acme" else 2)
    assert max(alive_when_asking) <= (2 if org == "acme" else 1)
