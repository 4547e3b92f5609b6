"""What Bulwark last saw of each repository, by org, in memory (on Redis: `redis_statuses`)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from cachetools import LRUCache

from bot.core.models import DirectPush, Outcome, RepoStatus

DIRECT_PUSH_MEMORY = 50


def keep_fix(old: RepoStatus | None, new: RepoStatus) -> RepoStatus:
    """A repository Bulwark fixed stays "fixed at T" while it stays compliant.

    The report is read by auditors: a later check that finds nothing wrong must
    not erase that Bulwark repaired the repository, and when.
    """
    if old is not None and old.outcome is Outcome.FIXED and new.outcome is Outcome.COMPLIANT:
        return replace(new, outcome=Outcome.FIXED, findings=old.findings, fixed_at=old.fixed_at)
    return new


@dataclass
class OrgState:
    """What Bulwark last saw of an org's repositories."""

    statuses: dict[str, RepoStatus] = field(default_factory=dict)
    direct_pushes: deque[DirectPush] = field(
        default_factory=lambda: deque(maxlen=DIRECT_PUSH_MEMORY)
    )
    delayed: bool = False


class StatusStore:
    """The latest status of every repository, grouped by org (bounded)."""

    def __init__(self, max_orgs: int = 10_000) -> None:
        self._orgs: LRUCache[str, OrgState] = LRUCache(maxsize=max_orgs)

    def org(self, org: str) -> OrgState:
        """Return (creating if needed) the state of one org."""
        key = org.lower()
        state = self._orgs.get(key)
        if state is None:
            state = OrgState()
            self._orgs[key] = state
        return state

    def record(self, status: RepoStatus) -> RepoStatus:
        """Remember the latest status of a repository; return what is kept."""
        owner = status.repo.split("/", 1)[0]
        kept = keep_fix(self.get(status.repo), status)
        self.org(owner).statuses[status.repo.lower()] = kept
        return kept

    def get(self, repo: str) -> RepoStatus | None:
        """Return the latest status of `owner/name`, if any."""
        return self.org(repo.split("/", 1)[0]).statuses.get(repo.lower())

    def forget(self, repo: str) -> None:
        """Drop a repository (deleted, transferred away, uninstalled)."""
        self.org(repo.split("/", 1)[0]).statuses.pop(repo.lower(), None)

    def set_delayed(self, org: str, delayed: bool) -> None:
        """Record whether the org's last scan waited for (or stopped at) a rate limit."""
        self.org(org).delayed = delayed

    def keep_only(self, org: str, repos: Iterable[str]) -> None:
        """Forget the org's repositories a full scan no longer saw (deleted, moved away)."""
        seen = {r.lower() for r in repos}
        for repo in [r for r in self.org(org).statuses if r not in seen]:
            self.forget(repo)

    async def flush(self) -> None:
        """Send what was recorded to a shared store before a repository's lock is released."""

    async def refresh(self, org: str) -> None:
        """Bring the org's state up to date before a report (shared stores load it here)."""

    def forget_org(self, org: str) -> None:
        """Drop everything known of an org (the App was uninstalled)."""
        self._orgs.pop(org.lower(), None)

    def add_direct_push(self, org: str, push: DirectPush) -> None:
        """Remember a direct push for the org report."""
        self.org(org).direct_pushes.appendleft(push)
