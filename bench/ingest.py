"""Ingest benchmark: how fast `bulwark serve` acknowledges signed deliveries.

Starts the real webhook app (create_app + an InProcessQueue whose runner only
counts) and, for a ceiling, a bare aiohttp app that reads the body and answers
202, both on loopback; sends the same signed pull_request-like deliveries
(10-30 KB each) to each at a fixed concurrency, and prints throughput and
acknowledgement latency for both and their ratio. Each server runs in a
process of its own (its own core on a 2-core machine), the load client in
this one; the server's resident memory is read before and after the run.

    python bench/ingest.py [--count 2000] [--concurrency 32] [--duration SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import ClientSession, TCPConnector, web

from bot.clock import SystemClock
from bot.logs import configure_logging
from bot.metrics import Metrics
from bot.service.queue import InProcessQueue, Job
from bot.service.server import create_app
from bot.settings import Settings

SECRET = "bench-secret"
PATH = "/api/github/webhooks"


def pull_request_payload(n: int, rng: random.Random) -> bytes:
    """Build a pull_request delivery of 10-30 KB, shaped like GitHub's."""
    target = rng.randint(10_000, 30_000)
    repo = {
        "id": 1000 + n,
        "full_name": f"acme/service-{n % 50}",
        "private": False,
        "default_branch": "main",
        "owner": {"login": "acme", "id": 1, "type": "Organization"},
    }
    payload = {
        "action": "synchronize",
        "number": n,
        "installation": {"id": 4242},
        "repository": repo,
        "sender": {"login": f"dev{n % 30}", "id": 500 + n, "type": "User"},
        "pull_request": {
            "number": n,
            "state": "open",
            "title": f"Change {n}",
            "head": {"ref": f"feature/{n}", "sha": hashlib.sha1(str(n).encode()).hexdigest()},
            "base": {"ref": "main", "repo": repo},
            "labels": [{"name": f"label-{i}", "color": "ededed"} for i in range(10)],
            "body": "",
        },
    }
    filler = target - len(json.dumps(payload))
    payload["pull_request"]["body"] = "".join(rng.choices("abcdef ghij ", k=max(0, filler)))
    return json.dumps(payload).encode()


@dataclass
class Result:
    name: str
    count: int
    seconds: float
    latencies: list[float]
    errors: int

    def line(self) -> str:
        lat = sorted(self.latencies)
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
        return (
            f"{self.name:>8}: {self.count} deliveries in {self.seconds:.2f}s = "
            f"{self.count / self.seconds:,.0f} req/s; ack latency p50 {p(0.5):.1f} ms, "
            f"p99 {p(0.99):.1f} ms, max {lat[-1] * 1000:.1f} ms; errors {self.errors}"
        )

    @property
    def rate(self) -> float:
        return self.count / self.seconds


def rss_kib(pid: int | str = "self") -> int:
    """Return a process's resident set size in KiB (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def bare_app() -> web.Application:
    """The ceiling: read the body, answer 202."""

    async def ack(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"status": "queued"}, status=202)

    app = web.Application(client_max_size=26 * 1024 * 1024)
    app.router.add_post(PATH, ack)
    return app


def bulwark_app() -> web.Application:
    """The real webhook app, logging JSON lines as in production, with a counting runner."""
    configure_logging("INFO", "json", stream=open(os.devnull, "w"))  # noqa: SIM115
    settings = Settings(app_id=1, private_key="unused", webhook_secret=SECRET)
    metrics = Metrics()
    queue = InProcessQueue(concurrency=8, metrics=metrics)

    async def count_job(job: Job) -> None:
        return None

    async def start(_: web.Application) -> None:
        await queue.start(count_job)

    app = create_app(settings, queue=queue, metrics=metrics, clock=SystemClock())
    app.on_startup.append(start)
    return app


def serve(kind: str) -> None:
    """Run one server in this process on a free loopback port; print the port."""

    async def run() -> None:
        runner = web.AppRunner(bulwark_app() if kind == "bulwark" else bare_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


@asynccontextmanager
async def server_process(kind: str) -> AsyncIterator[tuple[str, int]]:
    """Start a server in its own process (its own core); yield its URL and pid."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", kind, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    port = int((await proc.stdout.readline()).decode())
    try:
        yield f"http://127.0.0.1:{port}{PATH}", proc.pid
    finally:
        proc.terminate()
        await proc.wait()


async def sample_rss(pid: int, samples: list[tuple[float, int]], every: float = 10.0) -> None:
    """Append (seconds, RSS KiB) of a server process every `every` seconds."""
    started = time.perf_counter()
    while True:
        await asyncio.sleep(every)
        samples.append((time.perf_counter() - started, rss_kib(pid)))


async def blast(
    name: str,
    url: str,
    bodies: list[tuple[bytes, str]],
    count: int,
    concurrency: int,
    duration: float | None,
) -> Result:
    latencies: list[float] = []
    errors = 0
    sent = 0
    started = time.perf_counter()
    deadline = started + duration if duration else None

    def more() -> bool:
        if deadline is not None:
            return time.perf_counter() < deadline
        return sent < count

    async def one(session: ClientSession) -> None:
        nonlocal errors, sent
        while more():
            body, signature = bodies[sent % len(bodies)]
            sent += 1
            headers = {
                "Content-Type": "application/json",
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": signature,
            }
            t0 = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                if resp.status != 202:
                    errors += 1
            latencies.append(time.perf_counter() - t0)

    async with ClientSession(connector=TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(one(session) for _ in range(concurrency)))
    return Result(name, len(latencies), time.perf_counter() - started, latencies, errors)


async def bench(count: int, concurrency: int, duration: float | None) -> None:
    rng = random.Random(1)
    raw = [pull_request_payload(n, rng) for n in range(64)]
    bodies = [
        (b, "sha256=" + hmac.new(SECRET.encode(), b, hashlib.sha256).hexdigest()) for b in raw
    ]
    sizes = [len(b) for b in raw]
    print(
        f"payloads {min(sizes) // 1000}-{max(sizes) // 1000} KB "
        f"(mean {statistics.mean(sizes) / 1000:.1f} KB), concurrency {concurrency}, "
        "each server in its own process"
    )
    results = []
    for name in ("ceiling", "bulwark"):
        async with server_process("bare" if name == "ceiling" else "bulwark") as (url, pid):
            await blast(name, url, bodies, min(500, count), concurrency, None)  # warm-up
            before = rss_kib(pid)
            samples: list[tuple[float, int]] = []
            sampler = asyncio.create_task(sample_rss(pid, samples))
            results.append(await blast(name, url, bodies, count, concurrency, duration))
            sampler.cancel()
            after = rss_kib(pid)
        print(results[-1].line())
        rss = f"{before / 1024:.1f} MiB after warm-up, {after / 1024:.1f} MiB at end"
        print(f"{'':>10}server RSS {rss}")
        if len(samples) > 1:
            trail = ", ".join(f"{t:.0f}s {kib / 1024:.1f}" for t, kib in samples)
            print(f"{'':>10}RSS MiB over time: {trail}")
    ceiling, ours = results
    print(f"   ratio: bulwark / ceiling throughput = {ours.rate / ceiling.rate:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="sustained mode: send for this many seconds to each server",
    )
    parser.add_argument("--serve", choices=("bare", "bulwark"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    asyncio.run(bench(args.count, args.concurrency, args.duration))


if __name__ == "__main__":
    main()
