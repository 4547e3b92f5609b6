"""Bulwark and the local GitHub sandbox in one process: for the demo, tests and benchmarks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from bot.app import build_runtime
from bot.clock import Clock, SystemClock
from bot.github.client import RetryPolicy
from bot.metrics import Metrics
from bot.sandbox import Sandbox
from bot.service.queue import InProcessQueue
from bot.service.runtime import Runtime
from bot.service.server import create_app, forgetting_failures
from bot.settings import Settings
from bot.store.deliveries import DeliveryMemory


@dataclass
class Embedded:
    """A running Bulwark wired to a running sandbox."""

    sandbox: Sandbox
    settings: Settings
    runtime: Runtime
    queue: InProcessQueue
    metrics: Metrics
    webhook_url: str
    base_url: str
    installation_id: int = 0  # set by whoever installs the App on the sandbox

    async def deliver(self, event: str, payload: Any, *, delivery_id: str | None = None) -> int:
        """Send a signed delivery to Bulwark, as GitHub would; return the HTTP status."""
        return await self.sandbox.deliver(self.webhook_url, event, payload, delivery_id=delivery_id)

    async def settle(self) -> None:
        """Wait until every queued job and scheduled report has run."""
        while True:
            await self.queue.join()
            pending = self.runtime.pending()
            if not pending and self.queue.depth() == 0:
                return
            await asyncio.gather(*pending, return_exceptions=True)


def sandbox_settings(sandbox: Sandbox, **overrides: Any) -> Settings:
    """Return settings that point Bulwark at a running sandbox."""
    values: dict[str, Any] = {
        "app_id": sandbox.app_id,
        "private_key": sandbox.private_key_pem,
        "webhook_secret": sandbox.webhook_secret,
        "github_api_url": sandbox.api_url,
        "github_graphql_url": sandbox.graphql_url,
        "host": "127.0.0.1",
        "port": 0,
        "write_interval": 0.0,
        "log_format": "text",
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Serving:
    """A running Bulwark: webhook endpoint, in-process queue and runtime, on loopback."""

    runtime: Runtime
    queue: InProcessQueue
    metrics: Metrics
    base_url: str


@asynccontextmanager
async def serving(
    settings: Settings, *, clock: Clock, retry: RetryPolicy, concurrency: int = 8
) -> AsyncIterator[Serving]:
    """Run what `bulwark serve` runs without Redis, on a free loopback port, while in the block."""
    metrics = Metrics()
    queue = InProcessQueue(concurrency, metrics=metrics, clock=clock)
    runtime = await build_runtime(settings, clock=clock, metrics=metrics, queue=queue, retry=retry)
    seen = DeliveryMemory(clock)
    app = create_app(settings, queue=queue, metrics=metrics, clock=clock, seen=seen)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    await queue.start(forgetting_failures(runtime.run, seen))
    try:
        yield Serving(runtime, queue, metrics, f"http://127.0.0.1:{port}")
    finally:
        await queue.close(timeout=10)
        await runtime.close()
        await runner.cleanup()


@asynccontextmanager
async def embedded(
    sandbox: Sandbox,
    *,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
    concurrency: int = 8,
    report_debounce: float | None = None,
    write_interval: float = 0.0,
    association_wait: float | None = None,
) -> AsyncIterator[Embedded]:
    """Run Bulwark (server, queue, runtime) against `sandbox`, which must be started."""
    settings = sandbox_settings(sandbox, write_interval=write_interval)
    async with serving(
        settings,
        clock=clock or SystemClock(),
        retry=retry or RetryPolicy.for_tests(),
        concurrency=concurrency,
    ) as bulwark:
        runtime = bulwark.runtime
        if report_debounce is not None:
            runtime.report_debounce = report_debounce
        if association_wait is not None:
            runtime.services = replace(runtime.services, association_wait=association_wait)
        yield Embedded(
            sandbox,
            settings,
            runtime,
            bulwark.queue,
            bulwark.metrics,
            bulwark.base_url + settings.webhook_path,
            bulwark.base_url,
        )
