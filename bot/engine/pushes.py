"""A push to a protected branch: did every commit come through a reviewed pull request?"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from bot.clock import Clock, isoformat
from bot.core.findings import (
    PUSH_COMMIT_UNKNOWN,
    PUSH_FORCED,
    PUSH_UNREVIEWED,
    direct_push,
    push_not_merged,
)
from bot.core.models import DirectPush, Finding
from bot.core.policy import Policy, protected_branches
from bot.core.render import COMMIT_COMMENT_MARKER, direct_push_comment
from bot.github.errors import Invalid
from bot.github.gateway import Gateway, Json

MAX_COMMITS = 20  # commits checked per push: the first 19 and the head
ASSOCIATION_WAIT = 60.0  # seconds a push waits for GitHub to link its commits to pull requests
FIRST_RETRY = 2.0  # then 4, 8, 16, and what is left of the wait

log = logging.getLogger(__name__)


def pushed_branch(data: Mapping[str, Any]) -> str | None:
    """Return the branch a push updated, or None for tags and deletions."""
    ref = data.get("ref")
    if not isinstance(ref, str) or not ref.startswith("refs/heads/") or data.get("deleted"):
        return None
    return ref.removeprefix("refs/heads/")


def touched_paths(data: Mapping[str, Any]) -> set[str]:
    """Return every path a push's commits added, modified or removed."""
    paths: set[str] = set()
    for commit in data.get("commits") or []:
        if isinstance(commit, Mapping):
            for key in ("added", "modified", "removed"):
                paths.update(p for p in commit.get(key) or [] if isinstance(p, str))
    return paths


def is_protected(policy: Policy, branch: str, default_branch: str) -> bool:
    """Tell whether the policy covers `branch`."""
    return branch in protected_branches(policy, default_branch, [branch])


class Patience:
    """A bounded wait, with doubling back-off, for GitHub to link a merge to its pull request.

    GitHub indexes the commit → pull request association after it sends the push of
    a merge, so the first answer can be empty for seconds (13 s in
    https://github.com/Songmu/tagpr/pull/333; see also
    https://github.com/tektoncd/pipelines-as-code/pull/2382). One wait serves a whole
    push: once it is spent, every later commit is asked once.
    """

    def __init__(self, clock: Clock, budget: float = ASSOCIATION_WAIT) -> None:
        self.clock = clock
        self.deadline = clock.monotonic() + budget
        self.delay = FIRST_RETRY

    async def wait(self) -> bool:
        """Sleep the next back-off step; return False once the wait is spent."""
        left = self.deadline - self.clock.monotonic()
        if left <= 0:
            return False
        await self.clock.sleep(min(self.delay, left))
        self.delay *= 2
        return True


async def reviewed(
    gh: Gateway, owner: str, repo: str, sha: str, branch: str, patience: Patience | None = None
) -> str | None:
    """Return None when `sha` came through a merged, approved pull request into `branch`."""
    try:
        pulls = await _merged_pulls(gh, owner, repo, sha, branch)
        while not pulls and patience is not None and await patience.wait():
            pulls = await _merged_pulls(gh, owner, repo, sha, branch)
    except Invalid:  # GitHub does not know the commit (it was force-pushed away)
        return PUSH_COMMIT_UNKNOWN
    if not pulls:
        return push_not_merged(branch)
    for pull in pulls:
        author = (pull.get("user") or {}).get("login")
        reviews = await gh.pull_reviews(owner, repo, int(pull["number"]))
        if any(
            r.get("state") == "APPROVED" and (r.get("user") or {}).get("login") != author
            for r in reviews
        ):
            return None
    return PUSH_UNREVIEWED


async def _merged_pulls(gh: Gateway, owner: str, repo: str, sha: str, branch: str) -> list[Json]:
    """Pull requests merged into `branch` that brought `sha`, as far as GitHub knows yet."""
    found = await gh.commit_pulls(owner, repo, sha)
    pulls = [p for p in found if p.get("merged_at") and (p.get("base") or {}).get("ref") == branch]
    if pulls:
        return pulls
    # The association lags; a just-merged pull request already names its merge commit.
    recent = await gh.recently_closed_pulls(owner, repo, branch)
    return [p for p in recent if p.get("merged_at") and p.get("merge_commit_sha") == sha]


async def check_push(
    gh: Gateway, data: Mapping[str, Any], branch: str, patience: Patience
) -> list[tuple[DirectPush, Finding, str]]:
    """Find the commits of a push that bypassed review (and a force push itself)."""
    owner, repo = str(data["repository"]["full_name"]).split("/", 1)
    pusher = str((data.get("pusher") or {}).get("name") or (data.get("sender") or {}).get("login"))
    commits: Sequence[Mapping[str, Any]] = [
        c for c in data.get("commits") or [] if isinstance(c, Mapping)
    ]
    found: list[tuple[DirectPush, Finding, str]] = []
    at = isoformat(patience.clock.time())
    forced = bool(data.get("forced"))
    for commit in _bounded(commits):
        why = await reviewed(gh, owner, repo, str(commit["id"]), branch, patience)
        if why is not None:
            found.append(_finding(owner, repo, branch, str(commit["id"]), pusher, at, forced, why))
    if len(commits) > MAX_COMMITS:
        log.warning("push of %d commits: checked %d and the head", len(commits), MAX_COMMITS - 1)
    head = data.get("after")
    if forced and not found and isinstance(head, str):
        found.append(_finding(owner, repo, branch, head, pusher, at, True, PUSH_FORCED))
    return found


def _bounded(commits: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """The first commits up to the bound, and always the head: what the branch now holds."""
    if len(commits) <= MAX_COMMITS:
        return commits
    return [*commits[: MAX_COMMITS - 1], commits[-1]]


def _finding(
    owner: str, repo: str, branch: str, sha: str, pusher: str, at: str, forced: bool, why: str
) -> tuple[DirectPush, Finding, str]:
    push = DirectPush(
        repo=f"{owner}/{repo}", branch=branch, sha=sha, pusher=pusher, at=at, forced=forced
    )
    return push, direct_push(branch, sha, pusher, why), why


async def comment_once(gh: Gateway, owner: str, repo: str, push: DirectPush, why: str) -> None:
    """Leave one commit comment explaining the direct push (never two on one commit)."""
    existing = await gh.commit_comments(owner, repo, push.sha)
    if any(COMMIT_COMMENT_MARKER in str(c.get("body") or "") for c in existing):
        return
    body = direct_push_comment(push.pusher, push.branch, push.sha, why, forced=push.forced)
    await gh.create_commit_comment(owner, repo, push.sha, body)
