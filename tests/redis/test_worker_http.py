"""A worker you can watch: `/healthz` and `/metrics` on its own port."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from bot.service.fleet import Options, Tools, create_worker
from bot.service.queue import Job, JobKind
from bot.service.redis_queue import RedisQueue
from tests.redis.conftest import RedisServer
from tests.redis.fleet_helpers import Recorder, eventually


class Failing(Recorder):
    async def run(self, job: Job) -> None:
        if job.delivery_id.startswith("bad"):
            raise RuntimeError("this job fails")
        await super().run(job)


async def test_worker_serves_health_and_job_metrics(redis_server: RedisServer) -> None:
    async def setup(tools: Tools) -> Failing:
        return Failing(tools, "w0")

    options = Options(redis_server.url, concurrency=2, http_host="127.0.0.1", http_port=0)
    worker = await create_worker(options, setup, handle_signals=False)
    task = asyncio.create_task(worker.main())
    queue = await RedisQueue(redis_server.url).open()
    try:

        async def serving() -> bool:
            return "bulwark_http_port" in worker.ctx

        await eventually(serving, 10.0, "the worker's HTTP endpoint")
        base = f"http://127.0.0.1:{worker.ctx['bulwark_http_port']}"
        await queue.put(Job(JobKind.DELIVERY, "good-1", 1, "acme/web", {}))
        await queue.put(Job(JobKind.DELIVERY, "bad-1", 1, "acme/api", {}))
        async with aiohttp.ClientSession() as session:

            async def counted() -> bool:
                text = await _get(session, base + "/metrics")
                return 'outcome="failed"' in text and 'outcome="ok"' in text

            await eventually(counted, 20.0, "both jobs counted")
            async with session.get(base + "/healthz") as health:
                assert (health.status, await health.json()) == (200, {"ok": True, "redis": True})
            text = await _get(session, base + "/metrics")
        assert 'bulwark_jobs_total{kind="delivery",outcome="ok"} 1.0' in text
        assert 'bulwark_jobs_total{kind="delivery",outcome="failed"} 1.0' in text
        for name in ("bulwark_queue_depth", "bulwark_lock_waits_total"):
            assert name in text
    finally:
        await queue.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await worker.close()


async def _get(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as response:
        assert response.status == 200
        return await response.text()
