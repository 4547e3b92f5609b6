"""The org-wide drift report: one issue, found again by label and marker, edited in place."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.clock import Clock, isoformat
from bot.core.concerns import concerns
from bot.core.models import DirectPush, Finding, RepoStatus
from bot.core.policy import DEFAULT_POLICY, ORG_POLICY_REPO
from bot.core.render import (
    REPORT_MARKER_PREFIX,
    parse_report_marker,
    report_body,
    report_closed_comment,
)
from bot.core.report_promises import OrgSettings, promises_table
from bot.engine.policies import PolicyStore
from bot.github.errors import GitHubError
from bot.github.gateway import Gateway
from bot.store.locks import RepoLocks
from bot.store.statuses import Row, StatusStore, unpack

REPORT_LABEL = "repo-protection"
REPORT_LOCK = ".bulwark-report"  # the lock (and queue) key of an org's report: owner/REPORT_LOCK
REPORT_LABEL_COLOR = "b60205"
REPORT_LABEL_DESCRIPTION = "Bulwark's org-wide branch protection drift report"
REPORT_TITLE = "Branch protection drift report"
UNPACK_SLICE = 500  # statuses rebuilt per event-loop step: 2-4 ms

log = logging.getLogger(__name__)


class ReportAction(StrEnum):
    """What one update did to the org's report issue."""

    CREATED = "created"
    EDITED = "edited"
    CLOSED = "closed"  # nothing stands between the org and its promises
    REOPENED = "reopened"  # something does again
    UNCHANGED = "unchanged"
    UNAVAILABLE = "unavailable"  # the report repository is missing or refuses issues


@dataclass(frozen=True)
class ReportResult:
    """What an update did, the issue's address, and the warning when it is unavailable."""

    action: ReportAction
    url: str | None = None
    warning: str | None = None


class ReportKeeper:
    """Keep one report issue per org current; updates for one org never race."""

    def __init__(
        self,
        statuses: StatusStore,
        policies: PolicyStore,
        clock: Clock,
        bot_login: Callable[[], Awaitable[str]],
        locks: RepoLocks,
    ) -> None:
        self.bot_login = bot_login  # the report issue is the one this bot user opened
        self.statuses = statuses
        self.policies = policies
        self.clock = clock
        self.locks = locks
        self._last: dict[str, float] = {}
        self.warnings: dict[str, str] = {}

    def seconds_until_due(self, org: str, debounce: float) -> float:
        """Return how long to wait before the next debounced update of `org`."""
        last = self._last.get(org.lower())
        if last is None:
            return 0.0
        return max(0.0, last + debounce - self.clock.monotonic())

    async def update(self, gh: Gateway, org: str) -> ReportResult:
        """Render the org's state and bring the report issue to it."""
        key = org.lower()
        # Through the repository locks, so a fleet of workers never races on one org's issue.
        async with self.locks.lock(f"{org}/{REPORT_LOCK}"):
            self._last[key] = self.clock.monotonic()
            repo = DEFAULT_POLICY.report_repository
            try:
                repo = (await self.policies.org(gh, org)).policy.report_repository
                result = await self._update(gh, org, repo)
            except GitHubError as exc:  # Gone (issues disabled) included
                result = self._unavailable(org, repo, str(exc))
            if result.action is not ReportAction.UNAVAILABLE:
                self.warnings.pop(key, None)
            return result

    def _unavailable(self, org: str, repo: str, why: str) -> ReportResult:
        warning = f"The drift report cannot be written to {org}/{repo}: {why}."
        log.warning("report unavailable: %s", why, extra={"org": org, "report_repo": repo})
        self.warnings[org.lower()] = warning
        return ReportResult(ReportAction.UNAVAILABLE, warning=warning)

    async def _update(self, gh: Gateway, org: str, repo: str) -> ReportResult:
        found = await gh.repo(org, repo)
        if found is None:
            return self._unavailable(org, repo, "the repository does not exist")
        await self.statuses.refresh(org)
        state = self.statuses.org(org)
        rows, pushes, delayed = state.statuses.rows(), tuple(state.direct_pushes), state.delayed
        settings = await self._settings(gh, org)
        page = _ReportInput(
            org,
            await _unpacked(rows),
            pushes,
            delayed,
            # Whoever can read the report repository reads the report; no `private`: the safe side.
            found.get("private") is not True,
            settings,
            self.clock.time(),
        )
        # Off the event loop: rendering 10,000 repositories takes longer than a webhook may wait.
        statuses, body, standing = await asyncio.to_thread(_render, page)
        log.info("report of %s: %s", org, ", ".join(standing) or "nothing stands in the way")
        issue = await self._find(gh, org, repo)
        if issue is not None:
            return await self._refresh(gh, org, repo, issue, body, statuses, bool(standing))
        created = await self._create(gh, org, repo, body)
        if not standing:  # the org's one place to look exists from the first resync on
            await self._refresh(gh, org, repo, created, body, statuses, False)
        return ReportResult(ReportAction.CREATED, str(created.get("html_url", "")))

    async def _settings(self, gh: Gateway, org: str) -> OrgSettings:
        """Read the org settings the Promises table shows; None for what GitHub would not say."""
        limit = (await self.policies.org(gh, org)).policy.max_org_owners
        try:
            found = await gh.org(org)
            two_factor = (found or {}).get("two_factor_requirement_enabled")
            owners: int | None = len(await gh.org_owners(org))
            policy = await gh.file_text(org, ORG_POLICY_REPO, "SECURITY.md") is not None
        except GitHubError:
            return OrgSettings(max_owners=limit)
        return OrgSettings(two_factor, owners, limit, policy)

    async def _refresh(
        self,
        gh: Gateway,
        org: str,
        repo: str,
        issue: Mapping[str, Any],
        body: str,
        statuses: Sequence[RepoStatus],
        keep_open: bool,
    ) -> ReportResult:
        changes: dict[str, Any] = {}
        if parse_report_marker(str(issue.get("body") or "")) != parse_report_marker(body):
            changes["body"] = body
        wanted = "open" if keep_open else "closed"
        if issue.get("state") != wanted:
            changes["state"] = wanted
        url = str(issue.get("html_url", ""))
        if not changes:
            return ReportResult(ReportAction.UNCHANGED, url)
        number = int(issue["number"])
        await gh.update_issue(org, repo, number, **changes)
        if "state" not in changes:
            return ReportResult(ReportAction.EDITED, url)
        if keep_open:
            return ReportResult(ReportAction.REOPENED, url)
        now = isoformat(self.clock.time())
        await gh.create_issue_comment(org, repo, number, report_closed_comment(now, statuses))
        return ReportResult(ReportAction.CLOSED, url)

    async def _create(self, gh: Gateway, org: str, repo: str, body: str) -> Mapping[str, Any]:
        if await gh.label(org, repo, REPORT_LABEL) is None:
            await gh.create_label(
                org, repo, REPORT_LABEL, REPORT_LABEL_COLOR, REPORT_LABEL_DESCRIPTION
            )
        issue = await gh.create_issue(org, repo, REPORT_TITLE, body, [REPORT_LABEL])
        log.info("report issue created", extra={"org": org, "number": issue.get("number")})
        return issue

    async def _find(self, gh: Gateway, org: str, repo: str) -> Mapping[str, Any] | None:
        login = await self.bot_login()
        issues = await gh.issues(org, repo, labels=[REPORT_LABEL], state="all")
        ours = [
            i
            for i in issues
            if REPORT_MARKER_PREFIX in str(i.get("body") or "")
            and (i.get("user") or {}).get("login") == login
            and "pull_request" not in i
        ]
        return min(ours, key=lambda i: int(i["number"])) if ours else None


async def _unpacked(rows: tuple[Row, ...]) -> tuple[RepoStatus, ...]:
    """Rebuild the statuses of a snapshot a slice at a time, on the event loop.

    Rebuilding 10,000 takes some 50 ms: in the rendering thread it would hold the GIL
    against the webhook endpoint's every read and write; here each slice is short.
    """
    statuses: list[RepoStatus] = []
    shared: dict[Row, tuple[Finding, ...]] = {}
    for start in range(0, len(rows), UNPACK_SLICE):
        statuses.extend(unpack(row, shared) for row in rows[start : start + UNPACK_SLICE])
        await asyncio.sleep(0)
    return tuple(statuses)


@dataclass(frozen=True)
class _ReportInput:
    """What one rendering of the report reads: a snapshot, safe to hand to a thread."""

    org: str
    statuses: tuple[RepoStatus, ...]
    direct_pushes: tuple[DirectPush, ...]
    delayed: bool
    public: bool
    settings: OrgSettings
    now: float


def _render(page: _ReportInput) -> tuple[list[RepoStatus], str, list[str]]:
    """Sort the statuses, render the report body, and name what stands in the way."""
    statuses = sorted(page.statuses, key=lambda s: s.repo.lower())
    body = report_body(
        statuses,
        org=page.org,
        computed_at=isoformat(page.now),
        public=page.public,
        direct_pushes=list(page.direct_pushes),
        delayed=page.delayed,
        promises=promises_table(statuses, page.settings, page.org),
    )
    standing = concerns(statuses, list(page.direct_pushes), now=page.now)
    return statuses, body, list(standing)
