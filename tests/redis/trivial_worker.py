"""A worker process whose jobs only record themselves (`python -m tests.redis.trivial_worker`)."""

from __future__ import annotations

import argparse
import sys

from bot.service.fleet import Options, Tools, run
from tests.redis.fleet_helpers import Recorder


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("redis_url")
    parser.add_argument("--name", default="w")
    parser.add_argument("--hold", action="store_true")
    parser.add_argument("--job-timeout", type=float, default=2.0)
    args = parser.parse_args(argv)

    async def setup(tools: Tools) -> Recorder:
        return Recorder(tools, args.name, hold=args.hold)

    return run(Options(args.redis_url, job_timeout=args.job_timeout), setup)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
