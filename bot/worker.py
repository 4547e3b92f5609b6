"""Build the worker side (GitHub clients + runtime); `bulwark worker` runs it off a Redis queue."""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import cast

from bot.clock import Clock
from bot.github.client import RetryPolicy
from bot.github.clients import GitHubClients
from bot.metrics import Metrics
from bot.queue import WorkQueue
from bot.reconcile import RepoLocks, StatusStore
from bot.runtime import Runtime
from bot.settings import ConfigError, Settings

log = logging.getLogger(__name__)

FLEET_POLICY_TTL = 300.0  # seconds a fleet worker trusts a cached policy file


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
) -> Runtime:
    """Open the process's GitHub session and build the runtime; `runtime.close()` ends it."""
    stack = contextlib.AsyncExitStack()
    clients = await stack.enter_async_context(
        GitHubClients.open(settings, clock=clock, retry=retry, metrics=metrics)
    )
    runtime = Runtime(
        clients=clients,
        queue=queue,
        clock=clock,
        resync_interval=settings.resync_interval,
        locks=locks,
        statuses=statuses,
        policy_ttl=policy_ttl,
    )
    runtime.on_close(stack.aclose)
    return runtime


def main(argv: list[str]) -> int:
    """Run `bulwark worker [--concurrency N] [--job-timeout S]`: jobs from Redis."""
    from bot.cli import load_settings
    from bot.clock import SystemClock
    from bot.logs import configure_logging
    from bot.redis.worker import parse_args

    args = parse_args(argv)  # before the settings, so `--help` needs none
    settings = load_settings()
    if not settings.redis_url:
        print(
            "bulwark: worker needs REDIS_URL (without it, `bulwark serve` runs jobs itself)",
            file=sys.stderr,
        )
        return 2
    require_redis_extra()
    from bot.redis.statuses import RedisStatusStore
    from bot.redis.worker import Options, Tools, run

    configure_logging(settings.log_level, settings.log_format)
    options = Options(
        settings.redis_url,
        concurrency=args.concurrency,
        job_timeout=args.job_timeout,
        resync_interval=settings.resync_interval,
    )

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
        return runtime

    return run(options, setup)
