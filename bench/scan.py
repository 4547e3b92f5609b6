"""Org scan benchmark: the GraphQL scan against a naive REST-per-repository scan.

Builds a sandbox org of N repositories (half compliant, half drifted: a quarter
unprotected, a quarter weakly protected; no rulesets), serves it with a fixed
latency per request (default 50 ms, as a distant GitHub would), and runs on it,
read-only:

- the GraphQL scan (`bot.engine.scan.scan_org`, what `bulwark scan` and the periodic
  resync run): requests in total and per repository, GraphQL points (the
  `rateLimit.cost` GitHub reports), wall time;
- the naive scan: `Reconciler.reconcile(write=WriteMode.NEVER)` for every repository
  with 8 at a time (GET repo, the policy file, branches, protection and rules
  for the branch), the same figures. For large orgs it runs on a sample and
  extrapolates, and says so.

Client and sandbox share one process and event loop (2 cores here), so the
sandbox's own work counts against the scan's wall time.

    python bench/scan.py [--repos 1000 10000] [--latency 0.05] [--naive-sample 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

from bot.cli.embedded import sandbox_settings
from bot.cli.manifest import app_permissions
from bot.clock import SystemClock
from bot.core.policy import WriteMode
from bot.engine.policies import PolicyStore
from bot.engine.reconcile import Reconciler
from bot.engine.scan import scan_org
from bot.github.client import RetryPolicy
from bot.github.clients import GitHubClients
from bot.github.gateway import Gateway
from bot.sandbox import Sandbox
from bot.store.statuses import StatusStore
from tests.fixtures import compliant_protection, weak_protection

NAIVE_CONCURRENCY = 8
ORG = "bench"
HOURLY_BUDGET = 5000  # an installation's REST requests, and GraphQL points, per hour


@dataclass(frozen=True)
class Figures:
    """What one scan cost."""

    name: str
    repos: int
    requests: int
    points: int | None
    seconds: float
    drifted: int
    note: str = ""
    rest_reasons: str = ""
    longest_slice: float = 0.0
    loop_lag: float = 0.0
    peak_rss_mib: float = 0.0

    def line(self) -> str:
        points = "-" if self.points is None else str(self.points)
        spent = self.points if self.points is not None else self.requests
        return (
            f"  {self.name:<8} {self.repos:>6} repos  {self.requests:>6} requests  "
            f"{self.requests / self.repos:>6.3f} req/repo  {points:>5} GraphQL points  "
            f"{spent / HOURLY_BUDGET:>6.1%} of an hour's budget  "
            f"{self.seconds:>7.1f} s  {self.drifted:>5} drifted{self.note}"
            + (f"\n           read through REST: {self.rest_reasons}" if self.rest_reasons else "")
            + (
                f"\n           longest judging slice {self.longest_slice * 1000:.1f} ms, "
                f"longest event-loop stall {self.loop_lag * 1000:.1f} ms (sandbox included), "
                f"peak RSS {self.peak_rss_mib:.0f} MiB (sandbox included)"
                if self.name == "graphql"
                else ""
            )
        )


ORG_RULESET = {
    "name": "org baseline",
    "conditions": {
        "ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []},
        "repository_name": {"include": ["~ALL"], "exclude": []},
    },
    "rules": [
        {"type": "deletion"},
        {"type": "non_fast_forward"},
        {"type": "pull_request", "parameters": {"required_approving_review_count": 1}},
    ],
    "bypass_actors": [
        {"actor_id": None, "actor_type": "OrganizationAdmin", "bypass_mode": "always"}
    ],
}
REPO_RULESET = {
    "name": "team rules",
    "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
    "rules": [
        {
            "type": "required_status_checks",
            "parameters": {
                "strict_required_status_checks_policy": False,
                "required_status_checks": [{"context": "CodeQL"}, {"context": "test"}],
            },
        }
    ],
}


def build(box: Sandbox, repos: int, shape: str = "classic") -> list[str]:
    """Create the org: even repos compliant, odd ones unprotected or weakly protected.

    Shape "rulesets": every repository is under one org ruleset, every third also has
    a repository ruleset, and half have classic protection (as above).
    """
    state = box.state
    state.add_org(ORG)
    state.add_repo(ORG, ".github")
    state.set_protection(ORG, ".github", "main", compliant_protection())
    if shape == "rulesets":
        state.add_ruleset(ORG, ".github", ORG_RULESET, org_level=True)
    names = [".github"]
    for i in range(repos - 1):
        name = f"service-{i:05d}"
        state.add_repo(ORG, name)
        if i % 2 == 0:
            state.set_protection(ORG, name, "main", compliant_protection())
        elif i % 4 == 1:
            state.set_protection(ORG, name, "main", weak_protection())
        if shape == "rulesets" and i % 3 == 0:
            state.add_ruleset(ORG, name, REPO_RULESET)
        names.append(name)
    return names


async def graphql_scan(box: Sandbox, gh: Gateway, repos: int) -> Figures:
    box.requests.clear()
    statuses = StatusStore()
    policies = PolicyStore()
    lag = asyncio.create_task(loop_lag())
    started = time.perf_counter()
    result = await scan_org(
        gh, ORG, policies=policies, reconciler=Reconciler(policies, statuses, SystemClock())
    )
    seconds = time.perf_counter() - started
    lag.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await lag
    assert len(result.statuses) == repos, (len(result.statuses), repos)
    requests = len(box.requests)
    reasons = ", ".join(f"{n} {why}" for why, n in sorted(result.rest_reasons.items()))
    return Figures(
        "graphql",
        repos,
        requests,
        result.graphql_points,
        seconds,
        len(result.drifted),
        rest_reasons=reasons,
        longest_slice=result.longest_slice,
        loop_lag=LAG[0],
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


LAG = [0.0]
TICK = 0.005


async def loop_lag() -> None:
    """Record the longest time the event loop was held past a 5 ms tick."""
    LAG[0] = 0.0
    while True:
        before = time.perf_counter()
        await asyncio.sleep(TICK)
        LAG[0] = max(LAG[0], time.perf_counter() - before - TICK)


async def naive_scan(box: Sandbox, gh: Gateway, names: list[str], total: int) -> Figures:
    box.requests.clear()
    policies = PolicyStore()
    reconciler = Reconciler(policies, StatusStore(), SystemClock())
    gate = asyncio.Semaphore(NAIVE_CONCURRENCY)
    drifted = 0

    async def one(name: str) -> None:
        nonlocal drifted
        async with gate:
            status = await reconciler.reconcile(gh, ORG, name, write=WriteMode.NEVER)
        drifted += status.outcome.value == "drifted"

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in names))
    seconds = time.perf_counter() - started
    requests = len(box.requests)
    if len(names) == total:
        return Figures("rest", total, requests, None, seconds, drifted)
    scale = total / len(names)
    note = f"  (measured on {len(names)} repos, extrapolated x{scale:g})"
    return Figures(
        "rest", total, round(requests * scale), None, seconds * scale, round(drifted * scale), note
    )


async def bench(
    repos: int, latency: float, sample: int, shape: str = "classic"
) -> tuple[Figures, Figures | None]:
    box = Sandbox(latency=latency, permissions=app_permissions())
    # The naive scan spends the whole hourly budget of 5,000 requests on 1,000
    # repositories; lift the limit so both scans finish and report what they spend.
    box.rate_limits.limit = lambda resource, key="": 10**9  # type: ignore[method-assign]
    names = build(box, repos, shape)
    await box.start()
    settings = sandbox_settings(box)
    retry = RetryPolicy(timeout=120.0)
    try:
        async with GitHubClients.open(settings, clock=SystemClock(), retry=retry) as clients:
            gh = clients.for_installation(box.state.install(ORG))
            await gh.client.getitem("/rate_limit")  # mint the token outside the measurement
            scan = await graphql_scan(box, gh, repos)
            naive = None
            if sample > 0:
                picked = random.Random(0).sample(names, sample) if sample < repos else names
                naive = await naive_scan(box, gh, picked, repos)
    finally:
        await box.stop()
    return scan, naive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument(
        "--naive-sample", type=int, default=1000, help="most repos the naive scan reads (0: none)"
    )
    parser.add_argument(
        "--shape",
        nargs="+",
        choices=["classic", "rulesets"],
        default=["classic", "rulesets"],
        help="classic: no rulesets; rulesets: one org ruleset over every repo, some repo rulesets",
    )
    args = parser.parse_args()
    print(f"org scan, {args.latency * 1000:g} ms per request, read-only, half drifted")
    for shape in args.shape:
        for repos in args.repos:
            print(f"shape {shape}:")
            scan, naive = asyncio.run(bench(repos, args.latency, args.naive_sample, shape))
            print(scan.line())
            if naive is not None:
                print(naive.line())
                print(
                    f"  graphql/rest: {naive.requests / scan.requests:.0f}x fewer requests, "
                    f"{naive.seconds / scan.seconds:.0f}x faster"
                )


if __name__ == "__main__":
    main()
