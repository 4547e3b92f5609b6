"""The App installed, repositories added or removed: reconcile what arrived, forget what left."""

from __future__ import annotations

import logging
from typing import Any

from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.handlers.context import Context

router = Router()
log = logging.getLogger(__name__)


def _names(repos: Any) -> list[str]:
    if not isinstance(repos, list):
        return []
    return [
        r["full_name"] for r in repos if isinstance(r, dict) and isinstance(r.get("full_name"), str)
    ]


@router.register("installation", action="created")
@router.register("installation", action="unsuspend")
@router.register("installation", action="new_permissions_accepted")
async def installation_created(event: Event, ctx: Context) -> None:
    """Reconcile every repository of a new (or resumed) installation, then report."""
    ctx.services.reconciler.retry_refused()  # new permissions may allow what was refused
    await ctx.services.scheduler.enqueue_resync(ctx.installation_id, delivery_id=ctx.delivery_id)


@router.register("installation_repositories", action="added")
async def repositories_added(event: Event, ctx: Context) -> None:
    """Reconcile the repositories added to the installation, then report."""
    added = _names(event.data.get("repositories_added"))
    if not added:
        log.info("returning: no repositories were added")
        return
    await ctx.services.scheduler.enqueue_resync(
        ctx.installation_id, delivery_id=ctx.delivery_id, repos=added
    )


@router.register("installation_repositories", action="removed")
async def repositories_removed(event: Event, ctx: Context) -> None:
    """Forget repositories the App can no longer see, and say so in the report."""
    for name in _names(event.data.get("repositories_removed")):
        ctx.services.statuses.forget(name)
        ctx.services.scheduler.report_soon(ctx.installation_id, name.split("/")[0])


@router.register("installation", action="deleted")
@router.register("installation", action="suspend")
async def installation_gone(event: Event, ctx: Context) -> None:
    """Forget an org the App was removed from or suspended on."""
    account = event.data.get("installation", {}).get("account") or {}
    login = account.get("login")
    if isinstance(login, str):
        ctx.services.statuses.forget_org(login)
        ctx.services.policies.forget(login)
