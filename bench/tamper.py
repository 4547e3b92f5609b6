"""Seconds from a protection-weakening webhook to restored protection, and requests per event.

Runs Bulwark and the local sandbox in one process; the sandbox adds `--latency`
seconds to every request, like a network to api.github.com. Prints medians and
p99 over `--tampers` tampers, the requests and round trips (sequential waits on
GitHub) each costs, and the requests one compliant pull request event costs:
the first event of a pull request, and a later one (a new head pushed).

    python bench/tamper.py [--tampers 100] [--latency 0.05] [--repos 10]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time
from dataclasses import dataclass

from bot.cli.embedded import Embedded, embedded
from bot.cli.manifest import app_permissions
from bot.clock import SystemClock
from bot.sandbox import RequestRecord, Sandbox
from bot.sandbox.state import CiCheck

WRITES = {"PUT", "POST", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Cost:
    """What one event cost: seconds to done, requests, and sequential waits on GitHub."""

    seconds: float
    requests: tuple[str, ...]  # method and path of each
    round_trips: int


def round_trips(requests: list[RequestRecord], latency: float) -> int:
    """Count sequential waits: requests answered together (within half a latency) are one."""
    times = sorted(r.time for r in requests)
    if not times:
        return 0
    return 1 + sum(1 for a, b in itertools.pairwise(times) if b - a > latency / 2)


def percentile(values: list[float], q: float) -> float:
    """Return the q-quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def tamper_once(bulwark: Embedded, repo: str) -> Cost:
    """Delete protection, send the webhook GitHub would send, time the repair."""
    bulwark.sandbox.state.set_protection("acme", repo, "main", None)
    payload = bulwark.sandbox.payloads.branch_protection_rule(
        "deleted", "acme", repo, "main", "mallory"
    )
    start = time.perf_counter()
    status = await bulwark.deliver("branch_protection_rule", payload)
    assert status == 202, status
    bulwark.sandbox.requests.clear()
    await asyncio.wait_for(bulwark.queue.join(), timeout=30)
    elapsed = time.perf_counter() - start
    assert bulwark.sandbox.state.protection("acme", repo, "main") is not None
    requests = _to_github(bulwark)
    said = tuple(f"{r.method} {r.template}" for r in requests)
    return Cost(elapsed, said, round_trips(requests, bulwark.sandbox.latency))


def _to_github(bulwark: Embedded) -> list[RequestRecord]:
    """The API requests Bulwark sent since the sandbox's list was last cleared."""
    return list(bulwark.sandbox.requests)


async def pull_event(bulwark: Embedded, repo: str, number: int, action: str) -> Cost:
    """Send a pull request event, wait for its check run; return what it cost."""
    payload = bulwark.sandbox.payloads.pull_request(action, "acme", repo, number, "bob")
    start = time.perf_counter()
    bulwark.sandbox.requests.clear()
    status = await bulwark.deliver("pull_request", payload)
    assert status == 202, status
    await asyncio.wait_for(bulwark.queue.join(), timeout=30)
    elapsed = time.perf_counter() - start
    requests = _to_github(bulwark)
    assert any(r.path.endswith("/check-runs") or "/check-runs/" in r.path for r in requests)
    said = tuple(f"{r.method} {r.template}" for r in requests)
    return Cost(elapsed, said, round_trips(requests, bulwark.sandbox.latency))


async def reconcile_cost(bulwark: Embedded, repo: str) -> tuple[int, int]:
    """Return (reads, writes) one reconciliation of `repo` sends to GitHub."""
    gh = bulwark.runtime.gateway(bulwark.installation_id)
    bulwark.sandbox.requests.clear()
    await bulwark.runtime.reconciler.reconcile(gh, "acme", repo, graphql_first=True)
    requests = list(bulwark.sandbox.requests)
    writes = sum(1 for r in requests if r.method in WRITES and r.path != "/graphql")
    return len(requests) - writes, writes


async def main(tampers: int, latency: float, repos: int) -> None:
    sandbox = Sandbox(clock=SystemClock(), permissions=app_permissions())
    state = sandbox.state
    state.add_org("acme")
    # Every repository reports the default policy's checks: its base branch can comply.
    state.default_ci = (CiCheck("CodeQL", None), CiCheck("test", None))
    state.add_repo("acme", ".github")
    names = [f"service-{i:02d}" for i in range(repos)]
    for name in names:
        state.add_repo("acme", name)
    await sandbox.start()
    try:
        async with embedded(sandbox, report_debounce=3600) as bulwark:
            bulwark.installation_id = state.install("acme")
            payload = sandbox.payloads.installation_created(bulwark.installation_id)
            await bulwark.deliver("installation", payload)
            await bulwark.settle()
            sandbox.latency = latency
            compliant = await reconcile_cost(bulwark, names[0])
            state.set_protection("acme", names[0], "main", None)
            drifted = await reconcile_cost(bulwark, names[0])
            costs = [await tamper_once(bulwark, names[i % repos]) for i in range(tampers)]
            head = state.add_commit("acme", names[1], "feature", author="bob")
            number = state.add_pull("acme", names[1], head_sha=head, author="bob")
            base = bulwark.runtime.statuses.get(f"acme/{names[1]}")
            first = await pull_event(bulwark, names[1], number, "opened")
            head = state.add_commit("acme", names[1], "feature", author="bob")
            state.repo("acme", names[1]).pulls[number]["head_sha"] = head
            later = await pull_event(bulwark, names[1], number, "synchronize")
    finally:
        await sandbox.stop()
    print(f"sandbox latency per request: {latency * 1000:.0f} ms; {tampers} tampers, {repos} repos")
    print(f"reconcile (event), compliant repo: {compliant[0]} reads, {compliant[1]} writes")
    print(f"reconcile (event), drifted repo:   {drifted[0]} reads, {drifted[1]} writes")
    times = [c.seconds for c in costs]
    print(
        "tamper -> restored: "
        f"p50 {statistics.median(times):.3f} s, p99 {percentile(times, 0.99):.3f} s, "
        f"max {max(times):.3f} s; "
        f"requests {statistics.median(len(c.requests) for c in costs):.0f} (max "
        f"{max(len(c.requests) for c in costs)}), round trips "
        f"{statistics.median(c.round_trips for c in costs):.0f} (max "
        f"{max(c.round_trips for c in costs)})"
    )
    assert base is not None
    findings = ", ".join(f.kind.value for f in base.findings) or "none"
    print(f"PR base branch: {base.outcome.value} (findings: {findings})")
    for label, cost in (("first event", first), ("later event", later)):
        print(
            f"PR, {label}: {len(cost.requests)} requests, {cost.round_trips} round "
            f"trips, {cost.seconds:.3f} s ({', '.join(cost.requests)})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tampers", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--repos", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.tampers, args.latency, args.repos))
