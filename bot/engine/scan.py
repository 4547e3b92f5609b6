"""The org-wide scan: GraphQL pages of 100 repositories, REST only where GraphQL cannot answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bot.core.judge import goes_to_rest, has_branch_patterns, judge
from bot.core.models import FindingKind, Outcome, RepoStatus
from bot.core.policy import POLICY_PATH, WriteMode
from bot.core.reporting import (
    CODEQL_CHECK,
    REPORTED_FIELDS,
    Reported,
    has_reported_fields,
    reported_from,
)
from bot.engine.codeql import ensure_codeql
from bot.engine.policies import PolicyStore
from bot.engine.reconcile import REPO_GONE, Reconciler, with_codeql
from bot.github.errors import NotFound, QueryFailed
from bot.github.gateway import Gateway

REST_CONCURRENCY = 8

REPOS_QUERY = """
query BulwarkOrgRepositories($org: String!, $after: String, $withRefs: Boolean!, $policy: String!) {
  rateLimit { cost remaining resetAt }
  organization(login: $org) {
    repositories(first: 100, after: $after, orderBy: {field: NAME, direction: ASC}) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        name
        nameWithOwner
        isArchived
        isFork
        isPrivate
        isEmpty
        defaultBranchRef { name }
        refs(refPrefix: "refs/heads/", first: 100) @include(if: $withRefs) {
          totalCount
          nodes { name }
        }
        rulesets(first: 1) { totalCount }
        __REPORTED__
        policyFile: object(expression: $policy) { ... on Blob { text } }
        branchProtectionRules(first: 10) {
          totalCount
          nodes {
            pattern
            requiresApprovingReviews
            requiredApprovingReviewCount
            dismissesStaleReviews
            requiresCodeOwnerReviews
            requireLastPushApproval
            requiresStatusChecks
            requiresStrictStatusChecks
            requiredStatusChecks { context app { databaseId } }
            isAdminEnforced
            allowsForcePushes
            allowsDeletions
            requiresLinearHistory
            requiresConversationResolution
            lockBranch
            requiresCommitSignatures
            restrictsPushes
            blocksCreations
            restrictsReviewDismissals
          }
        }
      }
    }
  }
}
""".replace("__REPORTED__", REPORTED_FIELDS)  # which checks report: core/reporting.py

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class OrgNotFound(NotFound):
    """GraphQL knows no organization by that login (it may be a user account)."""


@dataclass
class ScanResult:
    """Every repository's status after one scan, and how the scan went."""

    org: str
    statuses: list[RepoStatus] = field(default_factory=list)
    delayed: bool = False
    graphql_pages: int = 0
    graphql_points: int = 0
    rest_repositories: int = 0

    def counts(self) -> dict[str, int]:
        """Count repositories by outcome."""
        counts = {o.value: 0 for o in Outcome}
        for status in self.statuses:
            counts[status.outcome.value] += 1
        return counts

    @property
    def drifted(self) -> list[RepoStatus]:
        """Repositories that still fall short of the policy."""
        return [s for s in self.statuses if s.outcome is Outcome.DRIFTED]


@dataclass(frozen=True)
class Page:
    """One GraphQL page of an org's repositories."""

    total: int
    nodes: list[Mapping[str, Any]]
    cost: int


async def repository_pages(gh: Gateway, org: str, *, with_refs: bool) -> AsyncIterator[Page]:
    """Yield pages of repository nodes of an org (100 a page); OrgNotFound for a non-org."""
    after: str | None = None
    while True:
        try:
            data = await gh.graphql(
                REPOS_QUERY, org=org, after=after, withRefs=with_refs, policy=f"HEAD:{POLICY_PATH}"
            )
        except QueryFailed as exc:
            if any(isinstance(e, Mapping) and e.get("type") == "NOT_FOUND" for e in exc.errors):
                raise OrgNotFound(404, f"no organization {org!r}") from exc
            raise
        organization = data.get("organization")
        if organization is None:
            raise OrgNotFound(404, f"no organization {org!r}")
        repos = organization["repositories"]
        cost = int((data.get("rateLimit") or {}).get("cost") or 0)
        yield Page(int(repos.get("totalCount") or 0), list(repos.get("nodes") or []), cost)
        info = repos["pageInfo"]
        if not info.get("hasNextPage"):
            return
        after = info.get("endCursor")


async def scan_org(
    gh: Gateway,
    org: str,
    *,
    policies: PolicyStore,
    reconciler: Reconciler,
    write: WriteMode = WriteMode.NEVER,
    only: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> ScanResult:
    """Scan an org, writing as `write` says (by default it only reads).

    `only` names repositories (`name` or `owner/name`) to limit the scan to.
    """
    result = ScanResult(org)
    waits = gh.client.rate_limit_waits
    wanted = None if only is None else {n.lower().rsplit("/", 1)[-1] for n in only}
    org_policy = await policies.org(gh, org)
    rest: list[tuple[str, Reported | None]] = []
    done = total = 0
    # A RateLimited longer than the client waits propagates: the caller reports the delay.
    async for page in repository_pages(gh, org, with_refs=has_branch_patterns(org_policy.policy)):
        result.graphql_pages += 1
        result.graphql_points += page.cost
        total = len(wanted) if wanted is not None else page.total
        for node in page.nodes:
            if wanted is not None and str(node["name"]).lower() not in wanted:
                continue
            verdict = judge(node, org_policy.policy, org_policy.errors)
            if goes_to_rest(verdict, write):
                reported = reported_from(node) if has_reported_fields(node) else None
                rest.append((str(node["nameWithOwner"]), reported))
            elif verdict.status is not None:
                status = replace(verdict.status, private=bool(node.get("isPrivate", True)))
                status = await _codeql_read(gh, status, node)
                result.statuses.append(status)
                reconciler.statuses.record(status)
                done += 1
        if progress is not None:
            progress(done, max(total, done + len(rest)))
    result.rest_repositories = len(rest)
    await _reconcile_rest(gh, reconciler, rest, write, result, progress, done)
    result.delayed = gh.client.rate_limit_waits > waits  # waited for a reset, then went on
    result.statuses.sort(key=lambda s: s.repo.lower())
    return result


async def _codeql_read(gh: Gateway, status: RepoStatus, node: Mapping[str, Any]) -> RepoStatus:
    """Read whether CodeQL's default setup could run where the page could not tell (one GET)."""
    waiting = any(
        f.kind is FindingKind.CHECK_NOT_REPORTING and f.detail == CODEQL_CHECK
        for f in status.findings
    )
    if not waiting or status.codeql is not None:
        return status
    owner, name = status.repo.split("/", 1)
    languages = reported_from(node).codeql_languages
    return with_codeql(status, await ensure_codeql(gh, owner, name, languages, writes=False))


async def _reconcile_rest(
    gh: Gateway,
    reconciler: Reconciler,
    repos: list[tuple[str, Reported | None]],
    write: WriteMode,
    result: ScanResult,
    progress: Progress | None,
    done: int,
) -> None:
    """Reconcile through REST what GraphQL could not judge, or what must be written."""
    gate = asyncio.Semaphore(REST_CONCURRENCY)
    total = done + len(repos)

    async def one(full: str, reported: Reported | None) -> None:
        nonlocal done
        owner, name = full.split("/", 1)
        async with gate:
            status = await reconciler.reconcile(gh, owner, name, write=write, reported=reported)
        if status.reason != REPO_GONE:  # deleted or moved since the page listed it
            result.statuses.append(status)
        done += 1
        if progress is not None:
            progress(done, total)

    await asyncio.gather(*(one(full, reported) for full, reported in repos))
