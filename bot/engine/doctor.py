"""Read what `bulwark doctor` judges: the App, its installations, its webhook. Read-only."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any

from bot.core.doctor import DELIVERY_WINDOW, Budget, InstallationView, Observed
from bot.engine.policies import PolicyStore
from bot.github.clients import GitHubClients
from bot.github.errors import GitHubError, ProtectionDisabled
from bot.github.gateway import Gateway, Json

CONCURRENCY = 8  # protection reads in flight per installation


async def observe(clients: GitHubClients, now: float) -> Observed:
    """Read everything doctor judges; GET /app failing raises (doctor cannot check)."""
    app_gh = clients.for_app()
    app = await app_gh.app()
    listed = await app_gh.list_installations()
    installations = await asyncio.gather(*(_installation(clients, i) for i in listed))
    return Observed(
        app=app,
        installations=tuple(installations),
        hook_config=await app_gh.hook_config(),
        deliveries=tuple(await app_gh.hook_deliveries(now - DELIVERY_WINDOW)),
        now=now,
    )


async def _installation(clients: GitHubClients, listed: Json) -> InstallationView:
    account = listed.get("account") or {}
    view = InstallationView(
        id=int(listed["id"]),
        account=str(account.get("login", "")),
        account_type=str(account.get("type", "Organization")),
        selection=str(listed.get("repository_selection", "all")),
        permissions=dict(listed.get("permissions") or {}),
        events=tuple(listed.get("events") or ()),
        suspended=bool(listed.get("suspended_at")),
        html_url=str(listed.get("html_url") or ""),
    )
    if view.suspended:
        return view  # a suspended installation gets no token: nothing more to read
    gh = clients.for_installation(view.id)
    repos = await gh.installation_repositories()
    report_name = (await PolicyStore().org(gh, view.account)).policy.report_repository
    return dataclasses.replace(
        view,
        report_name=report_name,
        report=await gh.repo(view.account, report_name),
        protection_disabled=await _protection_disabled(gh, repos),
        budgets=_budgets(await gh.rate_limit()),
    )


async def _protection_disabled(gh: Gateway, repos: list[Json]) -> tuple[str, ...]:
    """Return the repositories whose classic protection GitHub has disabled."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def disabled(repo: Json) -> bool:
        if repo.get("archived") or not repo.get("default_branch"):
            return False
        owner = str((repo.get("owner") or {}).get("login", ""))
        async with gate:
            try:
                await gh.branch_protection(owner, str(repo["name"]), str(repo["default_branch"]))
            except ProtectionDisabled:
                return True
            except GitHubError:
                return False  # not doctor's question: the scan reports it
        return False

    flags = await asyncio.gather(*(disabled(r) for r in repos))
    return tuple(sorted(str(r["full_name"]) for r, off in zip(repos, flags, strict=True) if off))


def _budgets(answer: Mapping[str, Any]) -> tuple[Budget, ...]:
    resources = answer.get("resources") or {}
    return tuple(
        Budget(name, int(resources[name]["remaining"]), int(resources[name]["limit"]))
        for name in ("core", "graphql")
        if name in resources
    )
