"""The `bulwark` command line: parse arguments, build Settings, start things."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from aiohttp import web

from bot.clock import Clock, SystemClock
from bot.logs import configure_logging
from bot.metrics import Metrics
from bot.queue import InProcessQueue, Job, WorkQueue
from bot.server import (
    HEALTH_CHECKS,
    DeliveryMemory,
    SharedDeliveryMemory,
    create_app,
    forgetting_failures,
)
from bot.settings import ConfigError, Settings, merged_environ

# Running jobs get this long to finish on SIGTERM (Heroku allows 30 seconds in all).
SHUTDOWN_GRACE = 20.0

# Sub-commands written in their own modules: verb -> (module, function taking argv -> int).
DELEGATES: dict[str, tuple[str, str, str]] = {
    "worker": ("bot.worker", "main", "run a queue worker only (needs REDIS_URL)"),
    "demo": ("bot.demo", "main", "run the app end to end against the local sandbox"),
    "scan": ("bot.scan_cli", "main", "scan an organization once (--org ORG [--apply])"),
    "check-config": ("bot.check_config", "main", "validate a policy file"),
    "sandbox": ("bot.sandbox", "main", "run the local GitHub sandbox alone"),
}

log = logging.getLogger("bot.cli")


class Runtime(Protocol):
    """What `serve` needs of the worker side: a runner for the queue."""

    async def run(self, job: Job) -> None:
        """Run one job."""

    def start_resync(self) -> None:
        """Start the periodic resync."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bulwark", description="A GitHub App that enforces and proves branch protection."
    )
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND")
    verbs.add_parser("serve", help="run the GitHub App: webhooks, health, metrics, worker")
    for verb, (_, _, help_text) in DELEGATES.items():
        # No help of our own: `bulwark scan --help` is answered by the command itself.
        verbs.add_parser(verb, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a `bulwark` sub-command and return its exit status."""
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        if args.command == "serve":
            if rest:
                parser.error(f"unrecognized arguments: {' '.join(rest)}")
            return serve()
        return _delegate(args.command, rest)
    except ConfigError as exc:
        print(f"bulwark: configuration error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `bulwark scan … | head`: the reader left
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - no flush error at exit
        return 2
    except Exception:
        # 1 means "drift remains" to a CI gate: a crash must never look like that.
        log.exception("bulwark: internal error")
        print("bulwark: internal error (the traceback is above); exit 2", file=sys.stderr)
        return 2


def _delegate(verb: str, argv: list[str]) -> int:
    module_name, function, _ = DELEGATES[verb]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise
        module = None
    entry = getattr(module, function, None)
    if entry is None:
        print(f"bulwark: {verb} is not available yet", file=sys.stderr)
        return 2
    result = entry(argv)
    return int(result or 0)


def load_settings() -> Settings:
    """Build Settings from the environment overlaid on `./.env`."""
    return Settings.from_env(merged_environ(os.environ, Path.cwd()))


def serve() -> int:
    """Run the GitHub App until SIGTERM/SIGINT, then shut down gracefully."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = build_services(settings)
    log.info("listening on %s:%d", settings.host, settings.port)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=None,
        access_log=None,
        shutdown_timeout=SHUTDOWN_GRACE,
    )
    return 0


def build_services(
    settings: Settings, *, clock: Clock | None = None, runtime: Runtime | None = None
) -> web.Application:
    """Wire the server, the queue and the worker side (built here unless given) into one app."""
    clock = clock or SystemClock()
    metrics = Metrics()
    if settings.redis_url:
        return _redis_services(settings, settings.redis_url, clock=clock, metrics=metrics)
    queue = InProcessQueue(metrics=metrics, clock=clock)
    seen = DeliveryMemory(clock)
    app = create_app(settings, queue=queue, metrics=metrics, clock=clock, seen=seen)

    async def jobs(_: web.Application) -> AsyncIterator[None]:
        worker = runtime or await _build_runtime(
            settings, clock=clock, metrics=metrics, queue=queue
        )
        await queue.start(forgetting_failures(worker.run, seen))
        if runtime is None:
            # One resync at start-up, then every RESYNC_INTERVAL: nothing lost stays lost.
            worker.start_resync()
        yield
        # The server stopped accepting before cleanup runs: finish running jobs.
        log.info("stopping: finishing running jobs (at most %.0f s)", SHUTDOWN_GRACE)
        await queue.close(timeout=SHUTDOWN_GRACE)
        close = getattr(worker, "close", None)
        if close is not None:
            await close()

    app.cleanup_ctx.append(jobs)
    return app


def _redis_services(
    settings: Settings, redis_url: str, *, clock: Clock, metrics: Metrics
) -> web.Application:
    """The web tier of a fleet: verify, dedupe and enqueue on Redis; `bulwark worker` runs jobs."""
    from bot.worker import require_redis_extra

    require_redis_extra()
    from bot.redis.queue import RedisQueue

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


async def _build_runtime(
    settings: Settings, *, clock: Clock, metrics: Metrics, queue: WorkQueue
) -> Runtime:
    from bot.worker import build_runtime  # the worker side: GitHub clients and handlers

    return await build_runtime(settings, clock=clock, metrics=metrics, queue=queue)
