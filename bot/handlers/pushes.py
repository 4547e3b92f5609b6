"""Pushes: a policy file changed, or a commit reached a protected branch without review."""

from __future__ import annotations

import logging

from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.core.policy import ORG_POLICY_REPO, POLICY_PATH, excluded_reason
from bot.engine.pushes import (
    Patience,
    check_push,
    comment_once,
    is_protected,
    pushed_branch,
    touched_paths,
)
from bot.github.errors import GitHubError
from bot.handlers.context import Context, repo_of

router = Router()
log = logging.getLogger(__name__)


@router.register("push")
async def push(event: Event, ctx: Context) -> None:
    """Reload a changed policy file, and flag commits that skipped review."""
    repo = repo_of(event.data)
    branch = pushed_branch(event.data)
    if repo is None or branch is None:
        log.debug("returning: not a push to a branch")
        return
    default = str(event.data["repository"].get("default_branch") or "main")
    if branch == default and POLICY_PATH in touched_paths(event.data):
        await _policy_changed(ctx, *repo)
    policy, _ = await ctx.services.policies.for_repo(ctx.gh, *repo)
    data = event.data["repository"]
    excluded = excluded_reason(
        policy, name=repo[1], archived=bool(data.get("archived")), fork=bool(data.get("fork"))
    )
    if excluded is not None:
        log.debug("returning: the repository is excluded (%s)", excluded)
        return
    if not is_protected(policy, branch, default):
        log.debug("returning: %s is not a protected branch", branch)
        return
    patience = Patience(ctx.services.clock, ctx.services.association_wait)
    for direct, finding, why in await check_push(ctx.gh, event.data, branch, patience):
        log.warning("direct push: %s", finding.message, extra={"actor": direct.pusher})
        ctx.services.statuses.add_direct_push(repo[0], direct)
        ctx.services.scheduler.report_soon(ctx.installation_id, repo[0])
        try:
            await comment_once(ctx.gh, *repo, direct, why)
        except GitHubError as exc:  # e.g. contents: read only; the report still has it
            log.warning("could not comment on the commit: %s", exc)


async def _policy_changed(ctx: Context, owner: str, name: str) -> None:
    if name.lower() == ORG_POLICY_REPO:
        log.info("org policy changed: reloading and resyncing the org")
        ctx.services.policies.forget(owner)
        await ctx.services.scheduler.enqueue_resync(
            ctx.installation_id, delivery_id=ctx.delivery_id
        )
    else:
        log.info("repo policy changed: reconciling")
        ctx.services.policies.forget_repo(f"{owner}/{name}")
        await ctx.services.scheduler.enqueue_reconcile(
            ctx.installation_id, f"{owner}/{name}", delivery_id=ctx.delivery_id
        )
