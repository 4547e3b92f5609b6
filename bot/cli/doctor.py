"""`bulwark doctor`: tell an operator what is wrong with a deployment. Read-only.

Exit 0 when nothing is wrong, 1 when a problem (or a warning) was found, 2 when
doctor could not check (bad credentials, GitHub unreachable).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TextIO

from bot.cli.manifest import load_manifest
from bot.clock import Clock, SystemClock
from bot.core.doctor import Check, Severity, diagnose, exit_status
from bot.core.manifest import Manifest
from bot.engine.doctor import observe
from bot.github.client import RetryPolicy
from bot.github.clients import GitHubClients
from bot.github.errors import GitHubError
from bot.settings import Settings, load_settings

MARKS = {
    Severity.OK: "ok",
    Severity.NOTE: "note",
    Severity.WARNING: "WARN",
    Severity.PROBLEM: "FAIL",
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse `bulwark doctor` arguments."""
    parser = argparse.ArgumentParser(
        prog="bulwark doctor",
        description="Check the App's credentials, installations, permissions, events, "
        "webhook, recent deliveries, report repository and rate limits. Read-only. "
        "Exit 0: nothing wrong; 1: problems found; 2: could not check.",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument(
        "--manifest", type=Path, default=None, help="the App's manifest (default ./app.yml)"
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Run `bulwark doctor [--format table|json] [--manifest PATH]`."""
    args = parse_args(argv)
    settings = load_settings()
    manifest = load_manifest(args.manifest)
    return asyncio.run(run(settings, manifest, args.format, sys.stdout))


async def run(
    settings: Settings,
    manifest: Manifest,
    fmt: str,
    out: TextIO,
    *,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
) -> int:
    """Diagnose and print; return the exit status."""
    clock = clock or SystemClock()
    try:
        async with GitHubClients.open(settings, clock=clock, retry=retry) as clients:
            seen = await observe(clients, clock.time())
    except GitHubError as exc:
        print(f"bulwark doctor: could not check: {exc}", file=sys.stderr)
        print(_cannot_check(exc), file=sys.stderr)
        return 2
    checks = diagnose(manifest, seen)
    out.write(as_json(checks) if fmt == "json" else as_table(checks))
    return exit_status(checks)


def _cannot_check(exc: GitHubError) -> str:
    if exc.status == 401:
        return "fix: check APP_ID and PRIVATE_KEY (a key of this App, not revoked)"
    return "fix: check GITHUB_API_URL and that GitHub is reachable from here"


def as_table(checks: list[Check]) -> str:
    """Render checks as aligned text: mark, area, subject, message, then the fix."""
    width_area = max(len(c.area) for c in checks)
    width_subject = max(len(c.subject) for c in checks)
    lines = []
    for c in checks:
        lines.append(
            f"{MARKS[c.severity]:<4}  {c.area:<{width_area}}  {c.subject:<{width_subject}}  "
            f"{c.message}"
        )
        if c.fix and c.severity is not Severity.OK:
            lines.append(f"{'':<4}  {'':<{width_area}}  {'':<{width_subject}}  fix: {c.fix}")
    wrong = sum(c.severity in (Severity.PROBLEM, Severity.WARNING) for c in checks)
    lines.append("")
    lines.append("nothing is wrong" if not wrong else f"{wrong} thing(s) to fix")
    return "\n".join(lines) + "\n"


def as_json(checks: list[Check]) -> str:
    """Render checks as JSON: `ok`, then every check with its severity and fix."""
    body = {"ok": exit_status(checks) == 0, "checks": [c.as_dict() for c in checks]}
    return json.dumps(body, indent=2) + "\n"
