"""The org-wide scan: GraphQL pages of 100 repositories, REST only where GraphQL cannot answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bot.core.graphql_protection import classic_from_rule, rule_for_branch
from bot.core.models import Outcome, RepoStatus
from bot.core.plan import empty_repository, plan, policy_invalid
from bot.core.policy import (
    Policy,
    PolicyError,
    excluded_reason,
    load_policy_file,
    protected_branches,
    repo_policy,
)
from bot.core.protection import BranchProtection, parse_rules
from bot.engine.policies import ORG_POLICY_REPO, POLICY_PATH, PolicyStore
from bot.engine.reconcile import REPO_GONE, Reconciler
from bot.github.errors import NotFound, QueryFailed, RateLimited
from bot.github.gateway import Gateway

PAGE_SIZE = 100
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
"""

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
class Verdict:
    """What the GraphQL page says of one repository: a status, or 'ask REST'."""

    status: RepoStatus | None
    needs_rest: bool = False


def _has_patterns(policy: Policy) -> bool:
    return any(b != "default" for b in policy.branches)


def _connection(node: Mapping[str, Any], name: str) -> tuple[list[Any], int]:
    found = node.get(name) or {}
    nodes = list(found.get("nodes") or [])
    return nodes, int(found.get("totalCount") or len(nodes))


def judge(
    node: Mapping[str, Any], org_policy: Policy, org_errors: Iterable[PolicyError]
) -> Verdict:
    """Judge one GraphQL repository node against the policy, with no I/O."""
    full = str(node["nameWithOwner"])
    name = str(node["name"])
    policy, errors = _policy_for(node, org_policy, full)
    errors = [*org_errors, *errors]
    reason = excluded_reason(
        policy, name=name, archived=bool(node.get("isArchived")), fork=bool(node.get("isFork"))
    )
    if reason is not None:
        return Verdict(RepoStatus(full, Outcome.EXCLUDED, mode=policy.mode, reason=reason))
    if node.get("isEmpty") or not node.get("defaultBranchRef"):
        return Verdict(empty_repository(policy.mode, full))
    if _needs_rest(node) or (_has_patterns(policy) and node.get("refs") is None):
        # A repo file added branch patterns the page did not fetch branches for.
        return Verdict(None, needs_rest=True)
    rules, _ = _connection(node, "branchProtectionRules")
    default = str(node["defaultBranchRef"]["name"])
    refs = [str(r["name"]) for r in _connection(node, "refs")[0]] or [default]
    return Verdict(_status(full, policy, errors, default, refs, rules))


def _needs_rest(node: Mapping[str, Any]) -> bool:
    """Tell whether GraphQL cannot answer for this repository and REST must.

    Rulesets: GraphQL does not say which rules reach a branch. A private
    repository without rules may sit on a plan without branch protection
    (REST answers 403, a `not_supported` finding). Truncated lists: the page
    did not show every rule or branch.
    """
    rules, rule_count = _connection(node, "branchProtectionRules")
    refs, ref_count = _connection(node, "refs")
    _, rulesets = _connection(node, "rulesets")
    if rulesets or rule_count > len(rules) or ref_count > len(refs):
        return True
    return bool(node.get("isPrivate")) and not rules


def _status(
    full: str,
    policy: Policy,
    errors: list[PolicyError],
    default: str,
    refs: list[str],
    rules: list[Mapping[str, Any]],
) -> RepoStatus:
    findings = [policy_invalid(e) for e in errors]
    branches = tuple(protected_branches(policy, default, refs))
    report = replace(policy, mode="report")
    for branch in branches:
        rule = rule_for_branch(rules, branch)
        classic = classic_from_rule(rule) if rule is not None else None
        protection = BranchProtection(branch, classic, parse_rules([], {}))
        findings.extend(plan(report, protection, default_branch=default).findings)
    outcome = Outcome.DRIFTED if findings else Outcome.COMPLIANT
    return RepoStatus(full, outcome, tuple(findings), policy.mode, branches=branches)


def _policy_for(
    node: Mapping[str, Any], org_policy: Policy, full: str
) -> tuple[Policy, list[PolicyError]]:
    if str(node["name"]).lower() == ORG_POLICY_REPO:
        return org_policy, []  # its file is the org policy itself
    text = ((node.get("policyFile") or {}) or {}).get("text")
    if not isinstance(text, str):
        return org_policy, []
    filename = f"{full}:{POLICY_PATH}"
    doc, errors = load_policy_file(text, filename)
    if errors or doc is None:
        return org_policy, errors
    policy, weakening = repo_policy(org_policy, doc, filename)
    return policy, weakening


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
    apply: bool | None = False,
    only: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> ScanResult:
    """Scan an org; `apply=None` writes as the policy's mode says, `True` always, `False` never.

    `only` names repositories (`name` or `owner/name`) to limit the scan to.
    """
    result = ScanResult(org)
    waits = gh.client.rate_limit_waits
    wanted = None if only is None else {n.lower().rsplit("/", 1)[-1] for n in only}
    org_policy = await policies.org(gh, org)
    rest: list[str] = []
    done = total = 0
    try:
        async for page in repository_pages(gh, org, with_refs=_has_patterns(org_policy.policy)):
            result.graphql_pages += 1
            result.graphql_points += page.cost
            total = len(wanted) if wanted is not None else page.total
            for node in page.nodes:
                if wanted is not None and str(node["name"]).lower() not in wanted:
                    continue
                verdict = judge(node, org_policy.policy, org_policy.errors)
                if verdict.needs_rest or _writes(verdict, apply):
                    rest.append(str(node["nameWithOwner"]))
                elif verdict.status is not None:
                    status = replace(verdict.status, private=bool(node.get("isPrivate", True)))
                    result.statuses.append(status)
                    reconciler.statuses.record(status)
                    done += 1
            if progress is not None:
                progress(done, max(total, done + len(rest)))
    except RateLimited:
        result.delayed = True
        raise
    result.rest_repositories = len(rest)
    await _reconcile_rest(gh, reconciler, rest, apply, result, progress, done)
    result.delayed = gh.client.rate_limit_waits > waits  # waited for a reset, then went on
    result.statuses.sort(key=lambda s: s.repo.lower())
    return result


async def _reconcile_rest(
    gh: Gateway,
    reconciler: Reconciler,
    repos: list[str],
    apply: bool | None,
    result: ScanResult,
    progress: Progress | None,
    done: int,
) -> None:
    """Reconcile through REST what GraphQL could not judge, or what must be written."""
    gate = asyncio.Semaphore(REST_CONCURRENCY)
    enforce = None if apply is None else apply
    total = done + len(repos)

    async def one(full: str) -> None:
        nonlocal done
        owner, name = full.split("/", 1)
        async with gate:
            status = await reconciler.reconcile(gh, owner, name, enforce=enforce)
        if status.reason != REPO_GONE:  # deleted or moved since the page listed it
            result.statuses.append(status)
        done += 1
        if progress is not None:
            progress(done, total)

    await asyncio.gather(*(one(full) for full in repos))


def _writes(verdict: Verdict, apply: bool | None) -> bool:
    """Tell whether a drifted repository goes on to the REST reconcile (which writes)."""
    status = verdict.status
    if status is None or status.outcome is not Outcome.DRIFTED or apply is False:
        return False
    return apply is True or status.mode == "enforce"
