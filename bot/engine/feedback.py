"""Feedback on pull requests: the `repo-protection` check run and one status comment."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from enum import StrEnum
from typing import Any

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
from bot.github.gateway import Gateway

CHECK_NAME = "repo-protection"

log = logging.getLogger(__name__)


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
    status = await reconciler.reconcile(gh, owner, repo, write=write)
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
    gh: Gateway, owner: str, repo: str, head_sha: str, body: dict[str, Any], *, app_id: int
) -> Mapping[str, Any]:
    """Create the head SHA's check run, or update the one Bulwark (App `app_id`) made before."""
    runs = await gh.check_runs_for_ref(owner, repo, head_sha, name=CHECK_NAME)
    existing = [r for r in runs if (r.get("app") or {}).get("id") == app_id]
    if existing:
        update = {k: v for k, v in body.items() if k != "head_sha"}
        return await gh.update_check_run(owner, repo, int(existing[0]["id"]), update)
    return await gh.create_check_run(owner, repo, body)


async def publish_comment(
    gh: Gateway, owner: str, repo: str, number: int, verdict: BranchVerdict, *, login: str
) -> CommentOutcome:
    """Keep one status comment on the PR: created on drift, edited in place, marked resolved.

    Only a comment by `login` (Bulwark's own bot user) is Bulwark's to edit.
    """
    comments = await gh.issue_comments(owner, repo, number)
    mine = _own_comment(comments, login)
    if not verdict.findings and mine is None:
        return CommentOutcome.NONE
    body = pr_status_comment(
        verdict.status.repo,
        verdict.branch,
        verdict.findings,
        resolved=not verdict.findings,
        fixed_at=verdict.status.fixed_at,
        mode=verdict.status.mode,
    )
    if mine is None:
        await gh.create_issue_comment(owner, repo, number, body)
        return CommentOutcome.CREATED
    if str(mine.get("body") or "") == body:
        return CommentOutcome.UNCHANGED
    await gh.update_issue_comment(owner, repo, int(mine["id"]), body)
    return CommentOutcome.EDITED


def _own_comment(comments: Sequence[Mapping[str, Any]], login: str) -> Mapping[str, Any] | None:
    for comment in comments:
        user = comment.get("user") or {}
        if PR_STATUS_MARKER in str(comment.get("body") or "") and user.get("login") == login:
            return comment
    return None
