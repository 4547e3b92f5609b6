"""A trivial job service for queue-level tests: it records, in Redis, what ran where."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.service.fleet import Tools
from bot.service.queue import Job
from bot.service.redis_queue import QUEUE_NAME

STARTED = "bulwark:test:started"
DONE = "bulwark:test:done"
OVERLAPS = "bulwark:test:overlaps"
RELEASE = "bulwark:test:release"
BUSY_TTL_MS = 1000
CRON_PREFIX = "bulwark-resync:"  # arq's id of a unique cron job: name, then its tick
# Runs in this process that are over: their busy marker may outlive them when a Redis
# outage kept them from deleting it, which is no overlap. A run in another process is
# never here, so its marker always counts.
ENDED: set[str] = set()
_RUNS = itertools.count()


class Recorder:
    """Runs a job by recording it; `hold` makes jobs wait for the RELEASE key."""

    def __init__(self, tools: Tools, name: str, *, hold: bool = False, work: float = 0.0):
        self.tools = tools
        self.name = name
        self.hold = hold
        self.work = work
        self.resyncs = 0
        self.running: dict[str, int] = {}

    async def run(self, job: Job) -> None:
        redis = self.tools.redis
        await redis.rpush(STARTED, f"{job.delivery_id}@{self.name}")
        busy = f"bulwark:test:busy:{job.repo}"
        mine = f"{job.delivery_id}@{self.name}#{next(_RUNS)}"
        try:
            if job.repo is not None and not await _enter(redis, busy, mine):
                await redis.rpush(OVERLAPS, job.repo)
            if self.hold:  # until the test, in another process, sets RELEASE

                async def released() -> bool:
                    return bool(await redis.exists(RELEASE))

                await eventually(released, 120.0, "release")
            if self.work:
                await asyncio.sleep(self.work)  # the job's own duration
        finally:
            ENDED.add(mine)  # before the lock is released, even if Redis is away now
            if job.repo is not None and await redis.get(busy) == mine.encode():
                await redis.delete(busy)
        await redis.rpush(DONE, job.delivery_id)

    async def resync_all(self, reason: str = "periodic") -> int:
        self.resyncs += 1
        return 0

    async def close(self) -> None:
        return None

    async def flush(self) -> None:
        return None


async def _enter(redis: Any, busy: str, mine: str) -> bool:
    """Mark the repository busy with this run; False if another run is inside it."""
    while not await redis.set(busy, mine, nx=True, px=BUSY_TTL_MS):
        holder = await redis.get(busy)
        if holder is not None and holder.decode() not in ENDED:
            return False
        # The marker of a run that is over (an outage kept it from deleting it): replace it.
        if holder is not None and await redis.set(busy, mine, xx=True, px=BUSY_TTL_MS):
            return True
    return True


def decoded(values: list[Any]) -> list[str]:
    """Decode a Redis list reply."""
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


async def eventually(
    check: Callable[[], Awaitable[bool]], deadline: float = 20.0, what: str = "condition"
) -> None:
    """Poll `check` (state kept by other processes or Redis) until true, within a deadline."""
    end = time.monotonic() + deadline
    while not await check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def drained(redis: Any, deadline: float = 20.0) -> None:
    """Wait until the arq queue holds no job (waiting or running) but the fleet's cron tick."""

    # A worker whose tick comes late may enqueue a cron job again after another ran it;
    # arq then keeps it queued behind the run's 60 s in-progress mark before a no-op run.
    async def empty() -> bool:
        queued = decoded(await redis.zrange(QUEUE_NAME, 0, -1))
        return all(job.startswith(CRON_PREFIX) for job in queued)

    await eventually(empty, deadline, "the queue to drain")
