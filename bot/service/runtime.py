"""The worker side: turn queued jobs into handler calls, reconciliations, resyncs and reports.

The resync itself (queueing every installation, scanning an org) is `service.resync`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.clock import Clock
from bot.core.models import Outcome
from bot.engine.limits import CommandLimiter
from bot.engine.policies import PolicyStore
from bot.engine.reconcile import REPO_GONE, Reconciler
from bot.engine.report import REPORT_LOCK, ReportKeeper
from bot.github.clients import GitHubClients
from bot.github.errors import Unavailable
from bot.github.gateway import Gateway
from bot.handlers.context import Context, Services
from bot.logs import log_context
from bot.service.queue import Job, JobKind, WorkQueue
from bot.service.resync import Resync
from bot.store.statuses import StatusStore

REPORT_DEBOUNCE = 60.0
# What a reconciliation reads of a repository; webhooks carry it, so jobs can too.
REPO_FIELDS = ("full_name", "default_branch", "archived", "fork", "private")

log = logging.getLogger(__name__)


class Runtime:
    """Everything a job needs, built once per process."""

    def __init__(
        self,
        *,
        clients: GitHubClients,
        queue: WorkQueue,
        clock: Clock,
        router: Router,
        policies: PolicyStore,
        statuses: StatusStore,
        reconciler: Reconciler,
        limiter: CommandLimiter,
        resync_interval: float = 3600.0,
        report_debounce: float = REPORT_DEBOUNCE,
    ) -> None:
        self.clients = clients
        self.queue = queue
        self.clock = clock
        self.router = router
        self.policies = policies
        self.statuses = statuses
        self.reconciler = reconciler
        self.limiter = limiter
        self.reports = ReportKeeper(statuses, policies, clock, self.app_login, reconciler.locks)
        self.report_debounce = report_debounce
        self.resyncs = Resync(
            clients=clients,
            queue=queue,
            clock=clock,
            policies=policies,
            statuses=statuses,
            reconciler=reconciler,
            reports=self.reports,
            interval=resync_interval,
        )
        self.services = Services(
            reconciler=reconciler,
            reports=self.reports,
            statuses=statuses,
            policies=policies,
            limiter=limiter,
            clock=clock,
            app_id=clients.app_auth.app_id,
            app_login=self.app_login,
            scheduler=self,
        )
        self._report_due: dict[str, asyncio.Task[None]] = {}
        self._app_login: str | None = None
        self._closers: list[Callable[[], Awaitable[object]]] = []
        self._background: set[asyncio.Task[None]] = set()
        self._jobs: dict[JobKind, Callable[[Job], Awaitable[None]]] = {
            JobKind.DELIVERY: self._delivery,
            JobKind.RECONCILE: self._reconcile,
            JobKind.RESYNC: self._resync,
            JobKind.REPORT: self._report,
        }

    async def run(self, job: Job) -> None:
        """Run one job (the queue's runner)."""
        with log_context(
            delivery_id=job.delivery_id, installation=job.installation_id, repo=job.repo
        ):
            await self._jobs[job.kind](job)

    def on_close(self, closer: Callable[[], Awaitable[object]]) -> None:
        """Run `closer` when the runtime closes (the GitHub session, for one)."""
        self._closers.append(closer)

    def start_resync(self) -> None:
        """Start the periodic resync (one at start-up, then every interval)."""
        task = asyncio.create_task(self.resync_forever())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def flush(self) -> None:
        """Send recorded statuses to a shared store (a fleet's Redis); nothing in process."""
        await self.statuses.flush()

    async def close(self) -> None:
        """Stop background work and release what the runtime holds."""
        tasks = [*self._background, *self._report_due.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for closer in reversed(self._closers):
            await closer()

    def pending(self) -> list[asyncio.Task[None]]:
        """Return the scheduled report updates that have not run yet."""
        return [t for t in self._report_due.values() if not t.done()]

    def gateway(self, installation_id: int) -> Gateway:
        """Return the gateway of one installation."""
        return self.clients.for_installation(installation_id)

    async def app_login(self) -> str:
        """Return the App's own bot login (`slug[bot]`), asked of GitHub once."""
        if self._app_login is None:
            app = await self.clients.for_app().app()
            self._app_login = f"{app.get('slug', 'bulwark')}[bot]"
        return self._app_login

    # Enqueueing -------------------------------------------------------------

    async def enqueue_reconcile(
        self,
        installation_id: int,
        repo: str,
        *,
        delivery_id: str,
        actor: str | None = None,
        repo_json: Mapping[str, Any] | None = None,
    ) -> bool:
        """Queue a reconciliation of `owner/name` (coalesced with one already waiting).

        `repo_json`, the webhook's own `repository`, saves asking GitHub for it again.
        """
        payload: dict[str, Any] = {"actor": actor} if actor else {}
        if repo_json is not None and repo_json.get("full_name") == repo:
            payload["repository"] = {k: repo_json.get(k) for k in REPO_FIELDS}
        job = Job(
            kind=JobKind.RECONCILE,
            delivery_id=delivery_id,
            installation_id=installation_id,
            repo=repo,
            payload=payload,
            dedupe_key=f"reconcile:{repo.lower()}:{actor or ''}",
        )
        return await self.queue.put(job)

    async def enqueue_resync(
        self, installation_id: int, *, delivery_id: str, repos: Iterable[str] | None = None
    ) -> bool:
        """Queue a resync of an installation (all its repos, or the ones named)."""
        return await self.resyncs.enqueue(installation_id, delivery_id=delivery_id, repos=repos)

    def report_soon(self, installation_id: int, org: str) -> None:
        """Schedule an org report update, at most once per debounce interval per org."""
        key = org.lower()
        if key in self._report_due and not self._report_due[key].done():
            return
        wait = self.reports.seconds_until_due(org, self.report_debounce)
        self._report_due[key] = asyncio.create_task(self._report_later(installation_id, org, wait))

    async def _report_later(self, installation_id: int, org: str, wait: float) -> None:
        if wait > 0:
            await self.clock.sleep(wait)
        job = Job(
            kind=JobKind.REPORT,
            delivery_id=f"report-{org.lower()}",
            installation_id=installation_id,
            repo=f"{org}/{REPORT_LOCK}",
            payload={"org": org},
            dedupe_key=f"report:{org.lower()}",
        )
        await self.queue.put(job)

    # Job runners --------------------------------------------------------------

    async def _delivery(self, job: Job) -> None:
        name = str(job.payload.get("event", ""))
        data: Any = job.payload.get("data", {})
        action = data.get("action") if isinstance(data, dict) else None
        with log_context(event=name, action=action):
            log.info("delivery received")
            if job.installation_id is None:
                log.debug("returning: the delivery names no installation")
                return
            event = Event(data, event=name, delivery_id=job.delivery_id)
            ctx = Context(
                self.gateway(job.installation_id),
                job.installation_id,
                job.delivery_id,
                self.services,
            )
            if not self.router.fetch(event):
                log.debug("returning: no handler for %s.%s", name, action)
                return
            await self.router.dispatch(event, ctx)

    async def _reconcile(self, job: Job) -> None:
        assert job.installation_id is not None and job.repo is not None
        owner, name = job.repo.split("/", 1)
        actor = job.payload.get("actor")
        gh = self.gateway(job.installation_id)
        repo_json = job.payload.get("repository")
        status = await self.reconciler.reconcile(
            gh,
            owner,
            name,
            actor=actor if isinstance(actor, str) else None,
            repo_json=repo_json if isinstance(repo_json, Mapping) else None,
            graphql_first=True,
        )
        self.report_soon(job.installation_id, owner)
        if status.outcome is Outcome.ERROR and status.reason != REPO_GONE:
            # Fail the job: it is counted, and a redelivery of its webhook runs again.
            raise Unavailable(0, status.reason or "the reconciliation failed")

    async def _resync(self, job: Job) -> None:
        assert job.installation_id is not None
        named = job.payload.get("repos")
        only = [str(n) for n in named] if isinstance(named, list) else None
        account = job.payload.get("account")
        await self.resyncs.run(
            self.gateway(job.installation_id),
            job.installation_id,
            only,
            account if isinstance(account, Mapping) else None,
        )

    async def _report(self, job: Job) -> None:
        assert job.installation_id is not None
        org = str(job.payload.get("org"))
        await self.reports.update(self.gateway(job.installation_id), org)

    # Resync -------------------------------------------------------------------

    async def resync_all(self, reason: str = "periodic") -> int:
        """Queue a resync of every installation; return how many were queued."""
        return await self.resyncs.all(reason)

    async def resync_forever(self) -> None:
        """Resync at start-up, then every resync interval."""
        await self.resyncs.forever()
