"""The in-process queue: concurrency, per-repo order, coalescing, failures, shutdown."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest

from bot.metrics import Metrics
from bot.service.queue import InProcessQueue, Job, JobKind


class Gate:
    """A runner whose jobs block until released, recording what runs when."""

    def __init__(self) -> None:
        self.started: asyncio.Queue[Job] = asyncio.Queue()
        self.release: dict[str, asyncio.Event] = {}
        self.running: set[str] = set()
        self.max_running = 0
        self.order: list[str] = []
        self.overlap: list[str] = []

    def event(self, delivery_id: str) -> asyncio.Event:
        return self.release.setdefault(delivery_id, asyncio.Event())

    async def __call__(self, job: Job) -> None:
        if job.repo is not None and any(r == job.repo for r in self._repos()):
            self.overlap.append(job.delivery_id)
        self.running.add(f"{job.repo}|{job.delivery_id}")
        self.max_running = max(self.max_running, len(self.running))
        self.order.append(job.delivery_id)
        self.started.put_nowait(job)
        try:
            await self.event(job.delivery_id).wait()
        finally:
            self.running.discard(f"{job.repo}|{job.delivery_id}")

    def _repos(self) -> list[str]:
        return [entry.split("|")[0] for entry in self.running]


def job(delivery_id: str, repo: str | None = None, dedupe_key: str | None = None) -> Job:
    return Job(kind=JobKind.DELIVERY, delivery_id=delivery_id, repo=repo, dedupe_key=dedupe_key)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def queue(metrics: Metrics) -> AsyncIterator[InProcessQueue]:
    q = InProcessQueue(concurrency=2, metrics=metrics)
    yield q
    await q.close(timeout=1)


def test_job_round_trips_through_json() -> None:
    original = Job(JobKind.DELIVERY, "d1", 5, "a/b", {"event": "push", "data": {"x": [1]}}, "k")
    encoded = json.dumps(original.to_dict())
    assert Job.from_dict(json.loads(encoded)) == original
    assert '"kind": "delivery"' in encoded  # the Redis encoding of jobs is unchanged


async def test_concurrency_is_bounded(queue: InProcessQueue) -> None:
    gate = Gate()
    await queue.start(gate)
    for n in range(5):
        await queue.put(job(f"d{n}", repo=f"o/r{n}"))
    await gate.started.get()
    await gate.started.get()
    await asyncio.sleep(0)
    assert gate.max_running == 2
    assert queue.depth() == 3
    for n in range(5):
        gate.event(f"d{n}").set()
    await queue.join()
    assert sorted(gate.order) == [f"d{n}" for n in range(5)]
    assert gate.max_running == 2


async def test_same_repo_never_overlaps_and_keeps_order(queue: InProcessQueue) -> None:
    gate = Gate()
    await queue.start(gate)
    for name in ("a1", "a2", "a3"):
        await queue.put(job(name, repo="o/a"))
    await queue.put(job("b1", repo="o/b"))
    first = await gate.started.get()
    second = await gate.started.get()
    assert {first.delivery_id, second.delivery_id} == {"a1", "b1"}
    assert queue.depth() == 2, "a2 and a3 wait while a1 runs, though a worker is free"
    for name in ("a1", "b1", "a2", "a3"):
        gate.event(name).set()
    await queue.join()
    assert [d for d in gate.order if d.startswith("a")] == ["a1", "a2", "a3"]
    assert gate.overlap == []


async def test_waiting_job_with_same_dedupe_key_is_coalesced(
    queue: InProcessQueue, metrics: Metrics
) -> None:
    gate = Gate()
    await queue.start(gate)
    assert await queue.put(job("run", repo="o/a", dedupe_key="reconcile:o/a"))
    await gate.started.get()  # now running, no longer waiting
    assert await queue.put(job("wait", repo="o/a", dedupe_key="reconcile:o/a"))
    assert not await queue.put(job("dup", repo="o/a", dedupe_key="reconcile:o/a"))
    gate.event("run").set()
    gate.event("wait").set()
    await queue.join()
    assert gate.order == ["run", "wait"]
    assert (
        'bulwark_jobs_total{kind="delivery",outcome="coalesced"} 1.0' in metrics.render().decode()
    )


async def test_failing_job_is_logged_and_counted_and_worker_goes_on(
    metrics: Metrics, caplog: pytest.LogCaptureFixture
) -> None:
    queue = InProcessQueue(concurrency=1, metrics=metrics)
    ran: list[str] = []

    async def runner(j: Job) -> None:
        ran.append(j.delivery_id)
        if j.delivery_id == "boom":
            raise RuntimeError("handler bug")

    await queue.start(runner)
    await queue.put(job("boom", repo="o/a"))
    await queue.put(job("fine", repo="o/a"))
    with caplog.at_level(logging.ERROR, logger="bot.service.queue"):
        await queue.join()
    await queue.close()
    assert ran == ["boom", "fine"]
    [record] = caplog.records
    assert "boom" in record.getMessage() and "o/a" in record.getMessage()
    text = metrics.render().decode()
    assert 'bulwark_jobs_total{kind="delivery",outcome="error"} 1.0' in text
    assert 'bulwark_jobs_total{kind="delivery",outcome="ok"} 1.0' in text
    assert 'bulwark_job_duration_seconds_count{kind="delivery"} 2.0' in text


async def test_close_finishes_running_drops_waiting_and_refuses_new(metrics: Metrics) -> None:
    queue = InProcessQueue(concurrency=1, metrics=metrics)
    gate = Gate()
    await queue.start(gate)
    await queue.put(job("running", repo="o/a"))
    await queue.put(job("waiting", repo="o/a"))
    await gate.started.get()
    closing = asyncio.create_task(queue.close(timeout=5))
    await asyncio.sleep(0)
    assert not await queue.put(job("late"))
    assert not closing.done(), "close waits for the running job"
    gate.event("running").set()
    await closing
    assert gate.order == ["running"]
    assert queue.depth() == 0
    text = metrics.render().decode()
    assert 'outcome="dropped"} 1.0' in text
    assert 'outcome="ok"} 1.0' in text


async def test_close_cancels_jobs_past_the_timeout() -> None:
    queue = InProcessQueue(concurrency=1)
    gate = Gate()
    await queue.start(gate)
    await queue.put(job("stuck"))
    await gate.started.get()
    await queue.close(timeout=0)
    assert gate.running == set()


async def test_depth_gauge_follows_the_queue(metrics: Metrics) -> None:
    queue = InProcessQueue(concurrency=1, metrics=metrics)
    await queue.put(job("a"))
    await queue.put(job("b"))
    assert "bulwark_queue_depth 2.0" in metrics.render().decode()
    await queue.start(lambda j: asyncio.sleep(0))
    await queue.join()
    assert "bulwark_queue_depth 0.0" in metrics.render().decode()
    await queue.close()
