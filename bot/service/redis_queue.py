"""RedisQueue: the WorkQueue interface on arq, shared by the web tier and the workers.

Keys (beside arq's own `arq:*`):

- `bulwark:delivery:{id}`: set by the worker that first runs a delivery, kept
  `ttl` seconds, so a redelivery or a duplicate post to another web replica is
  acknowledged and skipped. The value is the token of the enqueue that claimed
  it, so arq's retry of that same job (its worker died) still runs.
- `bulwark:waiting:{dedupe_key}`: held while a job with that key waits, so a
  second one coalesces; the worker deletes it when the job starts, like the
  in-process queue.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, cast

from bot.metrics import Metrics
from bot.service.queue import Job, JobKind, Runner

if TYPE_CHECKING:
    from arq.connections import ArqRedis

QUEUE_NAME = "bulwark:queue"
FUNCTION = "run_job"
DELIVERY_TTL = 24 * 3600
WAITING_TTL = 3600
CONNECT_TIMEOUT = 2.0

log = logging.getLogger(__name__)

# Delete KEYS[1] only when it still holds ARGV[1].
_DELETE_IF = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
# Claim KEYS[1] for ARGV[1] (or find our own earlier claim): 1 = run, 0 = duplicate.
_CLAIM = """
local held = redis.call('get', KEYS[1])
if held == false then redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1 end
if held == ARGV[1] then return 1 end
return 0
"""


def delivery_key(delivery_id: str) -> str:
    """Return the Redis key remembering a delivery that ran."""
    return f"bulwark:delivery:{delivery_id}"


def waiting_key(dedupe_key: str) -> str:
    """Return the Redis key held while a job with `dedupe_key` waits."""
    return f"bulwark:waiting:{dedupe_key}"


def job_id(job: Job, token: str) -> str:
    """Return the arq job id: the delivery id for deliveries, else key or kind plus token."""
    if job.kind is JobKind.DELIVERY:
        return f"delivery:{job.delivery_id}"
    return f"{job.dedupe_key or job.kind}:{token}"


async def connect(url: str) -> ArqRedis:
    """Open an arq pool on `url` (redis-py reconnects by itself once Redis is back)."""
    from arq.connections import ArqRedis
    from redis.asyncio import ConnectionPool

    pool = ConnectionPool.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT * 5
    )
    return ArqRedis(connection_pool=pool, default_queue_name=QUEUE_NAME)


class RedisQueue:
    """Enqueue jobs for the worker fleet; `put` raises when Redis is unreachable."""

    def __init__(
        self,
        redis_url: str,
        *,
        metrics: Metrics | None = None,
        ttl: float = DELIVERY_TTL,
        redis: ArqRedis | None = None,
    ) -> None:
        self._url = redis_url
        self._metrics = metrics
        self.ttl = int(ttl)
        self._redis = redis
        self._owned = redis is None
        self._closed = False
        self._depth = 0

    @property
    def redis(self) -> ArqRedis:
        """Return the connection pool, opening it on first use."""
        if self._redis is None:
            raise RuntimeError("RedisQueue.open() was not awaited")
        return self._redis

    async def open(self) -> RedisQueue:
        """Open the connection pool (lazily: no round trip, so Redis may be down)."""
        if self._redis is None:
            self._redis = await connect(self._url)
        return self

    async def put(self, job: Job) -> bool:
        """Enqueue a job; False when coalesced or closing. Raises when Redis is away."""
        if self._closed:
            return False
        if self._redis is None:
            await self.open()
        if job.kind is JobKind.DELIVERY:
            return await self._put_delivery(job)
        token = uuid.uuid4().hex
        if job.dedupe_key is not None and not await self._hold(job.dedupe_key, token):
            self._count(job, "coalesced")
            return False
        try:
            await self._enqueue(job, token)
        except Exception:
            if job.dedupe_key is not None:
                await self._release_quietly(job.dedupe_key, token)
            raise
        return True

    async def _put_delivery(self, job: Job) -> bool:
        # Already run: acknowledge without queueing (the worker would skip it anyway).
        if await self.redis.exists(delivery_key(job.delivery_id)):
            self._count(job, "duplicate")
            return True
        queued = await self._enqueue(job, uuid.uuid4().hex)
        if not queued:
            self._count(job, "duplicate")  # still waiting or running: one job is enough
        return True

    async def _enqueue(self, job: Job, token: str) -> bool:
        found = await self.redis.enqueue_job(
            FUNCTION,
            job.to_dict(),
            token,
            _job_id=job_id(job, token),
            _queue_name=QUEUE_NAME,
        )
        return found is not None

    async def _hold(self, dedupe_key: str, token: str) -> bool:
        held = await self.redis.set(waiting_key(dedupe_key), token, nx=True, ex=WAITING_TTL)
        return bool(held)

    async def _release_quietly(self, dedupe_key: str, token: str) -> None:
        try:
            await self._eval(_DELETE_IF, 1, waiting_key(dedupe_key), token)
        except Exception:
            log.warning("could not release %s; it expires in %ds", dedupe_key, WAITING_TTL)

    async def started(self, job: Job, token: str) -> bool:
        """Mark a job as started; False when it is a delivery that already ran."""
        if job.kind is JobKind.DELIVERY:
            claim = await self._eval(_CLAIM, 1, delivery_key(job.delivery_id), token, str(self.ttl))
            return bool(claim)
        if job.dedupe_key is not None:
            await self._eval(_DELETE_IF, 1, waiting_key(job.dedupe_key), token)
        return True

    async def _eval(self, script: str, numkeys: int, *args: str) -> Any:
        # redis-py types eval for both its sync and async clients.
        return await cast(Awaitable[Any], self.redis.eval(script, numkeys, *args))

    async def release_if(self, key: str, value: str) -> None:
        """Delete `key` only while it still holds `value`."""
        await self._eval(_DELETE_IF, 1, key, value)

    async def failed(self, job: Job) -> None:
        """Forget the delivery a failed job came from, so GitHub's redelivery runs it again."""
        await self.redis.delete(delivery_key(job.delivery_id))

    async def finished(self, job: Job) -> None:
        """Mark a delivery done, so not even a retry of its own job runs it again."""
        if job.kind is JobKind.DELIVERY:
            await self.redis.set(delivery_key(job.delivery_id), "done", xx=True, keepttl=True)

    async def ping(self) -> bool:
        """Return True when Redis answers."""
        if self._redis is None:
            await self.open()
        return bool(await self.redis.ping())

    async def start(self, runner: Runner) -> None:
        """Workers run jobs (`bulwark worker`); the web tier only enqueues."""
        raise RuntimeError("a RedisQueue is consumed by `bulwark worker`, not started in-process")

    async def close(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Refuse new jobs and close the connection pool (when this queue opened it)."""
        self._closed = True
        if self._redis is not None and self._owned:
            await self._redis.aclose()
            self._redis = None

    def depth(self) -> int:
        """Return how many jobs waited when last measured (`refresh_depth`)."""
        return self._depth

    async def refresh_depth(self) -> int:
        """Ask Redis how many jobs are queued (waiting or running) and remember it."""
        self._depth = int(await self.redis.zcard(QUEUE_NAME))
        if self._metrics is not None:
            self._metrics.depth(self._depth)
        return self._depth

    async def join(self) -> None:
        """Jobs run in other processes: there is nothing in this one to wait for."""

    def _count(self, job: Job, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.job(job.kind, outcome)
