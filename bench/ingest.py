"""Ingest benchmark: how fast `bulwark serve` acknowledges signed deliveries.

Starts the real webhook app (create_app + an InProcessQueue whose runner only
counts) and, for a ceiling, a bare aiohttp app that reads the body and answers
202, both on loopback; sends the same signed pull_request-like deliveries
(10-30 KB each) to each at a fixed concurrency, and prints throughput and
acknowledgement latency for both and their ratio. Each server runs in a
process of its own (its own core on a 2-core machine), the load client in
this one; the server's resident memory is read before and after the run.

    python bench/ingest.py [--count 2000] [--concurrency 32] [--duration SECONDS]

With `--during-resync N`: one serve process (webhook endpoint, in-process queue,
runtime) acknowledges deliveries sent at `--rate` a second for `--seconds` while it
resyncs, over and over, an org of N repositories (`--shape rulesets`: every
repository under an org ruleset, the default; or `classic`) held by a sandbox of
its own (`--sandbox-processes`, forked after the org is built, sharing one port:
its GraphQL work stalls no loop being measured); the sender is another process.
Prints acknowledgement p50/p99, deliveries over 1 s, each resync's wall time,
requests and CPU, every event-loop step that held the loop over 20 ms of CPU (with
the coroutine it advanced and where it stood), every full garbage collection, and
the serve process's peak RSS. `--rate 0` runs `--resyncs` resyncs alone.

    python bench/ingest.py --during-resync 10000 [--rate 500] [--seconds 30] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import hashlib
import hmac
import json
import os
import random
import signal
import statistics
import sys
import threading
import time
import traceback
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, TCPConnector, web

from bot.cli.embedded import Serving, serving
from bot.clock import SystemClock
from bot.github.client import RetryPolicy
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


def signature(body: bytes, secret: str) -> str:
    """Return GitHub's X-Hub-Signature-256 value for a delivery body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def deliver(session: ClientSession, url: str, body: bytes, signed: str) -> tuple[float, bool]:
    """Post one signed pull_request delivery; return its seconds and whether it was accepted."""
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": signed,
    }
    t0 = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as resp:
        await resp.read()
        return time.perf_counter() - t0, resp.status == 202


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
            seconds, accepted = await deliver(session, url, body, signature)
            errors += not accepted
            latencies.append(seconds)

    async with ClientSession(connector=TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(one(session) for _ in range(concurrency)))
    return Result(name, len(latencies), time.perf_counter() - started, latencies, errors)


async def bench(count: int, concurrency: int, duration: float | None) -> None:
    rng = random.Random(1)
    raw = [pull_request_payload(n, rng) for n in range(64)]
    bodies = [(b, signature(b, SECRET)) for b in raw]
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


# --- acknowledgements while a resync runs (--during-resync N) --------------------------

RESYNC_ORG = "bench"
TICK = 0.005  # the loop-lag probe's period


def sandbox_org(repos: int, latency: float, shape: str, processes: int) -> None:
    """Run a sandbox holding an org of `repos` repositories; print how to reach it (JSON).

    With `processes` > 1 the state is built once, an installation token minted, and
    the process forks: every copy serves the same port (SO_REUSEPORT), the kernel
    spreading connections among them, as GitHub spreads requests among its servers.
    Each copy keeps its own state from then on: the resync only reads the org (report
    mode); the report issue it writes lands in whichever copy answers.
    """
    import socket

    from scan import build  # bench/scan.py: the same org shapes as the scan benchmark

    from bot.cli.manifest import app_permissions
    from bot.sandbox import Sandbox

    box = Sandbox(latency=latency, clock=SystemClock(), permissions=app_permissions())
    box.rate_limits.limit = lambda resource, key="": 10**9  # type: ignore[method-assign]
    build(box, repos, shape)
    # Report mode: a periodic resync of a converged org reads; it does not write.
    box.state.add_file(RESYNC_ORG, ".github", ".github/repo-protection.yml", "mode: report\n")
    installation = box.state.install(RESYNC_ORG)
    token = box.state.create_token(installation)  # before the fork: every copy knows it
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    bound_r, bound_w = os.pipe()
    children = 0
    for _ in range(processes - 1):
        if os.fork() == 0:
            os.close(bound_r)
            break
        children += 1
    else:
        os.close(bound_w)
        bound_w = -1

    async def run() -> None:
        await box.start(port=port, reuse_port=True)
        if bound_w != -1:  # a forked copy: tell the first one it listens, then serve
            os.write(bound_w, b"1")
            await asyncio.Event().wait()
        for _ in range(children):
            os.read(bound_r, 1)
        holder.close()
        settings = {
            "app_id": box.app_id,
            "private_key": box.private_key_pem,
            "webhook_secret": box.webhook_secret,
            "github_api_url": box.api_url,
            "github_graphql_url": box.graphql_url,
            "installation": installation,
            "token": token.token,
            "token_expires_at": token.expires_at,
        }
        print(json.dumps(settings), flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


def quiet_logs() -> None:
    """Log JSON lines as in production, to nowhere."""
    configure_logging("INFO", "json", stream=open(os.devnull, "w"))  # noqa: SIM115


@dataclass
class LoopLag:
    """How late a periodic timer fires, and how much CPU the loop's thread spent meanwhile.

    Lateness counts every cause, the OS giving the core to the sandbox or the sender
    included; the loop thread's CPU time between two ticks is the work that held it.
    """

    worst: float = 0.0
    over_20ms: int = 0
    worst_cpu: float = 0.0
    cpu_over_20ms: int = 0
    ticks: int = 0
    _last: float = field(default_factory=time.monotonic)

    async def watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._last = time.monotonic()
            due = loop.time() + TICK
            cpu = time.thread_time()
            await asyncio.sleep(TICK)
            late = loop.time() - due
            held = time.thread_time() - cpu
            self.ticks += 1
            self.worst = max(self.worst, late)
            self.over_20ms += late > 0.020
            self.worst_cpu = max(self.worst_cpu, held)
            self.cpu_over_20ms += held > 0.020


@dataclass
class LoopSteps:
    """How long each single step of the event loop (one callback, one task step) ran.

    Wraps the loop's Handle._run in this process: the CPU the loop's thread spent in
    one step is the time that step held the loop (the OS taking the core away is not
    counted). Each step over 20 ms is charged to the task it advanced, named by the
    coroutine the task runs; a thread samples the stack of a step still running past
    20 ms, so the place in Bulwark's code is known too.
    """

    worst: collections.Counter[str] = field(default_factory=collections.Counter)
    over_20ms: collections.Counter[str] = field(default_factory=collections.Counter)
    where: collections.Counter[str] = field(default_factory=collections.Counter)
    steps: int = 0
    # The cyclic garbage collector stops every thread: each pass's length, by generation.
    gc_worst: dict[int, float] = field(default_factory=dict)
    gc_passes: collections.Counter[int] = field(default_factory=collections.Counter)
    gc_over_20ms: int = 0
    gc_tracked: list[str] = field(default_factory=list)
    _began: float | None = None
    _gc_began: float = 0.0
    _gc_cpu: float = 0.0

    def install(self) -> None:
        original = asyncio.events.Handle._run
        timer = self

        def timed(handle: asyncio.events.Handle) -> None:
            timer._began = time.monotonic()
            cpu = time.thread_time()
            try:
                original(handle)
            finally:
                held = time.thread_time() - cpu
                timer._began = None
                timer.steps += 1
                if held > 0.020:
                    owner = step_owner(handle)
                    timer.over_20ms[owner] += 1
                    timer.worst[owner] = max(timer.worst[owner], held)

        asyncio.events.Handle._run = timed  # type: ignore[method-assign]

        def collected(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                self._gc_began = time.perf_counter()
                self._gc_cpu = time.thread_time()
                return
            took = time.perf_counter() - self._gc_began
            generation = info["generation"]
            self.gc_passes[generation] += 1
            self.gc_worst[generation] = max(self.gc_worst.get(generation, 0.0), took)
            self.gc_over_20ms += took > 0.020
            if generation == 2:
                cpu = (time.thread_time() - self._gc_cpu) * 1000
                self.gc_tracked.append(
                    f"{len(gc.get_objects()):,} kept, {info['collected']:,} freed, "
                    f"{took * 1000:.0f} ms ({cpu:.0f} ms CPU)"
                )

        gc.callbacks.append(collected)
        loop_thread = threading.get_ident()

        def sampler() -> None:
            while True:
                time.sleep(0.002)
                began = self._began
                if began is None or time.monotonic() - began < 0.020:
                    continue
                frame = sys._current_frames().get(loop_thread)
                if frame is None:
                    continue
                ours = [
                    f"{os.path.basename(f.filename)}:{f.lineno} {f.name}"
                    for f in traceback.extract_stack(frame)
                    if f"{os.sep}bot{os.sep}" in f.filename or "site-packages" in f.filename
                ]
                if ours:
                    self.where[" > ".join(ours[-4:])] += 1

        threading.Thread(target=sampler, daemon=True).start()


def step_owner(handle: asyncio.events.Handle) -> str:
    """Name the coroutine whose task this loop step advanced (or the plain callback)."""
    callback = handle._callback  # type: ignore[attr-defined]
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        coro = task.get_coro()
        return getattr(coro, "__qualname__", repr(coro))
    return getattr(callback, "__qualname__", repr(callback))


def cpu_seconds(pid: int | str = "self") -> float:
    """Return a process's user + system CPU time so far, in seconds (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(group: int) -> float:
    """Return the CPU time so far of every process in a process group (Linux)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[2]) == group:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def requests_sent(metrics: Metrics) -> int:
    """Return how many GitHub requests the process has sent (its Prometheus counter)."""
    samples = metrics.github_requests.collect()[0].samples
    return int(sum(s.value for s in samples if s.name.endswith("_total")))


def peak_rss_mib() -> float:
    """Return this process's peak resident set size so far (Linux: KiB in ru_maxrss)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(url: str, secret: str, installation: int, rate: float, seconds: float) -> None:
    """Send signed deliveries at `rate` a second for `seconds`; print latencies (JSON)."""

    async def run() -> None:
        rng = random.Random(2)
        bodies = []
        for n in range(64):
            payload = json.loads(pull_request_payload(n, rng))
            payload["action"] = "labeled"  # acknowledged and queued like any delivery
            payload["installation"] = {"id": installation}
            raw = json.dumps(payload).encode()
            bodies.append((raw, signature(raw, secret)))
        latencies: list[float] = []
        errors = 0

        async def one(session: ClientSession, n: int) -> None:
            nonlocal errors
            body, signature = bodies[n % len(bodies)]
            t0 = time.perf_counter()
            try:
                seconds, accepted = await deliver(session, url, body, signature)
            except OSError:
                seconds, accepted = time.perf_counter() - t0, False
            errors += not accepted
            latencies.append(seconds)

        async with ClientSession(connector=TCPConnector(limit=0)) as session:
            started = time.perf_counter()
            tasks = []
            n = 0
            while time.perf_counter() - started < seconds:
                # Open loop: deliveries go out on schedule, whether or not earlier ones returned.
                due = started + n / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                tasks.append(asyncio.create_task(one(session, n)))
                n += 1
            await asyncio.gather(*tasks)
            elapsed = time.perf_counter() - started
        print(json.dumps({"latencies": latencies, "errors": errors, "seconds": elapsed}))

    asyncio.run(run())


async def _measure(
    bulwark: Serving,
    reach: dict[str, Any],
    secret: str,
    sandbox_pid: int,
    rate: float,
    seconds: float,
    count: int,
) -> tuple[str, list[float], list[int], list[tuple[float, float]], LoopLag, LoopSteps, int]:
    """Send deliveries to a running Bulwark while it resyncs; return what was measured."""
    from bot.app import freeze_start_up_objects

    runtime, metrics = bulwark.runtime, bulwark.metrics
    url = bulwark.base_url + PATH
    installation = int(reach["installation"])
    # A serve process that runs has its key loaded and a token minted: not measured. The
    # token is the one the sandbox minted before it forked, which all its copies know.
    runtime.clients.tokens._tokens[installation] = (reach["token"], reach["token_expires_at"])
    await runtime.gateway(installation).client.getitem("/rate_limit")
    freeze_start_up_objects()  # as `serve` does once its runtime is built
    lag = LoopLag()
    steps = LoopSteps()
    steps.install()
    watcher = asyncio.create_task(lag.watch())
    rss_before = rss_kib()
    cpus: list[tuple[float, float]] = []  # CPU seconds of each resync: (serve, sandbox)
    sent_each: list[int] = []  # GitHub requests of each resync
    resyncs: list[float] = []

    async def resync_until(stop: asyncio.Event) -> None:
        gh = runtime.gateway(installation)
        while not stop.is_set():
            began = time.perf_counter()
            cpu = cpu_seconds(), group_cpu_seconds(sandbox_pid)
            asked = requests_sent(metrics)
            await runtime.resyncs.run(gh, installation, None)
            sent_each.append(requests_sent(metrics) - asked)
            resyncs.append(time.perf_counter() - began)
            cpus.append((cpu_seconds() - cpu[0], group_cpu_seconds(sandbox_pid) - cpu[1]))
            if rate == 0 and len(resyncs) >= count:
                return

    stop = asyncio.Event()
    resyncing = asyncio.create_task(resync_until(stop))
    out = json.dumps({"latencies": [], "errors": 0, "seconds": 0.0})
    try:
        if rate > 0:
            loader = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--load", url, "--secret", secret,
                "--installation", str(installation), "--rate", str(rate),
                "--seconds", str(seconds), stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out = (await loader.communicate())[0].decode()
            stop.set()
        await resyncing  # the resync under way finishes: its whole run is measured
        await bulwark.queue.join()
    finally:
        watcher.cancel()
    return out, resyncs, sent_each, cpus, lag, steps, rss_before


async def during_resync(
    repos: int,
    rate: float,
    seconds: float,
    latency: float,
    shape: str,
    processes: int,
    count: int,
) -> None:
    """Acknowledge deliveries in this process while it resyncs an org of `repos` repositories.

    `rate` 0: no deliveries; `count` resyncs, alone.
    """
    sandbox = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--sandbox-org", str(repos), "--latency", str(latency),
        "--shape", shape, "--sandbox-processes", str(processes),
        stdout=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    assert sandbox.stdout is not None
    reach = json.loads(await sandbox.stdout.readline())
    quiet_logs()
    settings = Settings(
        app_id=reach["app_id"],
        private_key=reach["private_key"],
        webhook_secret=reach["webhook_secret"],
        github_api_url=reach["github_api_url"],
        github_graphql_url=reach["github_graphql_url"],
        host="127.0.0.1",
        port=0,
        write_interval=0.0,
    )
    try:
        async with serving(settings, clock=SystemClock(), retry=RetryPolicy()) as bulwark:
            figures = await _measure(
                bulwark, reach, settings.webhook_secret, sandbox.pid, rate, seconds, count
            )
    finally:
        os.killpg(sandbox.pid, signal.SIGTERM)  # the sandbox and the copies it forked
        await sandbox.wait()
    out, resyncs, sent_each, cpus, lag, steps, rss_before = figures
    sent = json.loads(out)
    lat = sorted(sent["latencies"])
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
    print(
        f"during a resync of {repos} repositories, shape {shape} "
        f"({latency * 1000:g} ms per sandbox request; "
        f"the sandbox in {processes} process(es) of its own, the load sender in another)"
    )
    if lat:
        print(
            f"  {len(lat)} deliveries in {sent['seconds']:.1f} s "
            f"({len(lat) / sent['seconds']:.0f}/s): "
            f"ack p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, max {lat[-1] * 1000:.1f} ms; "
            f"over 1 s: {sum(1 for x in lat if x > 1.0)}; errors {sent['errors']}"
        )
    print(f"  resyncs: {len(resyncs)}, seconds each: " + ", ".join(f"{s:.1f}" for s in resyncs))
    print("  GitHub requests of each: " + ", ".join(str(n) for n in sent_each))
    print(
        "  CPU seconds during each (serve, of which acknowledging too / sandbox): "
        + ", ".join(f"{a:.1f} / {b:.1f}" for a, b in cpus)
    )
    print(
        f"  longest loop stall: {lag.worst * 1000:.1f} ms over {lag.ticks} ticks of "
        f"{TICK * 1000:g} ms; stalls over 20 ms: {lag.over_20ms}"
    )
    print(
        f"  most CPU the loop's thread spent between two ticks: {lag.worst_cpu * 1000:.1f} ms; "
        f"ticks with over 20 ms: {lag.cpu_over_20ms}"
    )
    print(f"  serve process RSS: {rss_before / 1024:.0f} MiB before, peak {peak_rss_mib():.0f} MiB")
    print(f"  loop steps: {steps.steps:,}; over 20 ms of CPU, by the coroutine they advanced:")
    for owner, count in steps.over_20ms.most_common():
        print(f"    {owner}: {count}, longest {steps.worst[owner] * 1000:.1f} ms")
    if not steps.over_20ms:
        print("    none")
    passes = ", ".join(
        f"gen {g}: {steps.gc_passes[g]} (longest {steps.gc_worst[g] * 1000:.1f} ms)"
        for g in sorted(steps.gc_passes)
    )
    print(f"  garbage collector passes: {passes}; over 20 ms: {steps.gc_over_20ms}")
    for n, pass_ in enumerate(steps.gc_tracked, 1):
        print(f"  full collection {n}: {pass_}")
    for place, count in steps.where.most_common(8):
        print(f"  a step past 20 ms stood at ({count} samples of 2 ms): {place}")


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
    parser.add_argument(
        "--during-resync",
        type=int,
        metavar="N",
        help="acknowledgements while one serve process resyncs an org of N repositories",
    )
    parser.add_argument("--rate", type=float, default=500.0, help="deliveries/s (--during-resync)")
    parser.add_argument("--seconds", type=float, default=20.0, help="load time (--during-resync)")
    parser.add_argument("--latency", type=float, default=0.0, help="sandbox seconds per request")
    parser.add_argument(
        "--shape",
        choices=("rulesets", "classic"),
        default="rulesets",
        help="the org (--during-resync): bench/scan.py's shapes; rulesets: every "
        "repository under an org ruleset",
    )
    parser.add_argument(
        "--sandbox-processes",
        type=int,
        default=2,
        help="processes serving the sandbox's org (--during-resync); forked, one port",
    )
    parser.add_argument(
        "--resyncs", type=int, default=3, help="resyncs to run with --rate 0 (no deliveries)"
    )
    parser.add_argument("--serve", choices=("bare", "bulwark"), help=argparse.SUPPRESS)
    parser.add_argument("--sandbox-org", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--secret", help=argparse.SUPPRESS)
    parser.add_argument("--installation", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.sandbox_org:
        sandbox_org(args.sandbox_org, args.latency, args.shape, args.sandbox_processes)
        return
    if args.load:
        load(args.load, args.secret, args.installation, args.rate, args.seconds)
        return
    if args.during_resync:
        resync = during_resync(
            args.during_resync,
            args.rate,
            args.seconds,
            args.latency,
            args.shape,
            args.sandbox_processes,
            args.resyncs,
        )
        asyncio.run(resync)
        return
    asyncio.run(bench(args.count, args.concurrency, args.duration))


if __name__ == "__main__":
    main()
