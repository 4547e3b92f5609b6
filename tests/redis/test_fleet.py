"""1 web process + 3 worker processes, signed deliveries with duplicates, against the sandbox."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.redis.cluster import Cluster
from tests.redis.conftest import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.slow]

# The full run is 2,000 (BULWARK_SCALE_DELIVERIES=2000); the default keeps the suite fast.
DELIVERIES = int(os.environ.get("BULWARK_SCALE_DELIVERIES", "300"))
REPOS = 30
WORKERS = 3


@pytest.fixture
async def cluster(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[Cluster]:
    running = Cluster(redis_server.url, tmp_path, repos=REPOS, latency=0.0)
    await running.start_sandbox()
    await running.start_web()
    for _ in range(WORKERS):
        running.start_worker(concurrency=8)
    yield running
    await running.stop()


async def test_each_delivery_runs_once_one_worker_per_repo_and_the_org_converges(
    cluster: Cluster,
) -> None:
    plan = cluster.plan(DELIVERIES)
    assert len(plan.distinct) < len(plan.posts)  # duplicates and redeliveries are mixed in
    statuses = await cluster.send(plan)
    await cluster.wait_handled(plan.distinct)
    assert {status for status, _ in statuses} == {202}
    assert await cluster.handled(plan.distinct) == len(plan.distinct)
    assert cluster.sandbox.overlapping_writes == []
    assert cluster.sandbox.state.violations == []  # nothing GitHub's description refuses
    assert cluster.converged() == []
    # Each repo drifted once (unprotected at the start): one write each, never two.
    assert set(cluster.protection_writes().values()) == {1}
