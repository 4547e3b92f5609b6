"""The worker side: turn queued jobs into handler calls, reconciliations, resyncs and reports."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.clock import Clock
from bot.core.models import Outcome
from bot.core.policy import WriteMode
from bot.engine.limits import CommandLimiter
from bot.engine.policies import PolicyStore
from bot.engine.reconcile import REPO_GONE, Reconciler
from bot.engine.report import REPORT_LOCK, ReportKeeper
from bot.engine.scan import OrgNotFound, scan_org
from bot.github.clients import GitHubClients
from bot.github.errors import GitHubError, RateLimited, Unavailable
from bot.github.gateway import Gateway
from bot.handlers.context import Context, Services
from bot.logs import log_context
from bot.service.queue import Job, JobKind, WorkQueue
from bot.store.statuses import StatusStore

REPORT_DEBOUNCE = 60.0
# What a reconciliation reads of a repository; webhooks carry it, so jobs can too.
REPO_FIELDS = ("full_name", "default_branch", "archived", "fork", "private")
RESYNC_CONCURRENCY = 4

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
        self.resync_interval = resync_interval
        self.policies = policies
        self.statuses = statuses
        self.reconciler = reconciler
        self.limiter = limiter
        self.reports = ReportKeeper(statuses, policies, clock, self.app_login, reconciler.locks)
        self.report_debounce = report_debounce
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
        names = sorted(repos) if repos is not None else None
        job = Job(
            kind=JobKind.RESYNC,
            delivery_id=delivery_id,
            installation_id=installation_id,
            payload={"repos": names} if names is not None else {},
            dedupe_key=None if names is not None else f"resync:{installation_id}",
        )
        return await self.queue.put(job)

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
        )
        self.report_soon(job.installation_id, owner)
        if status.outcome is Outcome.ERROR and status.reason != REPO_GONE:
            # Fail the job: it is counted, and a redelivery of its webhook runs again.
            raise Unavailable(0, status.reason or "the reconciliation failed")

    async def _resync(self, job: Job) -> None:
        assert job.installation_id is not None
        gh = self.gateway(job.installation_id)
        named = job.payload.get("repos")
        only = [str(n) for n in named] if isinstance(named, list) else None
        org = await self._org_of(job.installation_id)
        if org is not None:
            self.policies.forget(org)  # read the org policy afresh for every resync
            try:
                result = await scan_org(
                    gh,
                    org,
                    policies=self.policies,
                    reconciler=self.reconciler,
                    only=only,
                    write=WriteMode.FOLLOW_POLICY,
                )
            except OrgNotFound:
                log.info("the installation account is not an org: resyncing through REST")
            except RateLimited as exc:
                # Longer than the client may wait: report the scan as delayed; the next
                # interval scans again.
                log.warning("resync delayed: the rate limit resets at %.0f", exc.reset_at)
                self.statuses.set_delayed(org, True)
                await self.reports.update(gh, org)
                return
            else:
                if only is None:  # a full scan: what it did not see is gone
                    await self.statuses.refresh(org)  # a shared store: the whole org
                    self.statuses.keep_only(org, (s.repo for s in result.statuses))
                self.statuses.set_delayed(org, result.delayed)
                counts = ", ".join(f"{n} {k}" for k, n in result.counts().items() if n)
                log.info("resync of %s: %s", org, counts or "no repositories")
                report = await self.reports.update(gh, org)
                log.info("report of %s: %s", org, report.action)
                return
        await self._resync_rest(gh, only)

    async def _org_of(self, installation_id: int) -> str | None:
        """Return the login of the org an installation is on, or None for a user account."""
        installation = await self.clients.for_app().installation(installation_id)
        account = (installation or {}).get("account") or {}
        if account.get("type") != "Organization" or not account.get("login"):
            return None
        return str(account["login"])

    async def _resync_rest(self, gh: Gateway, only: list[str] | None) -> None:
        """Reconcile every repository of the installation through REST, one by one."""
        repos = await gh.installation_repositories()
        if only is not None:
            wanted = {n.lower() for n in only}
            repos = [r for r in repos if str(r.get("full_name", "")).lower() in wanted]
        await self.reconcile_many(gh, repos)
        for org in sorted({str(r["full_name"]).split("/")[0] for r in repos}):
            await self.reports.update(gh, org)

    async def reconcile_many(self, gh: Gateway, repos: list[dict[str, Any]]) -> None:
        """Reconcile many repositories with bounded concurrency; one failure stops none."""
        gate = asyncio.Semaphore(RESYNC_CONCURRENCY)

        async def one(repo: dict[str, Any]) -> None:
            owner, name = str(repo["full_name"]).split("/", 1)
            async with gate:
                try:
                    await self.reconciler.reconcile(gh, owner, name, repo_json=repo)
                except Exception:
                    log.exception("reconcile crashed", extra={"repo": repo.get("full_name")})

        await asyncio.gather(*(one(r) for r in repos))

    async def _report(self, job: Job) -> None:
        assert job.installation_id is not None
        org = str(job.payload.get("org"))
        await self.reports.update(self.gateway(job.installation_id), org)

    # Resync -------------------------------------------------------------------

    async def resync_all(self, reason: str = "periodic") -> int:
        """Queue a resync of every installation; return how many were queued."""
        self.policies.clear()  # a lost push of a policy file is repaired here
        self.reconciler.retry_refused()  # and a write refused before is tried again
        # A GitHub failure here propagates: the caller tries again (the next interval in
        # process; in a fleet, another worker, since the interval's gate is given back).
        installations = await self.clients.for_app().list_installations()
        queued = 0
        for inst in installations:
            if inst.get("suspended_at"):
                continue
            stamp = int(self.clock.time())
            queued += await self.enqueue_resync(int(inst["id"]), delivery_id=f"{reason}-{stamp}")
        return queued

    async def resync_forever(self) -> None:
        """Resync at start-up, then every `resync_interval` seconds."""
        reason = "startup"
        while True:
            try:
                await self.resync_all(reason)
            except GitHubError as exc:  # the next interval tries again
                log.warning("resync skipped: GitHub answered %s", exc)
            except Exception:  # never end the loop
                log.exception("resync failed")
            reason = "periodic"
            await self.clock.sleep(self.resync_interval)
