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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from bot.cli.scan import credentials, gateway_for
from bot.clock import Clock, SystemClock, isoformat
from bot.core.evidence import Status
from bot.core.evidence_render import EvidenceReport, render_html, render_json, render_markdown
from bot.engine.evidence import Evidence, gather_evidence, report_of
from bot.engine.scan import OrgNotFound
from bot.github.client import RetryPolicy
from bot.github.clients import GitHubClients
from bot.github.errors import GitHubError
from bot.github.gateway import Gateway
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
        report = await _gather(args, environ, err, clock, retry or RetryPolicy(), since, until)
    except ConfigError as exc:
        print(f"bulwark: configuration error: {exc}", file=err)
        return EXIT_ERROR
    except OrgNotFound:
        print(f"bulwark: no organization {args.org!r} is visible to these credentials", file=err)
        return EXIT_ERROR
    except GitHubError as exc:
        print(f"bulwark: the evidence could not be read: GitHub answered {exc}", file=err)
        return EXIT_ERROR
    if report is None:
        return EXIT_ERROR
    write(report, args.format, args.out, out, err)
    return EXIT_MET if report.status is Status.MET else EXIT_NOT_MET


async def _gather(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    err: TextIO,
    clock: Clock,
    retry: RetryPolicy,
    since: str,
    until: str,
) -> EvidenceReport | None:
    settings, token = credentials(environ)
    async with GitHubClients.open(settings, clock=clock, retry=retry) as clients:
        gh = await gateway_for(clients, args.org, token)
        if gh is None:
            print(f"bulwark: the App is not installed on {args.org}", file=err)
            return None
        evidence = await _with_progress(gh, args, since, until, clock, Console(file=err))
    missing = _not_found(args.repo, evidence)
    if missing:
        print(f"bulwark: no such repository in {args.org}: {', '.join(missing)}", file=err)
        return None
    return report_of(evidence, isoformat(clock.time()))


async def _with_progress(
    gh: Gateway, args: argparse.Namespace, since: str, until: str, clock: Clock, console: Console
) -> Evidence:
    if not console.is_terminal:
        return await gather_evidence(
            gh, args.org, since=since, until=until, only=args.repo, clock=clock
        )
    columns = (TextColumn("reading history"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("evidence", total=None)
        return await gather_evidence(
            gh,
            args.org,
            since=since,
            until=until,
            only=args.repo,
            clock=clock,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )


def _not_found(names: list[str] | None, evidence: Evidence) -> list[str]:
    if not names:
        return []
    seen = [r.repo for r in evidence.repos] + [
        n for n, _ in evidence.excluded + evidence.unsupported
    ]
    found = {n.lower().rsplit("/", 1)[-1] for n in seen}
    return [n for n in names if n.lower().rsplit("/", 1)[-1] not in found]


def write(report: EvidenceReport, fmt: str, path: str | None, out: TextIO, err: TextIO) -> None:
    """Write the report in a format to a file (saying where) or to `out`."""
    text = RENDERERS[fmt](report)
    if path is None:
        out.write(text)
        return
    Path(path).write_text(text, encoding="utf-8")
    print(f"bulwark: evidence ({fmt}, {report.status.value}) written to {path}", file=err)
