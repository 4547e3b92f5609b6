"""`bulwark evidence`: prove each SDLC promise over a period from GitHub's own record."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from rich.console import Console

from bot.cli.org_access import FAILURES, failure, missing, org_gateway, with_progress
from bot.clock import Clock, SystemClock, isoformat
from bot.core.evidence import Status
from bot.core.evidence_render import EvidenceReport, render_html, render_json, render_markdown
from bot.engine.evidence import gather_evidence, report_of
from bot.github.client import RetryPolicy
from bot.settings import ConfigError, merged_environ

EXIT_MET, EXIT_NOT_MET, EXIT_ERROR = 0, 1, 2
DEFAULT_DAYS = 90
RENDERERS = {"markdown": render_markdown, "json": render_json, "html": render_html}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bulwark evidence",
        description="Prove each SDLC promise over a period from GitHub's own record (read only).",
        epilog="Exit status: 0 every promise met, 1 one is not (or could not be proven), 2 error.",
    )
    parser.add_argument("--org", required=True, help="the organization")
    period = parser.add_mutually_exclusive_group()
    period.add_argument("--since", metavar="DATE", help="start (YYYY-MM-DD or ISO 8601, UTC)")
    period.add_argument(
        "--days", type=int, metavar="N", help=f"the last N days (default {DEFAULT_DAYS})"
    )
    parser.add_argument("--until", metavar="DATE", help="end (default: now)")
    parser.add_argument("--format", choices=tuple(RENDERERS), default="markdown")
    parser.add_argument("--out", metavar="FILE", help="write there instead of standard output")
    parser.add_argument("--repo", nargs="+", metavar="NAME", help="only these repositories")
    return parser


def main(argv: list[str]) -> int:
    """Gather and print the evidence; return 0 / 1 / 2 (met / not met / error)."""
    environ = merged_environ(os.environ, Path.cwd())
    return asyncio.run(run(argv, environ=environ, out=sys.stdout, err=sys.stderr))


def parse_date(text: str, *, end: bool = False) -> datetime:
    """Read a date (a day's start, or its end with `end`) or an ISO 8601 time, as UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError("--since/--until", f"not a date: {text!r} (use YYYY-MM-DD)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end and len(text) == 10:
        moment += timedelta(days=1, seconds=-1)
    return moment.astimezone(UTC)


def period(args: argparse.Namespace, now: float) -> tuple[str, str]:
    """Return the period as GitHub timestamps: [since, until]."""
    until = parse_date(args.until, end=True) if args.until else datetime.fromtimestamp(now, UTC)
    if args.since:
        since = parse_date(args.since)
    else:
        days = args.days if args.days is not None else DEFAULT_DAYS
        if days < 1:
            raise ConfigError("--days", "must be 1 or more")
        since = until - timedelta(days=days)
    if since >= until:
        raise ConfigError("--since", "must be before --until")
    return isoformat(since.timestamp()), isoformat(until.timestamp())


async def run(
    argv: list[str],
    *,
    environ: Mapping[str, str],
    out: TextIO,
    err: TextIO,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
) -> int:
    """Parse `argv`, gather the evidence, write it; return the exit code."""
    args = _parser().parse_args(argv)
    clock = clock or SystemClock()
    try:
        since, until = period(args, clock.time())
        async with org_gateway(environ, args.org, clock=clock, retry=retry or RetryPolicy()) as gh:
            evidence = await with_progress(
                Console(file=err),
                "reading history",
                lambda progress: gather_evidence(
                    gh,
                    args.org,
                    since=since,
                    until=until,
                    only=args.repo,
                    clock=clock,
                    progress=progress,
                ),
            )
    except FAILURES as exc:
        print(failure(exc, args.org, "the evidence could not be read"), file=err)
        return EXIT_ERROR
    seen = [r.repo for r in evidence.repos] + [
        name for name, _ in evidence.excluded + evidence.unsupported
    ]
    unknown = missing(args.repo, seen)
    if unknown:
        print(f"bulwark: no such repository in {args.org}: {', '.join(unknown)}", file=err)
        return EXIT_ERROR
    report = report_of(evidence, isoformat(clock.time()))
    write(report, args.format, args.out, out, err)
    return EXIT_MET if report.status is Status.MET else EXIT_NOT_MET


def write(report: EvidenceReport, fmt: str, path: str | None, out: TextIO, err: TextIO) -> None:
    """Write the report in a format to a file (saying where) or to `out`."""
    text = RENDERERS[fmt](report)
    if path is None:
        out.write(text)
        return
    Path(path).write_text(text, encoding="utf-8")
    print(f"bulwark: evidence ({fmt}, {report.status.value}) written to {path}", file=err)
