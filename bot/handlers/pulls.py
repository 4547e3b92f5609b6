"""Pull requests: a check run on every head SHA and one status comment while the base drifts."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.core.policy import WriteMode
from bot.core.render import fix_refused_note
from bot.engine.feedback import evaluate, publish_feedback
from bot.engine.permissions import permission
from bot.handlers.context import Context, login_of, repo_of

router = Router()
log = logging.getLogger(__name__)

FIX_IDENTIFIER = "fix-protection"


@router.register("pull_request", action="opened")
@router.register("pull_request", action="reopened")
@router.register("pull_request", action="synchronize")
@router.register("pull_request", action="ready_for_review")
async def pr_changed(event: Event, ctx: Context) -> None:
    """Judge the PR's base branch: check run on the head SHA, status comment on drift."""
    repo = repo_of(event.data)
    pull = event.data.get("pull_request")
    if repo is None or not isinstance(pull, Mapping):
        return
    opened = event.data.get("action") == "opened"
    await feedback(ctx, repo, pull, write=WriteMode.NEVER, opened=opened)


async def feedback(
    ctx: Context,
    repo: tuple[str, str],
    pull: Mapping[str, Any],
    *,
    write: WriteMode,
    note: str | None = None,
    opened: bool = False,
) -> None:
    """Evaluate the base branch, then publish the check run and the status comment."""
    verdict = await evaluate(
        ctx.services.reconciler, ctx.gh, *repo, str(pull["base"]["ref"]), write=write
    )
    await publish_feedback(
        ctx.gh,
        *repo,
        pull,
        verdict,
        note=note,
        app_id=ctx.services.app_id,
        app_login=ctx.services.app_login,
        memory=ctx.services.feedback,
        opened=opened,
    )


@router.register("check_run", action="rerequested")
@router.register("check_run", action="requested_action")
@router.register("check_suite", action="rerequested")
async def check_requested(event: Event, ctx: Context) -> None:
    """Re-run the check, or fix protection for a user allowed to."""
    repo = repo_of(event.data)
    subject = event.data.get("check_run") or event.data.get("check_suite") or {}
    if event.event == "check_run" and subject.get("name") != "repo-protection":
        return
    number = pull_number_of(subject, (event.data.get("repository") or {}).get("id"))
    if repo is None or number is None:
        log.info("returning: the check is not attached to a pull request")
        return
    pull = await ctx.gh.pull(*repo, number)
    if pull is None:
        return
    wants_fix = (event.data.get("requested_action") or {}).get("identifier") == FIX_IDENTIFIER
    if not wants_fix:
        await feedback(ctx, repo, pull, write=WriteMode.NEVER)
        return
    await fix_requested(ctx, repo, pull, login_of(event.data) or "")


def pull_number_of(subject: Mapping[str, Any], repo_id: object) -> int | None:
    """Find the pull request a check run (or suite) belongs to in this repository."""
    for pull in subject.get("pull_requests") or []:
        base_repo = (pull.get("base") or {}).get("repo") or {}
        if base_repo.get("id") in (None, repo_id) and isinstance(pull.get("number"), int):
            return int(pull["number"])
    external = str(subject.get("external_id") or "")
    return int(external) if external.isdigit() else None  # a fork's PR: our own note


async def fix_requested(
    ctx: Context, repo: tuple[str, str], pull: Mapping[str, Any], login: str
) -> None:
    """Fix the base branch if `login` may; otherwise say why nothing was done."""
    who = await permission(ctx.gh, *repo, login)
    if who.allowed:
        await feedback(ctx, repo, pull, write=WriteMode.ALWAYS)
        return
    note = fix_refused_note(login, "" if who.role == "none" else who.role)
    await feedback(ctx, repo, pull, write=WriteMode.NEVER, note=note)
