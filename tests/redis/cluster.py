"""One `bulwark serve` and N `bulwark worker` processes on a Redis, against the sandbox.

Shared by the fleet test and `bench/scale.py`. The sandbox runs in the calling
process (so its request log and `overlapping_writes` are at hand); Bulwark runs
as real processes, the way a fleet does.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.clock import SystemClock
from bot.sandbox import Sandbox
from bot.sandbox.webhooks import deliver
from bot.service.redis_queue import QUEUE_NAME, connect, delivery_key
from tests.fixtures import report_policy_checks
from tests.manifest import APP_PERMISSIONS

ROOT = Path(__file__).resolve().parents[2]
READY_DEADLINE = 30.0


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Plan:
    """Deliveries to send: (delivery id, event, payload), duplicates included."""

    posts: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    @property
    def distinct(self) -> set[str]:
        return {delivery_id for delivery_id, _, _ in self.posts}


class Cluster:
    """The sandbox, a Redis, a web process and worker processes."""

    def __init__(self, redis_url: str, directory: Path, *, repos: int, latency: float) -> None:
        self.redis_url = redis_url
        self.directory = directory
        self.sandbox = Sandbox(clock=SystemClock(), latency=latency, permissions=APP_PERMISSIONS)
        report_policy_checks(self.sandbox.state)
        self.repos = [f"repo{n:04d}" for n in range(repos)]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.web: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.installation_id = 0

    async def start_sandbox(self) -> None:
        state = self.sandbox.state
        state.add_org("acme")
        state.add_user("mallory")
        state.add_repo("acme", ".github")
        for name in self.repos:
            state.add_repo("acme", name)
        self.installation_id = state.install("acme")
        await self.sandbox.start()

    def env(self) -> dict[str, str]:
        key = self.directory / "app.pem"
        key.write_text(self.sandbox.private_key_pem)
        return {
            **os.environ,
            "APP_ID": str(self.sandbox.app_id),
            "PRIVATE_KEY_PATH": str(key),
            "WEBHOOK_SECRET": self.sandbox.webhook_secret,
            "GITHUB_API_URL": self.sandbox.url,
            "GITHUB_WRITE_INTERVAL": "0",
            "REDIS_URL": self.redis_url,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "LOG_LEVEL": os.environ.get("BULWARK_CLUSTER_LOG_LEVEL", "WARNING"),
            "LOG_FORMAT": "text",
            "RESYNC_INTERVAL": "3600",
        }

    def _spawn(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        out = (self.directory / log).open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "bot", *args], cwd=self.directory, env=self.env(),
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip

    async def start_web(self) -> None:
        self.web = self._spawn("serve", log="web.log")
        end = time.monotonic() + READY_DEADLINE
        async with aiohttp.ClientSession() as session:
            while True:  # poll a real process's readiness, with a deadline
                assert self.web.poll() is None, self.logs("web.log")
                try:
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < end, "bulwark serve did not become ready"
                await asyncio.sleep(0.05)

    def start_worker(self, concurrency: int = 10) -> subprocess.Popen[bytes]:
        n = len(self.workers)
        worker = self._spawn("worker", "--concurrency", str(concurrency), log=f"worker{n}.log")
        self.workers.append(worker)
        return worker

    def logs(self, name: str) -> str:
        path = self.directory / name
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def plan(self, count: int, *, seed: int = 7, duplicates: float = 0.15) -> Plan:
        """Protection-change deliveries over the repos, some posted twice or redelivered."""
        rng = random.Random(seed)
        payloads = self.sandbox.payloads
        plan = Plan()
        while len(plan.posts) < count:
            repo = rng.choice(self.repos)
            payload = payloads.branch_protection_rule("edited", "acme", repo, "main", "mallory")
            post = (f"d{len(plan.posts):06d}", "branch_protection_rule", payload)
            plan.posts.append(post)
            if rng.random() < duplicates and len(plan.posts) < count:
                # A duplicate now, or a redelivery a little later.
                plan.posts.insert(rng.randrange(len(plan.posts) - 1, len(plan.posts) + 1), post)
        return plan

    async def send(self, plan: Plan, *, parallel: int = 16) -> list[tuple[int, float]]:
        """Post every delivery (at most `parallel` at once); return (status, seconds) each."""
        gate = asyncio.Semaphore(parallel)
        hook = f"{self.url}/api/github/webhooks"

        async def one(delivery_id: str, event: str, payload: dict[str, Any]) -> tuple[int, float]:
            async with gate:
                start = time.perf_counter()
                status = await deliver(hook, event, payload, secret=self.sandbox.webhook_secret,
                                       delivery_id=delivery_id)  # fmt: skip
                return status, time.perf_counter() - start

        return await asyncio.gather(*(one(*post) for post in plan.posts))

    async def handled(self, delivery_ids: set[str]) -> int:
        """Return how many of the deliveries a worker finished."""
        redis = await connect(self.redis_url)
        try:
            async with redis.pipeline(transaction=False) as pipe:
                for delivery_id in delivery_ids:
                    pipe.get(delivery_key(delivery_id))
                values = await pipe.execute()
        finally:
            await redis.aclose()
        return sum(1 for v in values if v == b"done")

    async def _settled(self, delivery_ids: set[str]) -> bool:
        if await self.handled(delivery_ids) < len(delivery_ids):
            return False
        redis = await connect(self.redis_url)
        try:
            return int(await redis.zcard(QUEUE_NAME)) == 0  # follow-up jobs ran too
        finally:
            await redis.aclose()

    async def wait_handled(self, delivery_ids: set[str], deadline: float = 300.0) -> float:
        """Wait until every delivery and the jobs it queued ran; return when (perf_counter)."""
        end = time.monotonic() + deadline
        while not await self._settled(delivery_ids):
            for n, worker in enumerate(self.workers):
                assert worker.poll() is None, self.logs(f"worker{n}.log")
            assert time.monotonic() < end, "deliveries not handled in time"
            await asyncio.sleep(0.05)  # other processes are working; poll their progress
        return time.perf_counter()

    def protection_writes(self) -> dict[str, int]:
        """Return, per repo, how many times its branch protection was written."""
        counts: dict[str, int] = {}
        for request in self.sandbox.requests:
            if request.method == "PUT" and request.path.endswith("/branches/main/protection"):
                repo = request.path.split("/")[3]
                counts[repo] = counts.get(repo, 0) + 1
        return counts

    def converged(self) -> list[str]:
        """Return the repos still without admin-enforced, reviewed protection on main."""
        lagging = []
        for name in self.repos:
            protection = self.sandbox.state.protection("acme", name, "main") or {}
            admins = (protection.get("enforce_admins") or {}).get("enabled")
            reviews = protection.get("required_pull_request_reviews")
            if not (admins and reviews):
                lagging.append(name)
        return lagging

    async def stop(self) -> None:
        for process in [*self.workers, *([self.web] if self.web else [])]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers, *([self.web] if self.web else [])]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        await self.sandbox.stop()
