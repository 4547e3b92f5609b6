"""Seconds from a protection-weakening webhook to restored protection, and requests per reconcile.

Runs Bulwark and the local sandbox in one process; the sandbox adds `--latency`
seconds to every request, like a network to api.github.com. Prints medians and
p99 over `--tampers` tampers, and the requests one reconciliation costs for a
compliant and for a drifted repository.

    python bench/tamper.py [--tampers 100] [--latency 0.05] [--repos 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from bot.cli.embedded import Embedded, embedded
from bot.cli.manifest import app_permissions
from bot.clock import SystemClock
from bot.sandbox import Sandbox

WRITES = {"PUT", "POST", "PATCH", "DELETE"}


def percentile(values: list[float], q: float) -> float:
    """Return the q-quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def tamper_once(bulwark: Embedded, repo: str) -> float:
    """Delete protection, send the webhook GitHub would send, time the repair."""
    bulwark.sandbox.state.set_protection("acme", repo, "main", None)
    payload = bulwark.sandbox.payloads.branch_protection_rule(
        "deleted", "acme", repo, "main", "mallory"
    )
    start = time.perf_counter()
    status = await bulwark.deliver("branch_protection_rule", payload)
    assert status == 202, status
    await asyncio.wait_for(bulwark.queue.join(), timeout=30)
    elapsed = time.perf_counter() - start
    assert bulwark.sandbox.state.protection("acme", repo, "main") is not None
    return elapsed


async def reconcile_cost(bulwark: Embedded, repo: str) -> tuple[int, int]:
    """Return (reads, writes) one reconciliation of `repo` sends to GitHub."""
    gh = bulwark.runtime.gateway(bulwark.installation_id)
    bulwark.sandbox.requests.clear()
    await bulwark.runtime.reconciler.reconcile(gh, "acme", repo)
    requests = list(bulwark.sandbox.requests)
    writes = sum(1 for r in requests if r.method in WRITES)
    return len(requests) - writes, writes


async def main(tampers: int, latency: float, repos: int) -> None:
    sandbox = Sandbox(clock=SystemClock(), permissions=app_permissions())
    state = sandbox.state
    state.add_org("acme")
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
            times = [await tamper_once(bulwark, names[i % repos]) for i in range(tampers)]
    finally:
        await sandbox.stop()
    print(f"sandbox latency per request: {latency * 1000:.0f} ms; {tampers} tampers, {repos} repos")
    print(f"reconcile, compliant repo: {compliant[0]} reads, {compliant[1]} writes")
    print(f"reconcile, drifted repo:   {drifted[0]} reads, {drifted[1]} writes")
    print(
        "tamper -> restored: "
        f"p50 {statistics.median(times):.3f} s, p99 {percentile(times, 0.99):.3f} s, "
        f"max {max(times):.3f} s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tampers", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--repos", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.tampers, args.latency, args.repos))
