"""RedisQueue, RedisRepoLocks and the fleet worker against a real redis-server."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest

from bot.metrics import Metrics
from bot.service.fleet import Fleet, Options, Tools, cancel_until_done, create_worker
from bot.service.queue import Job, JobKind
from bot.service.redis_queue import RedisQueue, connect
from bot.store.redis_locks import RedisRepoLocks
from tests.redis.conftest import RedisServer
from tests.redis.fleet_helpers import (
    DONE,
    OVERLAPS,
    STARTED,
    Recorder,
    decoded,
    drained,
    eventually,
)

pytestmark = pytest.mark.redis
RETRY_PREFIX = "arq:retry:"  # arq counts the tries of job ID under this prefix + ID


def delivery(delivery_id: str, repo: str | None = "acme/api") -> Job:
    return Job(kind=JobKind.DELIVERY, delivery_id=delivery_id, installation_id=1, repo=repo,
               payload={"event": "push", "data": {}})  # fmt: skip


def reconcile(repo: str, delivery_id: str = "r") -> Job:
    return Job(kind=JobKind.RECONCILE, delivery_id=delivery_id, installation_id=1, repo=repo,
               dedupe_key=f"reconcile:{repo}:")  # fmt: skip


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Any]:
    client = await connect(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
async def queue(redis_server: RedisServer) -> AsyncIterator[RedisQueue]:
    q = await RedisQueue(redis_server.url).open()
    yield q
    await q.close()


class Workers:
    """arq workers running in this process, each with its own Recorder."""

    def __init__(self, url: str, *, job_timeout: float = 300.0) -> None:
        self.url = url
        self.job_timeout = job_timeout
        self.recorders: list[Recorder] = []
        self._running: list[tuple[Any, asyncio.Task[None]]] = []

    async def start(self, count: int = 1, **recorder: Any) -> None:
        for _ in range(count):
            name = f"w{len(self._running)}"

            async def setup(tools: Tools, name: str = name) -> Recorder:
                self.recorders.append(Recorder(tools, name, **recorder))
                return self.recorders[-1]

            options = Options(self.url, concurrency=4, job_timeout=self.job_timeout)
            worker = await create_worker(options, setup, handle_signals=False)
            self._running.append((worker, asyncio.create_task(worker.main())))

    async def stop(self) -> None:
        for worker, task in self._running:
            assert await cancel_until_done(task), "a worker's main task did not stop"
            await bounded(worker.close(), "a worker's close")


async def bounded(step: Awaitable[Any], what: str, seconds: float = 30.0) -> None:
    """Await a teardown step; if it hangs, print every task's stack and fail instead."""
    waiting = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({waiting}, timeout=seconds)
    if done:
        waiting.result()
        return
    for task in asyncio.all_tasks():
        task.print_stack(file=sys.stderr)
    raise AssertionError(f"{what} did not finish in {seconds:.0f} s")


@pytest.fixture
async def workers(redis_server: RedisServer) -> AsyncIterator[Workers]:
    fleet = Workers(redis_server.url)
    yield fleet
    await fleet.stop()


async def test_a_delivery_runs_once_however_often_it_is_posted(
    queue: RedisQueue, redis: Any, redis_server: RedisServer, workers: Workers
) -> None:
    replica = await RedisQueue(redis_server.url).open()  # a second web replica
    posts = [queue.put(delivery("d1")), replica.put(delivery("d1")), queue.put(delivery("d2"))]
    assert await asyncio.gather(*posts) == [True, True, True]
    await workers.start(2)
    await drained(redis)
    assert await queue.put(delivery("d1"))  # a redelivery after it ran: acknowledged
    await drained(redis)
    await replica.close()
    assert sorted(decoded(await redis.lrange(DONE, 0, -1))) == ["d1", "d2"]


async def test_a_retry_of_the_same_job_runs_but_a_second_post_does_not(
    queue: RedisQueue,
) -> None:
    job = delivery("d9")
    assert await queue.started(job, "token-a")
    assert await queue.started(job, "token-a")  # arq retried the same job
    assert not await queue.started(job, "token-b")  # another post of the same delivery


async def test_jobs_with_one_dedupe_key_coalesce_while_waiting(
    queue: RedisQueue, redis: Any, workers: Workers
) -> None:
    assert await queue.put(reconcile("acme/api", "first"))
    assert not await queue.put(reconcile("acme/api", "second"))
    assert await queue.put(reconcile("acme/web", "third"))
    await workers.start()
    await drained(redis)
    assert await queue.put(reconcile("acme/api", "after"))  # the first one started: queued
    await drained(redis)
    assert sorted(decoded(await redis.lrange(DONE, 0, -1))) == ["after", "first", "third"]


async def test_no_two_workers_run_jobs_of_one_repository_at_once(
    queue: RedisQueue, redis: Any, workers: Workers
) -> None:
    for n in range(40):
        await queue.put(delivery(f"d{n}", repo=f"acme/repo{n % 3}"))
    await workers.start(3, work=0.01)
    await drained(redis)
    assert len(decoded(await redis.lrange(DONE, 0, -1))) == 40
    assert decoded(await redis.lrange(OVERLAPS, 0, -1)) == []
    used = {entry.split("@")[1] for entry in decoded(await redis.lrange(STARTED, 0, -1))}
    assert len(used) > 1  # the work really was shared


async def test_a_repository_lock_excludes_other_processes_and_is_reentrant(
    redis_server: RedisServer,
) -> None:
    one, two = await connect(redis_server.url), await connect(redis_server.url)
    locks = [RedisRepoLocks(one, timeout=5), RedisRepoLocks(two, timeout=5)]
    inside: list[int] = []
    peak = 0

    async def hold(n: int) -> None:
        nonlocal peak
        async with locks[n % 2].lock("Acme/API"), locks[n % 2].lock("acme/api"):
            inside.append(n)
            peak = max(peak, len(inside))
            await asyncio.sleep(0)
            inside.remove(n)

    await asyncio.gather(*(hold(n) for n in range(20)))
    async with locks[0].lock("acme/api"), locks[1].lock("acme/web"):
        pass  # different repositories do not wait for each other
    await one.aclose()
    await two.aclose()
    assert peak == 1


async def test_a_lost_lock_cancels_the_job_holding_it(redis: Any) -> None:
    locks = RedisRepoLocks(redis, timeout=0.3)
    entered = asyncio.Event()

    async def job() -> None:
        async with locks.lock("acme/api"):
            entered.set()
            await asyncio.Event().wait()  # a job stalled past its lock

    task = asyncio.create_task(job())
    await entered.wait()
    await redis.delete(RedisRepoLocks.key("acme/api"))  # expired, or taken over
    done, _ = await asyncio.wait([task], timeout=5)
    assert task in done and task.cancelled()


async def test_a_lock_whose_release_met_an_outage_is_released_when_redis_returns(
    redis: Any, redis_server: RedisServer
) -> None:
    locks = RedisRepoLocks(redis, timeout=60)  # far longer than the test: expiry cannot free it
    key = RedisRepoLocks.key("acme/api")
    async with locks.lock("acme/api"):
        redis_server.stop()  # the job ends while Redis is away: the release fails
    redis_server.start()

    async def released() -> bool:
        return not await redis.exists(key)

    await eventually(released, 10, "the lock to be released once Redis is back")


async def test_a_job_waiting_on_a_busy_repository_is_retried_not_timed_out(
    queue: RedisQueue, redis: Any, redis_server: RedisServer
) -> None:
    await redis.set(RedisRepoLocks.key("acme/api"), "another worker")  # held, no TTL
    assert await queue.put(delivery("busy"))
    workers = Workers(redis_server.url, job_timeout=1)  # shorter than the fleet's LOCK_WAIT

    async def tried_twice() -> bool:
        return int(await redis.get(f"{RETRY_PREFIX}delivery:busy") or 0) >= 2

    await workers.start()
    try:
        await eventually(tried_twice, 20, "a second try of the job on the busy repository")
        await redis.delete(RedisRepoLocks.key("acme/api"))
        await drained(redis)
    finally:
        await workers.stop()
    assert decoded(await redis.lrange(DONE, 0, -1)) == ["busy"]


async def test_the_resync_runs_once_per_interval_across_workers(
    queue: RedisQueue, redis: Any, redis_server: RedisServer
) -> None:
    locks = RedisRepoLocks(redis)
    tools = Tools(queue=queue, locks=locks, redis=redis, metrics=Metrics())
    services = [Recorder(tools, f"w{n}") for n in range(3)]
    fleets = [Fleet(tools, s, Options(redis_server.url, resync_interval=3600)) for s in services]
    ran = await asyncio.gather(*(f.resync() for f in fleets))
    assert sorted(ran) == [False, False, True]
    assert sum(s.resyncs for s in services) == 1


async def test_put_raises_while_redis_is_down_and_works_when_it_returns(
    queue: RedisQueue, redis_server: RedisServer
) -> None:
    redis_server.stop()
    with pytest.raises(Exception, match=r"(?i)connect|refused"):
        await queue.put(delivery("while-down"))
    redis_server.start()
    assert await queue.put(delivery("after"))


async def test_a_worker_waits_out_an_outage_and_resumes(
    queue: RedisQueue, redis_server: RedisServer, workers: Workers
) -> None:
    await workers.start()
    redis_server.stop()
    redis_server.start()
    assert await queue.put(delivery("after-outage"))
    await drained(queue.redis)
    assert decoded(await queue.redis.lrange(DONE, 0, -1)) == ["after-outage"]


async def test_sigterm_stops_a_worker_even_if_arq_s_cancel_is_lost(
    redis_server: RedisServer,
) -> None:
    async def setup(tools: Tools) -> Recorder:
        return Recorder(tools, "w")

    options = Options(redis_server.url, concurrency=1, job_timeout=30)
    worker = await create_worker(options, setup, handle_signals=True)
    lost = 0

    async def main() -> None:
        nonlocal lost
        try:
            await worker.main()
        except asyncio.CancelledError:  # lost, as redis-py can lose it: the task runs on
            lost += 1
            task = asyncio.current_task()
            assert task is not None
            task.uncancel()
        await asyncio.Event().wait()

    async def started() -> bool:
        return "bulwark" in worker.ctx

    worker.main_task = asyncio.create_task(main())
    await eventually(started, 30, "the worker's start-up")

    worker.handle_sig(signal.SIGTERM)

    assert worker.stopping is not None
    assert await worker.stopping  # cancelled again until it ended
    assert lost == 1 and worker.main_task.cancelled()
    await worker.close()
