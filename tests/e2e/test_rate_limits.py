"""A first install on a large org stays under GitHub's secondary rate limits and finishes."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import pytest

from bot.cli.embedded import embedded
from bot.clock import FakeClock
from bot.sandbox import Sandbox
from bot.sandbox.app import RequestRecord
from bot.sandbox.limits import REST_POINTS_PER_MINUTE, points
from bot.settings import Settings
from tests.fixtures import install, strong_protection, weak_protection
from tests.manifest import APP_PERMISSIONS

REPOS = 2000
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The pacing production runs with unless GITHUB_WRITE_INTERVAL says otherwise.
PRODUCTION_WRITE_INTERVAL = next(
    f.default for f in dataclasses.fields(Settings) if f.name == "write_interval"
)


def peak_per_minute(records: list[RequestRecord]) -> dict[str, int]:
    """Return the most points any REST endpoint (and REST as a whole) spent in 60 s."""
    by_endpoint: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for r in records:
        if r.template == "/graphql" or r.status in (403, 429):
            continue
        cost = points(r.method, r.template, r.body)
        by_endpoint[f"{r.method} {r.template}"].append((r.time, cost))
        by_endpoint["REST"].append((r.time, cost))
    peaks = {}
    for name, spent in by_endpoint.items():
        spent.sort()
        peak = start = total = 0
        for at, cost in spent:
            total += cost
            while spent[start][0] <= at - 60:
                total -= spent[start][1]
                start += 1
            peak = max(peak, total)
        peaks[name] = peak
    return peaks


@pytest.mark.slow
async def test_first_install_on_a_large_org_stays_under_the_secondary_limits(
    clock: FakeClock,
) -> None:
    box = Sandbox(clock=clock, permissions=APP_PERMISSIONS)
    state = box.state
    state.add_org("acme")
    state.add_org_owner("acme", "alice")
    state.add_repo("acme", ".github")
    for n in range(REPOS):
        state.add_repo("acme", f"r{n}")
        if n % 10 == 0:
            state.set_protection("acme", f"r{n}", "main", strong_protection())
        elif n % 10 == 1:
            state.set_protection("acme", f"r{n}", "main", weak_protection())
    await box.start()
    started = clock.time()
    try:
        async with embedded(box, clock=clock, write_interval=PRODUCTION_WRITE_INTERVAL) as bulwark:
            await install(bulwark)
    finally:
        await box.stop()

    assert PRODUCTION_WRITE_INTERVAL > 0
    protected = sum(state.protection("acme", f"r{n}", "main") is not None for n in range(REPOS))
    assert protected == REPOS  # finished: every repository converged
    assert box.secondary.refused == []  # never over a secondary limit
    assert [r for r in box.requests if r.status in (403, 429)] == []
    peaks = peak_per_minute(box.requests)
    assert max(v for k, v in peaks.items() if k != "REST") <= REST_POINTS_PER_MINUTE
    writes = [r for r in box.requests if r.method in WRITES and r.template != "/graphql"]
    minutes = (clock.time() - started) / 60
    print(f"\n{len(box.requests)} requests, {len(writes)} writes in {minutes:.1f} fake minutes;"
          f" peak REST points/min {peaks}")  # fmt: skip


async def test_unpaced_writes_meet_the_secondary_limit_and_wait_it_out(clock: FakeClock) -> None:
    box = Sandbox(clock=clock, permissions=APP_PERMISSIONS)
    box.state.add_org("acme")
    box.state.add_repo("acme", ".github")
    for n in range(250):
        box.state.add_repo("acme", f"r{n}")
    await box.start()
    try:
        async with embedded(box, clock=clock, write_interval=0.0) as bulwark:
            await install(bulwark)
    finally:
        await box.stop()

    # 900 points a minute let 180 protection PUTs through; the rest were told to wait.
    refused = [r for r in box.requests if r.status == 403 and "protection" in r.template]
    assert refused
    assert all(box.state.protection("acme", f"r{n}", "main") for n in range(250))
    assert max(clock.sleeps) >= 1  # the client waited retry-after, on the clock
