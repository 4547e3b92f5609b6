"""`bulwark worker`: run queued jobs from Redis (a fleet member)."""

from __future__ import annotations

import sys

from bot.app import fleet_redelivery, fleet_setup, require_redis_extra
from bot.logs import configure_logging
from bot.service.fleet import Options, parse_args, run
from bot.settings import load_settings


def main(argv: list[str]) -> int:
    """Run `bulwark worker [--concurrency N] [--job-timeout S]`: jobs from Redis."""
    require = "bulwark: worker needs REDIS_URL (without it, `bulwark serve` runs jobs itself)"
    args = parse_args(argv)  # before the settings, so `--help` needs none
    settings = load_settings()
    if not settings.redis_url:
        print(require, file=sys.stderr)
        return 2
    require_redis_extra()
    configure_logging(settings.log_level, settings.log_format)
    options = Options(
        settings.redis_url,
        concurrency=args.concurrency,
        job_timeout=args.job_timeout,
        resync_interval=settings.resync_interval,
        http_host=settings.host,
        # Opt-in: several workers often share one machine (and its PORT).
        http_port=args.port,
    )
    return run(options, fleet_setup(settings), fleet_redelivery)
