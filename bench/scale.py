"""Deliveries per second handled end to end by 1, 2 and 3 workers, and the web tier's ack p99.

Starts a private redis-server, the local sandbox in this process (with
`--latency` seconds added to every GitHub request), one `bulwark serve` and N
`bulwark worker` processes; posts `--deliveries` signed deliveries (duplicates
and redeliveries mixed in) for each N and times them from the first post until
every delivery and the reconciliations it queued have run. Everything is
measured in one run.

    python bench/scale.py [--deliveries 1000] [--repos 100] [--latency 0.05] [--concurrency 10]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.redis.cluster import Cluster
from tests.redis.conftest import RedisServer


def percentile(values: list[float], q: float) -> float:
    """Return the q-quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def one_size(workers: int, args: argparse.Namespace) -> tuple[float, list[float], int]:
    """Run a fresh fleet of `workers`; return (deliveries/s, ack latencies, overlaps)."""
    with tempfile.TemporaryDirectory() as tmp:
        redis = RedisServer(Path(tmp), persist=False)
        redis.start()
        cluster = Cluster(redis.url, Path(tmp), repos=args.repos, latency=args.latency)
        try:
            await cluster.start_sandbox()
            await cluster.start_web()
            for _ in range(workers):
                cluster.start_worker(args.concurrency)
            plan = cluster.plan(args.deliveries, seed=workers)
            start = time.perf_counter()
            acks = await cluster.send(plan, parallel=args.parallel)
            end = await cluster.wait_handled(plan.distinct, deadline=1800)
            assert {status for status, _ in acks} == {202}
            assert cluster.converged() == [], "the org did not converge"
            overlaps = len(cluster.sandbox.overlapping_writes)
            return len(plan.posts) / (end - start), [s for _, s in acks], overlaps
        finally:
            await cluster.stop()
            redis.stop()


async def main(args: argparse.Namespace) -> None:
    print(f"{args.deliveries} deliveries over {args.repos} repos, sandbox latency "
          f"{args.latency * 1000:.0f} ms, worker concurrency {args.concurrency}")  # fmt: skip
    print("workers  deliveries/s  ack p50 ms  ack p99 ms  overlapping writes")
    for workers in (1, 2, 3):
        rate, acks, overlaps = await one_size(workers, args)
        p50, p99 = percentile(acks, 0.5) * 1000, percentile(acks, 0.99) * 1000
        print(f"{workers:>7}  {rate:>12.1f}  {p50:>10.1f}  {p99:>10.1f}  {overlaps:>18}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--repos", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=16, help="posts in flight at once")
    asyncio.run(main(parser.parse_args()))
