"""A check finished somewhere: require it now if Bulwark was waiting for it to report."""

from __future__ import annotations

import logging

from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.core.judge import waits_for
from bot.handlers.context import Context, repo_of

router = Router()
log = logging.getLogger(__name__)


@router.register("check_run", action="completed")
async def check_completed(event: Event, ctx: Context) -> None:
    """Reconcile a repository whose missing policy check (or first CodeQL analysis) just reported.

    GitHub sends `completed` for every app's check runs to an App with the checks
    permission; most are not waited for, and cost nothing but this lookup.
    """
    repo = repo_of(event.data)
    name = (event.data.get("check_run") or {}).get("name")
    if repo is None or not isinstance(name, str):
        return
    full = "/".join(repo)
    status = ctx.services.statuses.get(full)
    if status is None or not waits_for(status, name):
        log.debug("returning: nothing waits for %r on %s", name, full)
        return
    ctx.services.reconciler.something_changed(full)
    await ctx.services.scheduler.enqueue_reconcile(
        ctx.installation_id, full, delivery_id=ctx.delivery_id
    )
