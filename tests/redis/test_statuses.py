"""What one worker learns of an org, every worker's report sees (a real redis-server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from bot.core.models import Finding, FindingKind, Outcome, RepoStatus
from bot.store import redis_statuses
from bot.store.redis_statuses import REFRESH_SLICE, RedisStatusStore, decode_status
from tests.fixtures import most_in_one_step
from tests.redis.conftest import RedisServer


@dataclass
class Workers:
    """Two workers' status stores on one redis-server, and a client to look inside it."""

    one: RedisStatusStore
    two: RedisStatusStore
    redis: Redis


@pytest.fixture
async def workers(redis_server: RedisServer) -> AsyncIterator[Workers]:
    clients = [Redis.from_url(redis_server.url) for _ in range(3)]
    one, two = RedisStatusStore(clients[0]), RedisStatusStore(clients[1])
    yield Workers(one, two, clients[2])
    for store in (one, two):
        await store.close()
    for client in clients:
        await client.aclose()


async def test_statuses_fixes_and_delays_are_shared(workers: Workers) -> None:
    one, two = workers.one, workers.two
    finding = Finding(FindingKind.UNPROTECTED, "main has no branch protection.")
    one.record(RepoStatus("acme/api", Outcome.FIXED, (finding,), fixed_at="2026-11-29T20:00:00Z"))
    one.record(RepoStatus("acme/api", Outcome.COMPLIANT))  # still "fixed at T"
    one.set_delayed("acme", True)
    await one.flush()

    await two.refresh("acme")

    shared = two.get("acme/api")
    assert shared is not None and shared.outcome is Outcome.FIXED
    assert shared.fixed_at == "2026-11-29T20:00:00Z"
    assert two.org("acme").delayed is True


async def test_visibility_is_shared_and_unknown_counts_as_private(
    workers: Workers,
) -> None:
    one, two = workers.one, workers.two
    one.record(RepoStatus("acme/web", Outcome.COMPLIANT, private=False))
    one.record(RepoStatus("acme/payroll", Outcome.COMPLIANT, private=True))
    await one.flush()
    older = '{"repo": "acme/old", "outcome": "compliant"}'  # written before visibility was kept
    await workers.redis.hset("bulwark:status:acme", "acme/old", older)

    await two.refresh("acme")

    seen = {s.repo: s.private for s in two.org("acme").statuses.values()}
    assert seen == {"acme/web": False, "acme/payroll": True, "acme/old": True}


async def test_a_big_org_is_loaded_a_slice_at_a_time(
    workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = workers.one, workers.two
    count = 3 * REFRESH_SLICE + 7
    for n in range(count):
        one.record(RepoStatus(f"acme/service-{n}", Outcome.COMPLIANT, branches=("main",)))
    await one.flush()
    decoded = 0

    def counted(raw: str | bytes) -> RepoStatus:
        nonlocal decoded
        decoded += 1
        return decode_status(raw)

    monkeypatch.setattr(redis_statuses, "decode_status", counted)
    _, most = await most_in_one_step(lambda: decoded, two.refresh("acme"))

    assert len(two.org("acme").statuses) == count
    assert two.get("acme/service-7") == RepoStatus(
        "acme/service-7", Outcome.COMPLIANT, branches=("main",)
    )
    # Other work ran between the slices: never more than one slice decoded in one step.
    assert most <= REFRESH_SLICE
    assert decoded == count


async def test_what_is_written_while_an_org_loads_is_not_lost(
    workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = workers.one, workers.two
    for n in range(2 * REFRESH_SLICE):
        one.record(RepoStatus(f"acme/service-{n}", Outcome.COMPLIANT))
    await one.flush()
    await two.refresh("acme")
    fixed = RepoStatus("acme/service-1", Outcome.FIXED, fixed_at="2026-12-07T10:00:00Z")
    decoded = 0
    one_slice = asyncio.Event()

    def counted(raw: str | bytes) -> RepoStatus:
        nonlocal decoded
        decoded += 1
        if decoded == REFRESH_SLICE:
            one_slice.set()
        return decode_status(raw)

    async def meanwhile() -> None:  # another job of the same worker, between two slices
        await one_slice.wait()
        assert decoded < 2 * REFRESH_SLICE  # the load is still under way
        two.record(fixed)
        two.forget("acme/service-2")
        two.record(RepoStatus("acme/new", Outcome.DRIFTED))

    monkeypatch.setattr(redis_statuses, "decode_status", counted)
    job = asyncio.create_task(meanwhile())
    await two.refresh("acme")
    await job

    assert two.get("acme/service-1") == fixed
    assert two.get("acme/service-2") is None
    assert two.get("acme/new") == RepoStatus("acme/new", Outcome.DRIFTED)
    assert two.get("acme/service-3") == RepoStatus("acme/service-3", Outcome.COMPLIANT)
    assert two._loading == []


async def test_a_full_scan_forgets_every_worker_s_unseen_repositories_by_name(
    workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = workers.one, workers.two
    for name in ("api", "web", "old"):
        one.record(RepoStatus(f"acme/{name}", Outcome.COMPLIANT))
    await one.flush()
    two.record(RepoStatus("acme/gone", Outcome.DRIFTED))  # this worker's own, not flushed yet

    async def no_values(*_: object) -> None:
        raise AssertionError("keep_only needs the names, not the statuses")

    monkeypatch.setattr(Redis, "hgetall", no_values)
    await two.keep_only("acme", ["acme/API", "acme/web"])
    monkeypatch.undo()
    await two.flush()  # writes go through in the background; a report's refresh flushes too

    assert sorted(await workers.redis.hkeys("bulwark:status:acme")) == [b"acme/api", b"acme/web"]
    assert two.get("acme/gone") is None
    await one.refresh("acme")
    assert set(one.org("acme").statuses) == {"acme/api", "acme/web"}
