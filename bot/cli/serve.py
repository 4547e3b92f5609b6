"""`bulwark serve`: the GitHub App — webhooks, health, metrics, and (without Redis) the worker."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from bot.app import SHUTDOWN_GRACE, build_services
from bot.logs import configure_logging
from bot.settings import load_settings

log = logging.getLogger("bot.cli")


def main(argv: list[str]) -> int:
    """Run the GitHub App until SIGTERM/SIGINT, then shut down gracefully."""
    argparse.ArgumentParser(
        prog="bulwark serve",
        description="Run the GitHub App: webhook endpoint, /healthz, /metrics and, "
        "without REDIS_URL, the worker and the periodic resync.",
    ).parse_args(argv)
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
