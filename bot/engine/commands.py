"""Answer `/protection …` commands: acknowledge at once, then one reply per command."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.commands import PRIVILEGED, Command, Verb
from bot.core.judge import branch_status
from bot.core.policy import WriteMode
from bot.core.render import (
    reply_check,
    reply_failure,
    reply_fix,
    reply_help,
    reply_refused,
    reply_report,
    reply_report_unavailable,
    reply_status,
)
from bot.engine.feedback import evaluate
from bot.engine.permissions import permission
from bot.engine.reconcile import Reconciler
from bot.engine.report import ReportKeeper
from bot.github.errors import GitHubError
from bot.github.gateway import Gateway

log = logging.getLogger(__name__)
NEEDS_BRANCH = frozenset({Verb.STATUS, Verb.CHECK, Verb.FIX})


async def target_branch(
    gh: Gateway, owner: str, repo: str, issue: Mapping[str, Any]
) -> str | GitHubError:
    """Return the branch a command speaks of: a PR's base, else the default branch.

    A failure is returned, not raised: each command's reply tells it.
    """
    try:
        if issue.get("pull_request"):
            pull = await gh.pull(owner, repo, int(issue["number"]))
            if pull is not None:
                return str(pull["base"]["ref"])
        found = await gh.repo(owner, repo)
    except GitHubError as exc:
        log.warning("could not find the branch a command speaks of: %s", exc)
        return exc
    return str((found or {}).get("default_branch") or "main")


@dataclass(frozen=True)
class Desk:
    """What answering a command needs: the installation's gateway, the reconciler, the report."""

    gh: Gateway
    reconciler: Reconciler
    reports: ReportKeeper


async def answer(
    desk: Desk,
    owner: str,
    repo: str,
    login: str,
    command: Command,
    branch: str | GitHubError,
    *,
    on_issue: bool = False,
) -> str:
    """Run one command and return the reply's markdown (a failure is told, not raised).

    On an issue (not a pull request) `status` speaks of every protected branch.
    """
    try:
        if command.verb in PRIVILEGED:
            who = await permission(desk.gh, owner, repo, login)
            if not who.allowed:
                return reply_refused(command.verb, login, "" if who.role == "none" else who.role)
        if isinstance(branch, GitHubError) and command.verb in NEEDS_BRANCH:
            raise branch
        return await _run(desk, owner, repo, login, command, str(branch), on_issue)
    except GitHubError as exc:
        log.warning("command failed: %s", exc, extra={"verb": command.verb.value})
        return reply_failure(command.verb, str(exc), asker=login)


async def _run(
    desk: Desk, owner: str, repo: str, login: str, command: Command, branch: str, on_issue: bool
) -> str:
    gh, reconciler = desk.gh, desk.reconciler
    warning = desk.reports.warnings.get(owner.lower())
    if command.verb is Verb.STATUS:
        verdict = await evaluate(reconciler, gh, owner, repo, branch, write=WriteMode.NEVER)
        note = reply_report_unavailable(warning) if warning else None
        status = verdict.status if on_issue else branch_status(verdict.status, branch)
        return reply_status(status, asker=login, report_note=note)
    if command.verb is Verb.CHECK:
        verdict = await evaluate(reconciler, gh, owner, repo, branch, write=WriteMode.FOLLOW_POLICY)
        return reply_check(branch_status(verdict.status, branch), asker=login)
    if command.verb is Verb.FIX:
        verdict = await evaluate(reconciler, gh, owner, repo, branch, write=WriteMode.ALWAYS)
        return reply_fix(branch_status(verdict.status, branch), asker=login)
    if command.verb is Verb.REPORT:
        result = await desk.reports.update(gh, owner)
        if result.warning:
            return reply_report_unavailable(result.warning)
        if result.url is None:
            return reply_status(
                (await evaluate(reconciler, gh, owner, repo, branch, write=WriteMode.NEVER)).status,
                asker=login,
            )
        return reply_report(result.url, asker=login)
    return reply_help(command.word if command.verb is Verb.UNKNOWN else None, asker=login)
