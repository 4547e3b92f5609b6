"""`bulwark worker`: an arq worker running queued jobs for the fleet.

Every job runs under its repository's Redis lock (jobs with no repository run
free), a delivery runs once however often it was posted, and the periodic
resync runs once per interval across the fleet: arq's unique cron job fires
every few seconds on one worker, and a `SET NX EX interval` key lets only the
first of each interval through.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.logs import log_context
from bot.metrics import Metrics
from bot.service.queue import Job, JobService
from bot.service.redelivery import INTERVAL as REDELIVERY_INTERVAL
from bot.service.redelivery import Redeliverer, gated
from bot.service.redis_queue import FUNCTION, QUEUE_NAME, RedisQueue, connect
from bot.service.worker_http import serve as serve_http
from bot.service.worker_http import worker_app
from bot.store.redis_locks import LockBusy, RedisRepoLocks

if TYPE_CHECKING:
    from arq.connections import ArqRedis
    from arq.worker import Worker

DEFAULT_CONCURRENCY = 10
DEFAULT_JOB_TIMEOUT = 300.0
LOCK_MARGIN = 5.0  # the lock outlives a job cancelled at its timeout by this much
# A try ends early (and does not fail) when a repository is busy or Redis blinks:
# room for many of those, since the job must still run once.
MAX_TRIES = 50
LOCK_WAIT = 2.0  # seconds a job waits for a busy repository (at most half its timeout)
POLL_DELAY = 0.05
CRON_SECONDS = frozenset(range(0, 60, 10))
RESYNC_KEY = "bulwark:resync"
SHUTDOWN_GRACE = 20
RETRY_DELAY = 1.0
OUTAGE_POLL = 0.5

log = logging.getLogger(__name__)

STOP_ATTEMPTS = 20  # cancellations of a worker's main task, OUTAGE_POLL apart, before giving up


async def cancel_until_done(
    task: asyncio.Task[Any], *, every: float = OUTAGE_POLL, attempts: int = STOP_ATTEMPTS
) -> bool:
    """Cancel a task until it ends, at most `attempts` times `every` seconds apart; True if it did.

    redis-py's asyncio client can lose a cancellation that lands inside a read with a
    timeout (https://github.com/redis/redis-py/issues/2028, /2551): arq's one cancel of
    its main task then leaves the worker polling after SIGTERM. Asking again stops it.
    """
    for _ in range(attempts):
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=every)
        if done:
            return True
    return False


@dataclass(frozen=True)
class Tools:
    """What a service is built from: the follow-up queue, the locks, the raw connection."""

    queue: RedisQueue
    locks: RedisRepoLocks
    redis: ArqRedis
    metrics: Metrics


Setup = Callable[[Tools], Awaitable[JobService]]
Redelivery = Callable[[Tools, JobService], Redeliverer]


@dataclass(frozen=True)
class Options:
    """How one worker process runs."""

    redis_url: str
    concurrency: int = DEFAULT_CONCURRENCY
    job_timeout: float = DEFAULT_JOB_TIMEOUT
    resync_interval: float = 3600.0
    poll_delay: float = POLL_DELAY
    delivery_ttl: float = 24 * 3600
    http_host: str = "0.0.0.0"  # noqa: S104 - /healthz and /metrics for the platform
    http_port: int | None = None  # None: no HTTP endpoint


class Fleet:
    """One worker process's side of the fleet: run jobs under locks, gate the resync."""

    def __init__(
        self,
        tools: Tools,
        service: JobService,
        options: Options,
        name: str | None = None,
        redeliverer: Redeliverer | None = None,
    ) -> None:
        self.tools = tools
        self.service = service
        self.options = options
        self.name = name or uuid.uuid4().hex
        self.redeliverer = redeliverer

    async def redeliver(self) -> bool:
        """Run a redelivery pass when no worker has in this interval; True if this one did."""
        if self.redeliverer is None:
            return False
        return await gated(
            self.tools.redis, self.name, REDELIVERY_INTERVAL, self.redeliverer.guarded_pass
        )

    async def run(self, job: Job, token: str) -> None:
        """Run a job once (deliveries) under its repository's lock."""
        event = job.payload.get("event")
        with log_context(
            delivery_id=job.delivery_id,
            event=event if isinstance(event, str) else None,
            installation=job.installation_id,
            repo=job.repo,
        ):
            if not await self.tools.queue.started(job, token):
                log.info("duplicate delivery skipped")
                self.tools.metrics.job(job.kind, "duplicate")
                return
            loop = asyncio.get_running_loop()
            started = loop.time()
            if job.repo is None:
                await self._run(job)
            else:
                async with self.tools.locks.lock(job.repo):
                    await self._run(job)
            await self.tools.queue.finished(job)
            self.tools.metrics.job(job.kind, "ok", loop.time() - started)

    async def _run(self, job: Job) -> None:
        try:
            await self.service.run(job)
            # Under the repository's lock: the next holder's writes land after these.
            await self.service.flush()
        except Exception:
            # The delivery (or the work it queued) failed: a redelivery must run again.
            await self.tools.queue.failed(job)
            raise

    async def resync(self) -> bool:
        """Run the periodic resync when no worker has in this interval; True if this one did."""
        ttl = max(1, int(self.options.resync_interval))
        if not await self.tools.redis.set(RESYNC_KEY, self.name, nx=True, ex=ttl):
            return False
        try:
            queued = await self.service.resync_all("periodic")
        except Exception:
            # Give the interval back (only if still ours): another try need not wait an hour.
            await self.tools.queue.release_if(RESYNC_KEY, self.name)
            raise
        log.info("resync queued for %d installations", queued)
        return True


async def run_job(ctx: dict[str, Any], job: dict[str, Any], token: str) -> None:
    """arq entry point: run one queued job; a Redis outage mid-job retries it."""
    from arq.worker import Retry
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    fleet: Fleet = ctx["bulwark"]
    metrics = fleet.tools.metrics
    try:
        queued = Job.from_dict(job)
    except ValueError:  # queued by a newer version: this one cannot run it
        log.warning("returning: unknown job kind %r", job.get("kind"))
        return
    try:
        await fleet.run(queued, token)
    except LockBusy as exc:
        log.info("%s: the job will be retried", exc)
        metrics.lock_waits.inc()
        metrics.job(queued.kind, "retried")
        raise Retry(defer=RETRY_DELAY) from exc
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.warning("Redis failed mid-job (%s): the job will be retried", exc)
        metrics.job(queued.kind, "retried")
        raise Retry(defer=RETRY_DELAY) from exc
    except Exception:
        metrics.job(queued.kind, "failed")
        raise


async def redeliver(ctx: dict[str, Any]) -> None:
    """arq cron entry point: the fleet-wide redelivery pass."""
    fleet: Fleet = ctx["bulwark"]
    await fleet.redeliver()


async def resync(ctx: dict[str, Any]) -> None:
    """arq cron entry point: the fleet-wide periodic resync."""
    fleet: Fleet = ctx["bulwark"]
    await fleet.resync()


def _worker_class() -> type[Worker]:
    from arq.worker import Worker
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from redis.exceptions import WatchError

    # redis-py reports a connection lost inside WATCH as a WatchError.
    outage_errors = (RedisConnectionError, RedisTimeoutError, WatchError, OSError)

    class FleetWorker(Worker):
        """An arq Worker that waits out a Redis outage instead of exiting."""

        outage = False
        stopping: asyncio.Task[bool] | None = None

        def handle_sig(self, signum: int) -> None:
            super().handle_sig(signum)  # type: ignore[arg-type]
            if self.main_task is not None and self._handle_signals:
                # Should the one cancel above be lost, cancel again until it ends.
                self.stopping = self.loop.create_task(cancel_until_done(self.main_task))

        async def start_jobs(self, job_ids: list[bytes]) -> None:
            try:
                await super().start_jobs(job_ids)
            except outage_errors:
                # arq took a slot for the job it was starting when Redis failed: give it back.
                self.job_counter -= 1
                self.sem.release()
                raise

        async def _poll_iteration(self) -> None:
            try:
                await super()._poll_iteration()
            except outage_errors as exc:
                if not self.outage:
                    log.error("Redis unreachable (%s): waiting for it to return", exc)
                self.outage = True
                await asyncio.sleep(OUTAGE_POLL)
            else:
                if self.outage:
                    log.info("Redis is back: resuming")
                self.outage = False

    return FleetWorker


def lock_wait(job_timeout: float) -> float:
    """Return how long a job waits for its repository's lock before going back to the queue."""
    # Well inside the job's timeout: arq counts a timed-out job as failed and drops it,
    # where a busy repository must only send the job back for another try.
    return min(LOCK_WAIT, job_timeout / 2)


async def create_worker(
    options: Options,
    setup: Setup,
    *,
    handle_signals: bool = True,
    redelivery: Redelivery | None = None,
) -> Worker:
    """Build the arq worker; `setup` builds the job service once Redis is connected."""
    from arq import cron
    from arq.worker import func

    async def startup(ctx: dict[str, Any]) -> None:
        redis = ctx["redis"]
        metrics = Metrics()
        queue = RedisQueue(options.redis_url, metrics=metrics, ttl=options.delivery_ttl)
        await queue.open()
        # Wait briefly for a busy repository, then give the job (and its slot) back.
        locks = RedisRepoLocks(
            redis, timeout=options.job_timeout + LOCK_MARGIN, wait=lock_wait(options.job_timeout)
        )
        tools = Tools(queue=queue, locks=locks, redis=redis, metrics=metrics)
        service = await setup(tools)
        redeliverer = redelivery(tools, service) if redelivery is not None else None
        ctx["bulwark"] = Fleet(tools, service, options, redeliverer=redeliverer)
        if options.http_port is not None:
            app = worker_app(metrics, queue.ping, queue.refresh_depth)
            ctx["bulwark_http"], port = await serve_http(app, options.http_host, options.http_port)
            ctx["bulwark_http_port"] = port
            log.info("worker health and metrics on %s:%d", options.http_host, port)

    async def shutdown(ctx: dict[str, Any]) -> None:
        fleet: Fleet | None = ctx.get("bulwark")
        if fleet is not None:
            await fleet.service.close()
            await fleet.tools.queue.close()
        runner = ctx.get("bulwark_http")
        if runner is not None:
            await runner.cleanup()

    pool = await connect(options.redis_url)
    worker: Worker = _worker_class()(
        # One timeout for every job: arq holds a crashed worker's job for the longest
        # function timeout + 10 s before another worker may retry it.
        functions=[func(run_job, name=FUNCTION, keep_result=0, max_tries=MAX_TRIES)],
        cron_jobs=[
            cron(resync, name="bulwark-resync", second=set(CRON_SECONDS), run_at_startup=True),
            cron(
                redeliver, name="bulwark-redeliver", second=set(CRON_SECONDS), run_at_startup=True
            ),
        ],
        queue_name=QUEUE_NAME,
        redis_pool=pool,
        max_jobs=options.concurrency,
        job_timeout=options.job_timeout,
        keep_result=0,
        max_tries=MAX_TRIES,
        poll_delay=options.poll_delay,
        on_startup=startup,
        on_shutdown=shutdown,
        handle_signals=handle_signals,
        job_completion_wait=SHUTDOWN_GRACE,
    )
    return worker


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse `bulwark worker` arguments."""
    parser = argparse.ArgumentParser(
        prog="bulwark worker", description="Run queued jobs from Redis (needs REDIS_URL)."
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"jobs run at once by this process (default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--job-timeout",
        type=float,
        default=DEFAULT_JOB_TIMEOUT,
        metavar="SECONDS",
        help="a job running longer is cancelled and counted failed, not retried; the next "
        "resync repairs what it would have done "
        f"(default {DEFAULT_JOB_TIMEOUT:.0f}; repository locks last this plus {LOCK_MARGIN:.0f})",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        metavar="N",
        help="serve /healthz and /metrics on this port (0: any free port; default: none)",
    )
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.job_timeout <= 0:
        parser.error("--job-timeout must be positive")
    return args


def run(options: Options, setup: Setup, redelivery: Redelivery | None = None) -> int:
    """Run a worker until SIGTERM/SIGINT; return the exit status."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        worker = loop.run_until_complete(create_worker(options, setup, redelivery=redelivery))
        log.info(
            "worker started: concurrency=%d job_timeout=%.0fs",
            options.concurrency,
            options.job_timeout,
        )
        worker.run()
    finally:
        loop.close()
    return 0
