"""The composition root: the one place that wires settings, clients, stores, queue and runtime.

`bulwark serve`, `bulwark worker`, the demo and the embedded harness all build here;
nothing below this module knows how the others are put together.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, cast

from aiohttp import web

from bot.clock import Clock, SystemClock
from bot.engine.feedback import FeedbackMemory
from bot.engine.limits import CommandLimiter
from bot.engine.policies import PolicyStore
from bot.engine.reconcile import Reconciler
from bot.github.client import RetryPolicy
from bot.github.clients import GitHubClients
from bot.handlers import router
from bot.metrics import Metrics
from bot.service.queue import InProcessQueue, JobService, WorkQueue
from bot.service.redelivery import INTERVAL as REDELIVERY_INTERVAL
from bot.service.redelivery import LocalClaims, Redeliverer, RedisClaims
from bot.service.redis_queue import RedisQueue
from bot.service.runtime import REPORT_DEBOUNCE, Runtime
from bot.service.server import HEALTH_CHECKS, create_app, forgetting_failures
from bot.settings import ConfigError, Settings
from bot.store.deliveries import DeliveryMemory, SharedDeliveryMemory
from bot.store.locks import RepoLocks
from bot.store.redis_statuses import RedisStatusStore
from bot.store.statuses import StatusStore

if TYPE_CHECKING:
    from bot.service.fleet import Tools
    from bot.service.queue import JobService as _JobService

log = logging.getLogger(__name__)

# Running jobs get this long to finish on SIGTERM (Heroku allows 30 seconds in all).
SHUTDOWN_GRACE = 20.0
FLEET_POLICY_TTL = 300.0  # seconds a fleet worker trusts a cached policy file


def freeze_start_up_objects() -> None:
    """Keep what start-up built (modules, classes, the runtime) out of every later collection.

    A full pass of CPython's cyclic collector stops the process for as long as it takes
    to visit every tracked object: with the ~50,000 objects a started process holds, 25 to
    100 ms on a 2-core machine, long enough to hold a webhook acknowledgement behind it.
    Frozen objects are still freed by reference counting; only cycles among them stay.
    https://docs.python.org/3/library/gc.html#gc.freeze
    """
    gc.collect()
    gc.freeze()


def require_redis_extra() -> None:
    """Stop with one clear line when REDIS_URL is set but arq and redis are not installed."""
    try:
        import arq  # noqa: F401
        import redis  # noqa: F401
    except ModuleNotFoundError:
        raise ConfigError(
            "REDIS_URL", "needs the redis extra: pip install 'bulwark[redis]'"
        ) from None


async def build_runtime(
    settings: Settings,
    *,
    clock: Clock,
    metrics: Metrics,
    queue: WorkQueue,
    retry: RetryPolicy | None = None,
    locks: RepoLocks | None = None,
    statuses: StatusStore | None = None,
    policy_ttl: float | None = None,
    report_debounce: float = REPORT_DEBOUNCE,
) -> Runtime:
    """Open the process's GitHub session and build the runtime; `runtime.close()` ends it."""
    stack = contextlib.AsyncExitStack()
    clients = await stack.enter_async_context(
        GitHubClients.open(settings, clock=clock, retry=retry, metrics=metrics)
    )
    policies = PolicyStore(ttl=policy_ttl, clock=clock)
    statuses = statuses or StatusStore()
    runtime = Runtime(
        clients=clients,
        queue=queue,
        clock=clock,
        router=router,
        policies=policies,
        statuses=statuses,
        reconciler=Reconciler(policies, statuses, clock, locks),
        limiter=CommandLimiter(clock),
        resync_interval=settings.resync_interval,
        report_debounce=report_debounce,
    )
    runtime.on_close(stack.aclose)
    return runtime


def build_services(
    settings: Settings, *, clock: Clock | None = None, runtime: JobService | None = None
) -> web.Application:
    """Wire the server, the queue and the worker side (built here unless given) into one app."""
    clock = clock or SystemClock()
    metrics = Metrics()
    if settings.redis_url:
        return _web_tier(settings, settings.redis_url, clock=clock, metrics=metrics)
    queue = InProcessQueue(metrics=metrics, clock=clock)
    seen = DeliveryMemory(clock)
    app = create_app(settings, queue=queue, metrics=metrics, clock=clock, seen=seen)

    async def jobs(_: web.Application) -> AsyncIterator[None]:
        worker: JobService
        redelivery: asyncio.Task[None] | None = None
        if runtime is None:
            built = await build_runtime(settings, clock=clock, metrics=metrics, queue=queue)
            freeze_start_up_objects()
            # One resync at start-up, then every RESYNC_INTERVAL: nothing lost stays lost.
            built.start_resync()
            worker = built
        else:
            worker = runtime
        await queue.start(forgetting_failures(worker.run, seen))
        if runtime is None:
            # Deliveries GitHub could not make while this process was down: asked again.
            redeliverer = Redeliverer(
                built.clients.for_app, LocalClaims(clock), clock, metrics=metrics
            )
            redelivery = asyncio.create_task(redeliverer.forever(REDELIVERY_INTERVAL))
        yield
        if redelivery is not None:
            redelivery.cancel()
            await asyncio.gather(redelivery, return_exceptions=True)
        # The server stopped accepting before cleanup runs: finish running jobs.
        log.info("stopping: finishing running jobs (at most %.0f s)", SHUTDOWN_GRACE)
        await queue.close(timeout=SHUTDOWN_GRACE)
        await worker.close()

    app.cleanup_ctx.append(jobs)
    return app


def _web_tier(
    settings: Settings, redis_url: str, *, clock: Clock, metrics: Metrics
) -> web.Application:
    """The web tier of a fleet: verify, dedupe and enqueue on Redis; `bulwark worker` runs jobs."""
    require_redis_extra()
    queue = RedisQueue(redis_url, metrics=metrics)
    app = create_app(
        settings, queue=queue, metrics=metrics, clock=clock, seen=SharedDeliveryMemory(clock)
    )

    async def redis_up() -> bool:
        await queue.refresh_depth()
        return await queue.ping()

    app[HEALTH_CHECKS].append(redis_up)

    async def connection(_: web.Application) -> AsyncIterator[None]:
        await queue.open()
        yield
        await queue.close()

    app.cleanup_ctx.append(connection)
    return app


def fleet_setup(settings: Settings) -> Callable[[Tools], Awaitable[Runtime]]:
    """Return how a fleet worker builds its runtime once Redis is connected."""

    async def setup(tools: Tools) -> Runtime:
        statuses = RedisStatusStore(tools.redis)
        runtime = await build_runtime(
            settings,
            clock=SystemClock(),
            metrics=tools.metrics,
            queue=tools.queue,
            # Same `lock(repo)` interface as RepoLocks, held across processes.
            locks=cast(RepoLocks, tools.locks),
            statuses=statuses,
            # Another worker may handle the push that changes a policy file.
            policy_ttl=FLEET_POLICY_TTL,
        )
        runtime.on_close(statuses.close)
        freeze_start_up_objects()
        # Other workers publish on the same pull requests: list what GitHub holds each time.
        runtime.services = replace(runtime.services, feedback=FeedbackMemory(shared=True))
        return runtime

    return setup


def fleet_redelivery(tools: Tools, service: _JobService) -> Redeliverer:
    """Return the fleet's redeliverer: claims per GUID on Redis, one pass per interval."""
    runtime = cast(Runtime, service)
    return Redeliverer(
        runtime.clients.for_app, RedisClaims(tools.redis), runtime.clock, metrics=tools.metrics
    )
