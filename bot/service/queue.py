"""Jobs, the WorkQueue interface, and the in-process queue used without Redis.

The in-process queue keeps one FIFO deque of waiting jobs per repository and a
ready queue of repositories that have waiting jobs and none running; N workers
take repositories from the ready queue. So two jobs for the same `repo` never
run at once, each repo's jobs run in arrival order, and one busy repository
cannot hold up the others.

Shutdown (`close`) refuses new jobs, lets running jobs finish and drops jobs not
started yet, logging how many: the periodic resync repairs whatever they would
have done, and a shutdown should not wait on an unbounded backlog.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from bot.clock import Clock, SystemClock
from bot.logs import log_context
from bot.metrics import Metrics

Runner = Callable[["Job"], Awaitable[None]]


class JobKind(StrEnum):
    """What a job does; its value is what the Redis queue and the metrics carry."""

    DELIVERY = "delivery"  # a webhook delivery, run through the handlers
    RECONCILE = "reconcile"  # one repository
    RESYNC = "resync"  # an installation's repositories (the org scan)
    REPORT = "report"  # an org's report issue


@dataclass(frozen=True)
class Job:
    """One unit of work: a webhook delivery, a repository reconcile, a resync, a report."""

    kind: JobKind
    delivery_id: str
    installation_id: int | None = None
    repo: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    dedupe_key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (the Redis queue carries this)."""
        return {
            "kind": self.kind.value,
            "delivery_id": self.delivery_id,
            "installation_id": self.installation_id,
            "repo": self.repo,
            "payload": dict(self.payload),
            "dedupe_key": self.dedupe_key,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        """Rebuild a job from `to_dict()` output; ValueError for a kind this version lacks."""
        return cls(
            kind=JobKind(str(data["kind"])),
            delivery_id=str(data["delivery_id"]),
            installation_id=data.get("installation_id"),
            repo=data.get("repo"),
            payload=dict(data.get("payload") or {}),
            dedupe_key=data.get("dedupe_key"),
        )


class JobService(Protocol):
    """What runs jobs: `Runtime` in production; `serve` and the fleet need only this."""

    async def run(self, job: Job) -> None:
        """Run one job."""

    async def resync_all(self, reason: str = "periodic") -> int:
        """Queue a resync of every installation."""

    async def close(self) -> None:
        """Release what the service holds."""

    async def flush(self) -> None:
        """Send recorded state to Redis (before the repository's lock is released)."""


class WorkQueue(Protocol):
    """What the server and the resync need of a queue."""

    async def put(self, job: Job) -> bool:
        """Enqueue a job; False when coalesced with a waiting one or refused (closing)."""

    async def start(self, runner: Runner) -> None:
        """Start running jobs with `runner`."""

    async def close(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Refuse new jobs and finish the running ones."""

    def depth(self) -> int:
        """Return how many jobs are waiting."""

    async def join(self) -> None:
        """Wait until every job queued so far has run."""


class InProcessQueue:
    """A bounded-concurrency queue in this process, serialized per repository."""

    def __init__(
        self,
        concurrency: int = 8,
        *,
        metrics: Metrics | None = None,
        logger: logging.Logger | None = None,
        clock: Clock | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._concurrency = concurrency
        self._metrics = metrics
        self._clock = clock or SystemClock()
        self._log = logger or logging.getLogger("bot.service.queue")
        self._waiting: dict[str, deque[Job]] = {}
        self._ready: asyncio.Queue[str] = asyncio.Queue()
        self._running: set[str] = set()
        self._dedupe: set[str] = set()
        self._depth = 0
        self._unfinished = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._workers: list[asyncio.Task[None]] = []
        self._runner: Runner | None = None
        self._closed = False
        self._ids = itertools.count()

    async def put(self, job: Job) -> bool:
        """Enqueue a job; False when coalesced with a waiting one or refused (closing)."""
        if self._closed:
            return False
        if job.dedupe_key is not None and job.dedupe_key in self._dedupe:
            self._count(job, "coalesced")
            return False
        if job.dedupe_key is not None:
            self._dedupe.add(job.dedupe_key)
        key = job.repo if job.repo is not None else f"\0{next(self._ids)}"
        waiting = self._waiting.setdefault(key, deque())
        waiting.append(job)
        if len(waiting) == 1 and key not in self._running:
            self._ready.put_nowait(key)
        self._unfinished += 1
        self._idle.clear()
        self._set_depth(self._depth + 1)
        return True

    async def start(self, runner: Runner) -> None:
        """Start `concurrency` workers running jobs with `runner`."""
        if self._runner is not None:
            raise RuntimeError("queue already started")
        self._runner = runner
        self._workers = [
            asyncio.create_task(self._work(), name=f"bulwark-worker-{n}")
            for n in range(self._concurrency)
        ]

    async def close(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Refuse new jobs, drop the ones not started, and wait for running ones to finish."""
        self._closed = True
        self._drop_waiting()
        if self._workers:
            try:
                await asyncio.wait_for(self._idle.wait(), timeout)
            except TimeoutError:
                self._log.warning("shutdown: %d running jobs cancelled", len(self._running))
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    def depth(self) -> int:
        """Return how many jobs are waiting (not running)."""
        return self._depth

    async def join(self) -> None:
        """Wait until every job queued so far has run."""
        await self._idle.wait()

    def _drop_waiting(self) -> None:
        dropped = [job for key in self._waiting for job in self._waiting[key]]
        for job in dropped:
            self._count(job, "dropped")
        self._waiting = {k: deque() for k in self._running}
        self._dedupe.clear()
        while not self._ready.empty():
            self._ready.get_nowait()
        if dropped:
            self._log.warning("shutdown: dropped %d queued jobs (the resync repairs)", len(dropped))
        self._set_depth(0)
        self._finished(len(dropped))

    async def _work(self) -> None:
        while True:
            key = await self._ready.get()
            waiting = self._waiting.get(key)
            if not waiting:
                continue
            job = waiting.popleft()
            if job.dedupe_key is not None:
                self._dedupe.discard(job.dedupe_key)
            self._set_depth(self._depth - 1)
            self._running.add(key)
            try:
                await self._run(job)
            finally:
                self._running.discard(key)
                self._after(key)

    def _after(self, key: str) -> None:
        if self._waiting.get(key):
            self._ready.put_nowait(key)
        else:
            self._waiting.pop(key, None)
        self._finished(1)

    async def _run(self, job: Job) -> None:
        assert self._runner is not None
        event = job.payload.get("event")
        started = self._clock.monotonic()
        with log_context(
            delivery_id=job.delivery_id,
            event=event if isinstance(event, str) else None,
            installation=job.installation_id,
            repo=job.repo,
        ):
            try:
                await self._runner(job)
            except Exception:
                self._log.exception(
                    "job failed: kind=%s delivery_id=%s repo=%s",
                    *(job.kind, job.delivery_id, job.repo),
                )
                self._count(job, "error", self._clock.monotonic() - started)
            else:
                self._count(job, "ok", self._clock.monotonic() - started)

    def _finished(self, n: int) -> None:
        self._unfinished -= n
        if self._unfinished <= 0:
            self._unfinished = 0
            self._idle.set()

    def _set_depth(self, value: int) -> None:
        self._depth = value
        if self._metrics is not None:
            self._metrics.depth(value)

    def _count(self, job: Job, outcome: str, duration: float | None = None) -> None:
        if self._metrics is not None:
            self._metrics.job(job.kind, outcome, duration)
