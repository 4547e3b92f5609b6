"""Evidence benchmark: `bulwark evidence` over 90 days of a large org's history.

Builds a sandbox org of N repositories (default 1,000) whose default branches
received M commits (default 30,000) over the last 90 days, each one the squash
merge of a pull request with a review, a `test` and a `CodeQL` check (so every
commit brings its PR, reviews and checks into the query), protected as the
default policy asks. The sandbox answers with a fixed latency (default 50 ms).
It then runs the whole evidence gathering once (`bot.engine.evidence.gather_evidence`,
what `bulwark evidence` runs): the scan, the history, the REST reads of settings.

Reported: GraphQL requests and points (the `rateLimit.cost` GitHub reports),
REST requests, wall time. Goal: at most 500 GraphQL requests and 90 s.

    python bench/evidence.py [--repos 1000] [--commits 30000] [--days 90] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass

from bot.cli.embedded import sandbox_settings
from bot.cli.manifest import app_permissions
from bot.clock import SystemClock, isoformat
from bot.engine.evidence import gather_evidence
from bot.github.client import RetryPolicy
from bot.github.clients import GitHubClients
from bot.sandbox import Sandbox
from bot.sandbox.history import DAY, compliant_repo, reviewed_change, set_org_settings

ORG = "bench"


@dataclass(frozen=True)
class Figures:
    """What one run cost."""

    repos: int
    commits: int
    graphql_requests: int
    graphql_points: int
    rest_requests: int
    seconds: float
    status: str


def seed(box: Sandbox, repos: int, commits: int, days: int) -> None:
    """Seed the org: `commits` reviewed merges spread evenly over repositories and days."""
    state, now = box.state, box.clock.time()
    state.add_org(ORG, plan="enterprise")
    set_org_settings(state, ORG, two_factor=True, owners=["alice"])
    names = [f"repo-{i:05d}" for i in range(repos)]
    for name in names:
        compliant_repo(state, ORG, name, created=now - (days + 30) * DAY)
    compliant_repo(state, ORG, ".github", created=now - (days + 30) * DAY)
    state.add_file(ORG, ".github", "SECURITY.md", "# Security\n")
    span = days * DAY
    for i in range(commits):
        at = now - span + (i + 0.5) * span / commits
        reviewed_change(state, ORG, names[i % repos], at=at, index=i)


async def bench(repos: int, commits: int, days: int, latency: float) -> Figures:
    """Run the evidence gathering once against a seeded sandbox."""
    box = Sandbox(latency=latency, permissions=app_permissions())
    seed(box, repos, commits, days)
    await box.start()
    settings = sandbox_settings(box)
    try:
        retry = RetryPolicy(base_delay=0.05)
        async with GitHubClients.open(settings, clock=SystemClock(), retry=retry) as clients:
            gh = clients.for_installation(box.state.install(ORG))
            await gh.rate_limit()  # mint the token outside the measurement
            before = len(box.requests)
            now = time.time()
            since, until = isoformat(now - days * DAY), isoformat(now)
            started = time.perf_counter()
            evidence = await gather_evidence(gh, ORG, since=since, until=until)
            seconds = time.perf_counter() - started
    finally:
        await box.stop()
    made = box.requests[before:]
    graphql = [r for r in made if r.path == "/graphql"]
    seen = sum(
        len(b.commits)
        for r in evidence.repos
        if not isinstance(r.history, type(None)) and isinstance(r.history, tuple)
        for b in r.history
    )
    return Figures(
        repos=len(evidence.repos),
        commits=seen,
        graphql_requests=len(graphql),
        graphql_points=evidence.cost.graphql_points,
        rest_requests=len(made) - len(graphql),
        seconds=seconds,
        status=", ".join(f"{r.id.value}={r.status.value}" for r in evidence.results),
    )


def main() -> None:
    """Parse options, run, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=1000)
    parser.add_argument("--commits", type=int, default=30000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    args = parser.parse_args()
    print(f"evidence over {args.days} days, {args.latency * 1000:g} ms per request")
    started = time.perf_counter()
    figures = asyncio.run(bench(args.repos, args.commits, args.days, args.latency))
    print(f"(seeding and serving took {time.perf_counter() - started - figures.seconds:.1f} s)")
    columns = ("repositories", "commits read", "GraphQL requests", "GraphQL points")
    print("| " + " | ".join((*columns, "REST requests", "wall time")) + " |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {figures.repos:,} | {figures.commits:,} | {figures.graphql_requests:,} | "
        f"{figures.graphql_points:,} | {figures.rest_requests:,} | {figures.seconds:.1f} s |"
    )
    print(figures.status)


if __name__ == "__main__":
    main()
