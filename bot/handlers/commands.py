"""Slash commands in issue and pull request comments."""

from __future__ import annotations

import logging

from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.core.commands import parse_commands
from bot.core.render import reply_rate_limited
from bot.engine.commands import Desk, answer, target_branch
from bot.engine.limits import Allowance
from bot.engine.permissions import permission
from bot.github.errors import GitHubError
from bot.handlers.context import Context, is_bot, login_of, repo_of

router = Router()
log = logging.getLogger(__name__)


@router.register("issue_comment", action="created")
async def comment_created(event: Event, ctx: Context) -> None:
    """Acknowledge each `/protection` command with 👀, then answer it in one reply."""
    comment = event.data.get("comment") or {}
    issue = event.data.get("issue") or {}
    repo = repo_of(event.data)
    if repo is None or not issue.get("number") or is_bot(comment, "user") or is_bot(event.data):
        log.debug("returning: no repository or issue, or a bot wrote the comment")
        return
    commands = parse_commands(str(comment.get("body") or ""))
    if not commands:
        return
    login = login_of(comment, "user") or ""
    allowed = await _allowances(ctx, repo, int(issue["number"]), login, len(commands))
    if allowed[0] is Allowance.DROP:
        log.info("returning: %s is over the command limit", login)
        return
    await _acknowledge(ctx, repo, int(comment["id"]))
    branch = await target_branch(ctx.gh, *repo, issue)
    desk = Desk(ctx.gh, ctx.services.reconciler, ctx.services.reports)
    for command, allowed_one in zip(commands, allowed, strict=True):
        if allowed_one is Allowance.DROP:
            return
        reply = (
            reply_rate_limited(login)
            if allowed_one is Allowance.NOTICE
            else await answer(
                desk, *repo, login, command, branch, on_issue=not issue.get("pull_request")
            )
        )
        await ctx.gh.create_issue_comment(*repo, int(issue["number"]), reply)


async def _allowances(
    ctx: Context, repo: tuple[str, str], number: int, login: str, count: int
) -> list[Allowance]:
    """Count `login`'s commands; someone who may run `fix` is always answered."""
    thread = f"{repo[0]}/{repo[1]}#{number}".lower()
    allowed = [ctx.services.limiter.take(thread, login) for _ in range(count)]
    # Asked only when a notice is due: a flood after the notice costs no request.
    if Allowance.NOTICE not in allowed:
        return allowed
    try:
        privileged = (await permission(ctx.gh, *repo, login)).allowed
    except GitHubError as exc:
        log.warning("could not ask %s's permission: %s", login, exc)
        privileged = False
    if not privileged:
        return allowed
    ctx.services.limiter.forgive(thread, login)
    return [Allowance.ANSWER] * count


async def _acknowledge(ctx: Context, repo: tuple[str, str], comment_id: int) -> None:
    try:
        await ctx.gh.add_reaction(*repo, comment_id, "eyes")
    except GitHubError as exc:
        log.warning("could not react to the comment: %s", exc)
