"""Someone changed protection, or a repository changed: reconcile it now."""

from __future__ import annotations

import logging

from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.handlers.context import Context, login_of, repo_of

router = Router()
log = logging.getLogger(__name__)


@router.register("branch_protection_rule")
@router.register("branch_protection_configuration")
@router.register("repository_ruleset")
async def protection_changed(event: Event, ctx: Context) -> None:
    """Reconcile a repository whose protection someone changed, naming who."""
    repo = repo_of(event.data)
    if repo is None:
        log.debug("returning: %s without a repository (org-level change)", event.event)
        if event.event == "repository_ruleset":
            await ctx.services.scheduler.enqueue_resync(
                ctx.installation_id, delivery_id=ctx.delivery_id
            )
        return
    sender = login_of(event.data)
    if sender is not None and sender == await ctx.services.app_login():
        log.debug("returning: the change was Bulwark's own write")
        return
    full = "/".join(repo)
    ctx.services.reconciler.something_changed(full)
    await ctx.services.scheduler.enqueue_reconcile(
        ctx.installation_id,
        full,
        delivery_id=ctx.delivery_id,
        actor=sender,
        repo_json=event.data["repository"],
    )


@router.register("repository", action="created")
@router.register("repository", action="renamed")
@router.register("repository", action="transferred")
@router.register("repository", action="publicized")
@router.register("repository", action="privatized")
@router.register("repository", action="unarchived")
@router.register("repository", action="archived")
async def repository_changed(event: Event, ctx: Context) -> None:
    """Reconcile a repository that appeared or changed in a way that matters to protection."""
    repo = repo_of(event.data)
    if repo is None:
        return
    full = "/".join(repo)
    old = event.data.get("changes", {}).get("repository", {}).get("name", {}).get("from")
    if isinstance(old, str):
        ctx.services.statuses.forget(f"{repo[0]}/{old}")
    ctx.services.reconciler.something_changed(full)
    await ctx.services.scheduler.enqueue_reconcile(
        ctx.installation_id, full, delivery_id=ctx.delivery_id
    )


@router.register("repository", action="deleted")
async def repository_deleted(event: Event, ctx: Context) -> None:
    """Forget a deleted repository and refresh the report."""
    repo = repo_of(event.data)
    if repo is not None:
        ctx.services.statuses.forget("/".join(repo))
        ctx.services.scheduler.report_soon(ctx.installation_id, repo[0])
