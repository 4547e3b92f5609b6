"""Feedback on pull requests: the `repo-protection` check run and one status comment."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from enum import StrEnum
from typing import Any

from cachetools import LRUCache

from bot.core.judge import BranchVerdict, for_branch
from bot.core.models import Outcome
from bot.core.policy import WriteMode
from bot.core.render import (
    PR_STATUS_MARKER,
    PolicyTerms,
    check_run_output,
    pr_status_comment,
)
from bot.engine.reconcile import Reconciler
from bot.github.errors import NotFound
from bot.github.gateway import Gateway

CHECK_NAME = "repo-protection"

# Pull requests and head SHAs whose comment and check run Bulwark remembers.
MEMORY_SIZE = 10_000

log = logging.getLogger(__name__)
# https://docs.github.com/en/code-security/code-scanning/enabling-code-scanning/configuring-default-setup-for-code-scanning
FORK_CODEQL_NOTE = (
    "This pull request comes from a fork. CodeQL's default setup does not analyse pull "
    "requests from forks, so the required CodeQL check will not report on it: a maintainer "
    "can push the branch to this repository, or the repository can use CodeQL's advanced setup."
)


def from_fork(pull: Mapping[str, Any]) -> bool:
    """Tell whether a pull request's head lives in another repository (a fork)."""
    head_ref = pull.get("head") or {}
    if "repo" not in head_ref:
        return False
    head = head_ref["repo"]  # None: the fork has been deleted
    base = (pull.get("base") or {}).get("repo") or {}
    return head is None or head.get("full_name") != base.get("full_name")


class FeedbackMemory:
    """Bulwark's own check run per head SHA and status comment per pull request.

    A compliant pull request seen before needs no comment list, a head SHA's second
    verdict no check run list. Bounded: forgetting only costs the list again. Off
    (`shared=True`) where other processes publish too: what one process remembers
    would not be what GitHub holds.
    """

    def __init__(self, maxsize: int = MEMORY_SIZE, *, shared: bool = False) -> None:
        self.on = not shared
        self._runs: LRUCache[tuple[str, str], int] = LRUCache(maxsize=maxsize)
        # (id, body) of Bulwark's comment; None: the pull request has none of Bulwark's.
        self._comments: LRUCache[tuple[str, int], tuple[int, str] | None] = LRUCache(
            maxsize=maxsize
        )

    def check_run(self, key: tuple[str, str]) -> int | None:
        """Return the check run Bulwark made on a head SHA, if remembered."""
        return self._runs.get(key)

    def remember_check_run(self, key: tuple[str, str], run_id: int | None) -> None:
        """Remember (or, given None, forget) the check run on a head SHA."""
        if run_id is None:
            self._runs.pop(key, None)
        elif self.on:
            self._runs[key] = run_id

    def comment(self, key: tuple[str, int]) -> tuple[int, str] | bool | None:
        """Return Bulwark's comment (id, body), None when it has none, False: not known."""
        return self._comments.get(key, False)

    def remember_comment(self, key: tuple[str, int], comment: tuple[int, str] | None) -> None:
        """Remember Bulwark's comment on a pull request, or that it has none."""
        if self.on:
            self._comments[key] = comment

    def opened(self, repo: str, number: int) -> None:
        """Know that a pull request just opened has no comment of Bulwark's (unless known).

        Should the delivery be a redelivery after Bulwark commented, a verdict with
        findings still lists the comments before creating one.
        """
        key = (repo.lower(), number)
        if self.comment(key) is False:
            self.remember_comment(key, None)

    def forget_comment(self, key: tuple[str, int]) -> None:
        """Forget a pull request's comment: the next verdict lists the comments again."""
        self._comments.pop(key, None)


class CommentOutcome(StrEnum):
    """What became of a pull request's status comment."""

    NONE = "none"  # no drift and no comment: nothing to say
    CREATED = "created"
    UNCHANGED = "unchanged"
    EDITED = "edited"


async def evaluate(
    reconciler: Reconciler, gh: Gateway, owner: str, repo: str, branch: str, *, write: WriteMode
) -> BranchVerdict:
    """Reconcile (or only read, `WriteMode.NEVER`) and judge one branch."""
    status = await reconciler.reconcile(gh, owner, repo, write=write, graphql_first=True)
    verdict = for_branch(status, branch)
    if status.outcome is Outcome.ERROR:
        return verdict
    # The reconcile just read these files: the store answers from its cache.
    policy, _ = await reconciler.policies.for_repo(gh, *status.repo.split("/", 1))
    terms = PolicyTerms(
        approving_reviews=policy.required_approving_review_count,
        checks=tuple(c.context for c in policy.checks),
        enforce_admins=policy.enforce_admins,
    )
    return replace(verdict, terms=terms)


async def publish_feedback(
    gh: Gateway,
    owner: str,
    repo: str,
    pull: Mapping[str, Any],
    verdict: BranchVerdict,
    *,
    note: str | None,
    app_id: int,
    app_login: Callable[[], Awaitable[str]],
    memory: FeedbackMemory,
    opened: bool = False,
) -> None:
    """Publish a pull request's check run, then its status comment (unless the base was unread)."""
    if from_fork(pull) and "CodeQL" in verdict.terms.checks:
        note = "\n\n".join(n for n in (note, FORK_CODEQL_NOTE) if n)
    sha, number = str(pull["head"]["sha"]), int(pull["number"])
    body = check_run_body(verdict, sha, note, pull_number=number)
    await publish_check(gh, owner, repo, sha, body, app_id=app_id, memory=memory)
    if verdict.status.outcome is Outcome.ERROR:
        log.info("returning: the base branch could not be read; the comment stays as it is")
        return
    login = await app_login()
    if opened:  # a pull request just opened carries no comment of Bulwark's yet
        memory.opened(f"{owner}/{repo}", number)
    await publish_comment(gh, owner, repo, number, verdict, login=login, memory=memory)


def check_run_body(
    verdict: BranchVerdict, head_sha: str, note: str | None = None, *, pull_number: int = 0
) -> dict[str, Any]:
    """Build the check run's create/update body.

    The pull request's number rides in `external_id`: GitHub leaves a check run's
    `pull_requests` empty when the head is in a fork, and a click must still find it.
    """
    output = check_run_output(
        verdict.status, verdict.branch, can_fix=verdict.can_fix, terms=verdict.terms
    )
    summary = f"{note}\n\n{output.summary}" if note else output.summary
    body: dict[str, Any] = {
        "name": CHECK_NAME,
        "head_sha": head_sha,
        "status": "completed",
        "conclusion": output.conclusion,
        "output": {"title": output.title, "summary": summary, "text": output.text},
        "actions": [dict(a) for a in output.actions],
    }
    if pull_number:
        body["external_id"] = str(pull_number)
    return body


async def publish_check(
    gh: Gateway,
    owner: str,
    repo: str,
    head_sha: str,
    body: dict[str, Any],
    *,
    app_id: int,
    memory: FeedbackMemory,
) -> Mapping[str, Any]:
    """Create the head SHA's check run, or update the one Bulwark (App `app_id`) made before."""
    key = (f"{owner}/{repo}".lower(), head_sha)
    update = {k: v for k, v in body.items() if k != "head_sha"}
    known = memory.check_run(key)
    if known is not None:
        try:
            return await gh.update_check_run(owner, repo, known, update)
        except NotFound:
            memory.remember_check_run(key, None)  # gone: list what is there
    runs = await gh.check_runs_for_ref(owner, repo, head_sha, name=CHECK_NAME)
    existing = [r for r in runs if (r.get("app") or {}).get("id") == app_id]
    if existing:
        run = await gh.update_check_run(owner, repo, int(existing[0]["id"]), update)
    else:
        run = await gh.create_check_run(owner, repo, body)
    memory.remember_check_run(key, run["id"] if isinstance(run.get("id"), int) else None)
    return run


async def publish_comment(
    gh: Gateway,
    owner: str,
    repo: str,
    number: int,
    verdict: BranchVerdict,
    *,
    login: str,
    memory: FeedbackMemory,
) -> CommentOutcome:
    """Keep one status comment on the PR: created on drift, edited in place, marked resolved.

    Only a comment by `login` (Bulwark's own bot user) is Bulwark's to edit.
    """
    key = (f"{owner}/{repo}".lower(), number)
    known = memory.comment(key)
    if known is None and not verdict.findings:
        return CommentOutcome.NONE  # none of Bulwark's, and nothing to say
    if isinstance(known, tuple):
        outcome = await _edit_known(gh, owner, repo, key, known, verdict, memory)
        if outcome is not None:
            return outcome
    comments = await gh.issue_comments(owner, repo, number)
    mine = _own_comment(comments, login)
    memory.remember_comment(key, None if mine is None else _remembered(mine))
    if not verdict.findings and mine is None:
        return CommentOutcome.NONE
    body = _comment_body(verdict)
    if mine is None:
        created = await gh.create_issue_comment(owner, repo, number, body)
        if isinstance(created.get("id"), int):
            memory.remember_comment(key, _remembered(created))
        else:
            memory.forget_comment(key)
        return CommentOutcome.CREATED
    if str(mine.get("body") or "") == body:
        return CommentOutcome.UNCHANGED
    await gh.update_issue_comment(owner, repo, int(mine["id"]), body)
    memory.remember_comment(key, (int(mine["id"]), body))
    return CommentOutcome.EDITED


async def _edit_known(
    gh: Gateway,
    owner: str,
    repo: str,
    key: tuple[str, int],
    known: tuple[int, str],
    verdict: BranchVerdict,
    memory: FeedbackMemory,
) -> CommentOutcome | None:
    """Edit the comment Bulwark remembers; None when it is gone (list the comments then)."""
    comment_id, said = known
    body = _comment_body(verdict)
    if said == body:
        return CommentOutcome.UNCHANGED
    try:
        await gh.update_issue_comment(owner, repo, comment_id, body)
    except NotFound:
        memory.forget_comment(key)
        return None
    memory.remember_comment(key, (comment_id, body))
    return CommentOutcome.EDITED


def _comment_body(verdict: BranchVerdict) -> str:
    return pr_status_comment(
        verdict.status.repo,
        verdict.branch,
        verdict.findings,
        resolved=not verdict.findings,
        fixed_at=verdict.status.fixed_at,
        mode=verdict.status.mode,
    )


def _remembered(comment: Mapping[str, Any]) -> tuple[int, str]:
    return int(comment["id"]), str(comment.get("body") or "")


def _own_comment(comments: Sequence[Mapping[str, Any]], login: str) -> Mapping[str, Any] | None:
    for comment in comments:
        user = comment.get("user") or {}
        if PR_STATUS_MARKER in str(comment.get("body") or "") and user.get("login") == login:
            return comment
    return None
