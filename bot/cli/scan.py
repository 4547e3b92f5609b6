"""`bulwark scan`: one org-wide scan from the command line; its exit code can gate a CI job."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from bot.cli.org_access import FAILURES, failure, missing, org_gateway, with_progress
from bot.clock import Clock, SystemClock, isoformat
from bot.core.models import Outcome, RepoStatus
from bot.core.policy import WriteMode
from bot.core.render import report_body
from bot.engine.policies import PolicyStore
from bot.engine.reconcile import Reconciler
from bot.engine.scan import ScanResult, scan_org
from bot.github.client import RetryPolicy
from bot.github.gateway import Gateway
from bot.settings import merged_environ
from bot.store.statuses import StatusStore

JSON_VERSION = 1
EXIT_COMPLIANT, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bulwark scan",
        description="Scan an organization's branch protection against its policy.",
        epilog="Exit status: 0 compliant, 1 drift remains, 2 error.",
    )
    parser.add_argument("--org", required=True, help="the organization to scan")
    parser.add_argument("--apply", action="store_true", help="repair drift (default: read only)")
    parser.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    parser.add_argument("--repo", nargs="+", metavar="NAME", help="only these repositories")
    return parser


def main(argv: list[str]) -> int:
    """Run one scan and print it; return 0 / 1 / 2 (compliant / drift / error)."""
    environ = merged_environ(os.environ, Path.cwd())
    return asyncio.run(run(argv, environ=environ, out=sys.stdout, err=sys.stderr))


async def run(
    argv: list[str],
    *,
    environ: Mapping[str, str],
    out: TextIO,
    err: TextIO,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
) -> int:
    """Parse `argv`, scan, print to `out` (problems and progress to `err`); return the exit code."""
    args = _parser().parse_args(argv)
    clock = clock or SystemClock()
    try:
        async with org_gateway(environ, args.org, clock=clock, retry=retry or RetryPolicy()) as gh:
            result = await _run(gh, args, clock, Console(file=err))
    except FAILURES as exc:
        print(failure(exc, args.org, "the scan failed"), file=err)
        return EXIT_ERROR
    unknown = missing(args.repo, (s.repo for s in result.statuses))
    if unknown:
        # A gate that scanned nothing must not pass: a typo in --repo is an error.
        print(f"bulwark: no such repository in {args.org}: {', '.join(unknown)}", file=err)
        return EXIT_ERROR
    computed_at = isoformat(clock.time())
    print_result(result, args.format, out, computed_at=computed_at, read_only=not args.apply)
    return exit_code(result)


async def _run(gh: Gateway, args: argparse.Namespace, clock: Clock, console: Console) -> ScanResult:
    policies = PolicyStore()
    reconciler = Reconciler(policies, StatusStore(), clock)
    write = WriteMode.ALWAYS if args.apply else WriteMode.NEVER
    return await with_progress(
        console,
        "scanning",
        lambda progress: scan_org(
            gh,
            args.org,
            policies=policies,
            reconciler=reconciler,
            write=write,
            only=args.repo,
            progress=progress,
        ),
    )


def exit_code(result: ScanResult) -> int:
    """0 when compliant, 1 when drift remains, 2 when a repository could not be read."""
    outcomes = {s.outcome for s in result.statuses}
    if Outcome.ERROR in outcomes:
        return EXIT_ERROR
    return EXIT_DRIFT if Outcome.DRIFTED in outcomes else EXIT_COMPLIANT


def as_json(result: ScanResult, computed_at: str) -> dict[str, Any]:
    """Return the scan in its stable JSON shape (documented in docs/scan-json.md)."""
    return {
        "version": JSON_VERSION,
        "org": result.org,
        "computed_at": computed_at,
        "delayed": result.delayed,
        "summary": result.counts(),
        "repositories": [_repo_json(s) for s in result.statuses],
    }


def _repo_json(status: RepoStatus) -> dict[str, Any]:
    return {
        "repository": status.repo,
        "outcome": status.outcome.value,
        "mode": status.mode,
        "branches": list(status.branches),
        "fixed_at": status.fixed_at,
        "reason": status.reason,
        "findings": [dict(asdict(f), kind=f.kind.value) for f in status.findings],
    }


def print_result(
    result: ScanResult, fmt: str, out: TextIO, *, computed_at: str, read_only: bool = False
) -> None:
    """Print the scan as a table, JSON or the report's markdown."""
    if fmt == "json":
        json.dump(as_json(result, computed_at), out, indent=2)
        out.write("\n")
    elif fmt == "markdown":
        out.write(
            report_body(
                result.statuses,
                org=result.org,
                computed_at=computed_at,
                public=False,  # printed for whoever ran the scan
                direct_pushes=[],
                delayed=result.delayed,
                read_only=read_only,
            )
        )
        out.write("\n")
    else:
        _table(result, out)


def _kinds(status: RepoStatus) -> str:
    """Name the findings of a repository, the missing checks by name."""
    kinds: dict[str, list[str]] = {}
    for finding in status.findings:
        detail = finding.detail if finding.kind.value == "check_missing" else None
        kinds.setdefault(finding.kind.value, []).extend([detail] if detail else [])
    return ", ".join(
        f"{kind} ({', '.join(sorted(set(details)))})" if details else kind
        for kind, details in sorted(kinds.items())
    )


def _table(result: ScanResult, out: TextIO) -> None:
    console = Console(file=out, width=max(100, Console(file=out).width))
    table = Table(title=f"{result.org}: branch protection")
    for column in ("repository", "outcome", "findings"):
        table.add_column(column)
    for status in result.statuses:
        table.add_row(status.repo, status.outcome.value, _kinds(status) or (status.reason or ""))
    console.print(table)
    counts = result.counts()
    console.print(", ".join(f"{n} {k}" for k, n in counts.items() if n))
