"""The periodic resync: queue every installation, then scan each one's org (REST without one)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from bot.clock import Clock
from bot.core.policy import WriteMode
from bot.engine.policies import PolicyStore
from bot.engine.reconcile import Reconciler
from bot.engine.report import ReportKeeper
from bot.engine.scan import OrgNotFound, scan_org
from bot.github.clients import GitHubClients
from bot.github.errors import GitHubError, RateLimited
from bot.github.gateway import Gateway
from bot.service.queue import Job, JobKind, WorkQueue
from bot.store.statuses import StatusStore

RESYNC_CONCURRENCY = 4

log = logging.getLogger(__name__)


class Resync:
    """Queue resyncs and run one: what drifted unseen (a lost webhook) is found here."""

    def __init__(
        self,
        *,
        clients: GitHubClients,
        queue: WorkQueue,
        clock: Clock,
        policies: PolicyStore,
        statuses: StatusStore,
        reconciler: Reconciler,
        reports: ReportKeeper,
        interval: float,
    ) -> None:
        self.clients = clients
        self.queue = queue
        self.clock = clock
        self.policies = policies
        self.statuses = statuses
        self.reconciler = reconciler
        self.reports = reports
        self.interval = interval

    async def enqueue(
        self,
        installation_id: int,
        *,
        delivery_id: str,
        repos: Iterable[str] | None = None,
        account: Mapping[str, Any] | None = None,
    ) -> bool:
        """Queue a resync of an installation (all its repos, or the ones named).

        `account`, the installation's as a listing already showed it, saves asking again.
        """
        names = sorted(repos) if repos is not None else None
        payload: dict[str, Any] = {"repos": names} if names is not None else {}
        if account is not None:
            payload["account"] = {"login": account.get("login"), "type": account.get("type")}
        job = Job(
            kind=JobKind.RESYNC,
            delivery_id=delivery_id,
            installation_id=installation_id,
            payload=payload,
            dedupe_key=None if names is not None else f"resync:{installation_id}",
        )
        return await self.queue.put(job)

    async def all(self, reason: str = "periodic") -> int:
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
            queued += await self.enqueue(
                int(inst["id"]), delivery_id=f"{reason}-{stamp}", account=inst.get("account")
            )
        return queued

    async def forever(self) -> None:
        """Resync at start-up, then every `interval` seconds."""
        reason = "startup"
        while True:
            try:
                await self.all(reason)
            except GitHubError as exc:  # the next interval tries again
                log.warning("resync skipped: GitHub answered %s", exc)
            except Exception:  # never end the loop
                log.exception("resync failed")
            reason = "periodic"
            await self.clock.sleep(self.interval)

    async def run(
        self,
        gh: Gateway,
        installation_id: int,
        only: list[str] | None,
        account: Mapping[str, Any] | None = None,
    ) -> None:
        """Resync one installation: scan its org, or reconcile through REST without one."""
        if account is None:  # queued by a webhook: ask which account it is on
            installation = await self.clients.for_app().installation(installation_id)
            account = (installation or {}).get("account") or {}
        org = _org_login(account)
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
                    keep_statuses=False,  # the store has them; the resync needs the figures
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
                # Each step over a big org's statuses gets a loop iteration of its own:
                # the webhook endpoint answers in between.
                await asyncio.sleep(0)
                if only is None:  # a full scan: what it did not see is gone
                    await self.statuses.keep_only(org, result.repos)
                    await asyncio.sleep(0)
                self.statuses.set_delayed(org, result.delayed)
                counts = ", ".join(f"{n} {k}" for k, n in result.counts().items() if n)
                log.info("resync of %s: %s", org, counts or "no repositories")
                report = await self.reports.update(gh, org)
                log.info("report of %s: %s", org, report.action)
                return
        await self._rest(gh, only)

    async def _rest(self, gh: Gateway, only: list[str] | None) -> None:
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


def _org_login(account: Mapping[str, Any]) -> str | None:
    """Return the login of an installation's account when it is an org, else None."""
    if account.get("type") != "Organization" or not account.get("login"):
        return None
    return str(account["login"])
