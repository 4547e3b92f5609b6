"""A fleet worker's own `/healthz` and `/metrics`, so each worker can be watched."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.metrics import Metrics

Ping = Callable[[], Awaitable[bool]]
CONTENT_TYPE = "text/plain; version=0.0.4"


def worker_app(
    metrics: Metrics, ping: Ping, refresh: Callable[[], Awaitable[object]]
) -> web.Application:
    """Build the worker's small HTTP app: health (Redis reachable) and Prometheus metrics."""

    async def healthz(_: web.Request) -> web.Response:
        try:
            up = await ping()
        except Exception:
            up = False
        return web.json_response({"ok": up, "redis": up}, status=200 if up else 503)

    async def metrics_page(_: web.Request) -> web.Response:
        # The queue depth is read from Redis on demand; metrics render without it too.
        with contextlib.suppress(Exception):
            await refresh()
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)
    return app


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve `app` on host:port (0 picks a free port); return the runner and the bound port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    return runner, (sockets[0].getsockname()[1] if sockets else port)
