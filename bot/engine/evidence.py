"""Read an org's record for a period cheaply, and judge each promise from it.

Protection now comes from one read-only scan. History comes through GraphQL: many
repositories per request (aliases), 100 commits a page, each commit with the merged
pull request it came from, that PR's reviews and its head's checks. Settings come
through a few REST reads. A part that fails marks only the promises that need it
`unknown` for the repositories concerned; the run goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.clock import Clock, SystemClock
from bot.core.evidence import (
    BranchHistory,
    Commit,
    OrgFacts,
    PromiseResult,
    Pull,
    RepoFacts,
    Review,
    Unknown,
    judge,
    weekly,
)
from bot.core.evidence_render import EvidenceReport
from bot.core.models import FindingKind, Outcome, RepoStatus
from bot.core.policy import (
    ORG_POLICY_REPO,
    POLICY_PATH,
    TEST_CHECK,
    Policy,
    WriteMode,
    load_policy_file,
    repo_policy,
)
from bot.engine.policies import PolicyStore
from bot.engine.reconcile import Reconciler
from bot.engine.scan import scan_org
from bot.github.errors import Forbidden, GitHubError, NotFound
from bot.github.gateway import Gateway
from bot.store.statuses import StatusStore

log = logging.getLogger(__name__)

BATCH = 10  # repository branches per GraphQL request
CONCURRENCY = 4  # GraphQL requests in flight (GitHub allows 100 concurrent requests)
REST_CONCURRENCY = 8
SECURITY_FILES = ("SECURITY.md", ".github/SECURITY.md", "docs/SECURITY.md")
CODEQL_WORKFLOWS = (".github/workflows/codeql.yml", ".github/workflows/codeql-analysis.yml")
NEEDS_ADMINISTRATION = "needs the App's repository Administration permission (read)"
NEEDS_ORG_ADMINISTRATION = (
    "two_factor_requirement_enabled is shown to org owners only: use an org owner's "
    "token, or grant the App the organization Administration permission (read)"
)

Progress = Callable[[int, int], None]

COMMIT_FRAGMENT = """
fragment EvidenceCommit on Commit {
  oid
  url
  committedDate
  author { name user { login } }
  associatedPullRequests(first: 1) {
    nodes {
      number
      url
      mergedAt
      baseRefName
      author { login }
      reviews(first: 30) { nodes { state submittedAt author { login } } }
      commits(last: 1) {
        nodes {
          commit {
            statusCheckRollup {
              contexts(first: 30) {
                nodes {
                  __typename
                  ... on CheckRun { name conclusion }
                  ... on StatusContext { context state }
                }
              }
            }
          }
        }
      }
    }
  }
}
"""

REPO_FRAGMENT = """
fragment EvidenceRepo on Repository {
  nameWithOwner
  url
  isPrivate
  policyFile: object(expression: "HEAD:.github/repo-protection.yml") { ... on Blob { text } }
  security0: object(expression: "HEAD:SECURITY.md") { __typename }
  security1: object(expression: "HEAD:.github/SECURITY.md") { __typename }
  security2: object(expression: "HEAD:docs/SECURITY.md") { __typename }
  codeql0: object(expression: "HEAD:.github/workflows/codeql.yml") { __typename }
  codeql1: object(expression: "HEAD:.github/workflows/codeql-analysis.yml") { __typename }
  collaborators(first: 100, affiliation: DIRECT) { edges { permission node { login } } }
}
"""


def history_query(size: int) -> str:
    """Return the query for `size` repository branches, one alias each."""
    names = ", ".join(
        f"$o{i}: String!, $n{i}: String!, $b{i}: String!, $a{i}: String" for i in range(size)
    )
    aliases = "\n".join(
        f"  r{i}: repository(owner: $o{i}, name: $n{i}) {{\n"
        f"    ...EvidenceRepo\n"
        f"    ref(qualifiedName: $b{i}) {{ target {{ ... on Commit {{\n"
        f"      history(since: $since, until: $until, first: 100, after: $a{i}) {{\n"
        f"        pageInfo {{ hasNextPage endCursor }}\n"
        f"        nodes {{ ...EvidenceCommit }}\n"
        f"      }}\n"
        f"    }} }} }}\n"
        f"  }}"
        for i in range(size)
    )
    head = f"query BulwarkEvidence($since: GitTimestamp!, $until: GitTimestamp!, {names}) {{"
    return (
        f"{head}\n  rateLimit {{ cost remaining }}\n{aliases}\n}}\n{REPO_FRAGMENT}{COMMIT_FRAGMENT}"
    )


@dataclass
class Unit:
    """One protected branch of one repository, read page by page."""

    repo: str  # owner/name
    branch: str
    after: str | None = None
    node: Mapping[str, Any] | None = None  # the repository fields, from the first page
    commits: list[Mapping[str, Any]] = field(default_factory=list)
    error: str | None = None
    done: bool = False


@dataclass
class Cost:
    """What reading the history cost."""

    graphql_requests: int = 0
    graphql_points: int = 0
    rest_requests: int = 0


@dataclass
class Evidence:
    """Everything `bulwark evidence` found for one org and period."""

    org: str
    since: str
    until: str
    repos: list[RepoFacts]
    org_facts: OrgFacts
    results: list[PromiseResult]
    excluded: list[tuple[str, str]]
    unsupported: list[tuple[str, str]]
    cost: Cost


async def gather_evidence(
    gh: Gateway,
    org: str,
    *,
    since: str,
    until: str,
    only: Iterable[str] | None = None,
    progress: Progress | None = None,
    clock: Clock | None = None,
) -> Evidence:
    """Read the org's record for [since, until] and judge every promise (read only)."""
    policies = PolicyStore()
    scan = await scan_org(
        gh,
        org,
        policies=policies,
        reconciler=Reconciler(policies, StatusStore(), clock or SystemClock()),
        write=WriteMode.NEVER,
        only=only,
    )
    org_policy = (await policies.org(gh, org)).policy
    in_scope = [
        s for s in scan.statuses if s.outcome in (Outcome.COMPLIANT, Outcome.DRIFTED, Outcome.FIXED)
    ]
    excluded = [
        (s.repo, s.reason or "excluded") for s in scan.statuses if s.outcome is Outcome.EXCLUDED
    ]
    unsupported = [
        (s.repo, s.reason or s.outcome.value)
        for s in scan.statuses
        if s.outcome in (Outcome.UNSUPPORTED, Outcome.ERROR)
    ]
    cost = Cost(graphql_requests=scan.graphql_pages, graphql_points=scan.graphql_points)
    units = [Unit(s.repo, b) for s in in_scope for b in s.branches]
    await read_history(gh, units, since, until, cost, progress)
    repos = await _repo_facts(gh, in_scope, units, org_policy, since, until, cost)
    org_facts = await _org_facts(gh, org, cost, org_policy.max_org_owners)
    return Evidence(
        org, since, until, repos, org_facts, judge(org_facts, repos), excluded, unsupported, cost
    )


# ---- history ---------------------------------------------------------------------------


async def read_history(
    gh: Gateway,
    units: list[Unit],
    since: str,
    until: str,
    cost: Cost,
    progress: Progress | None = None,
) -> None:
    """Read every unit's commits in the period, BATCH units a request, until none has more."""
    gate = asyncio.Semaphore(CONCURRENCY)
    total = len(units)

    async def one(batch: list[Unit]) -> None:
        async with gate:
            await _read_batch(gh, batch, since, until, cost)

    while pending := [u for u in units if not u.done]:
        batches = [pending[i : i + BATCH] for i in range(0, len(pending), BATCH)]
        await asyncio.gather(*(one(b) for b in batches))
        if progress is not None:
            progress(sum(1 for u in units if u.done), total)


async def _read_batch(gh: Gateway, batch: list[Unit], since: str, until: str, cost: Cost) -> None:
    variables: dict[str, Any] = {"since": since, "until": until}
    for i, unit in enumerate(batch):
        owner, name = unit.repo.split("/", 1)
        variables.update(
            {
                f"o{i}": owner,
                f"n{i}": name,
                f"b{i}": f"refs/heads/{unit.branch}",
                f"a{i}": unit.after,
            }
        )
    cost.graphql_requests += 1
    try:
        answer = await gh.graphql_answer(history_query(len(batch)), **variables)
    except GitHubError as exc:  # the whole request failed: these units only are unknown
        for unit in batch:
            unit.error, unit.done = f"GitHub would not answer: {exc}", True
        return
    data = answer.data or {}
    cost.graphql_points += int((data.get("rateLimit") or {}).get("cost") or 0)
    failed = _errors_by_alias(answer.errors)
    for i, unit in enumerate(batch):
        _take_page(unit, data.get(f"r{i}"), failed.get(f"r{i}"))


def _errors_by_alias(errors: Sequence[Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for error in errors:
        path = error.get("path") if isinstance(error, Mapping) else None
        if path:
            found.setdefault(str(path[0]), str(error.get("message", "error")))
    return found


def _take_page(unit: Unit, node: Mapping[str, Any] | None, error: str | None) -> None:
    if node is None or error is not None:
        unit.error, unit.done = error or "GitHub returned no data for this repository", True
        return
    if unit.node is None:
        unit.node = node
    ref = node.get("ref")
    target = (ref or {}).get("target") or {}
    found = target.get("history")
    if found is None:  # the branch is gone: nothing reached it in the period
        unit.done = True
        return
    unit.commits.extend(found.get("nodes") or [])
    info = found.get("pageInfo") or {}
    unit.after = info.get("endCursor")
    unit.done = not info.get("hasNextPage")


def branch_history(unit: Unit, since: str, until: str) -> BranchHistory:
    """Turn a unit's commit nodes into commits and the pull requests merged into its branch."""
    commits: list[Commit] = []
    pulls: dict[int, Pull] = {}
    for node in unit.commits:
        pull = _merged_pull(node, unit.branch)
        number = None
        if pull is not None:
            number = pull.number
            if since <= pull.merged_at <= until:
                pulls.setdefault(pull.number, pull)
        commits.append(
            Commit(
                str(node["oid"]),
                str(node.get("url") or ""),
                _author(node),
                str(node["committedDate"]),
                number,
            )
        )
    return BranchHistory(
        unit.branch, tuple(commits), tuple(sorted(pulls.values(), key=lambda p: p.number))
    )


def _author(node: Mapping[str, Any]) -> str:
    author = node.get("author") or {}
    user = author.get("user") or {}
    return str(user.get("login") or author.get("name") or "unknown")


def _login(actor: Mapping[str, Any] | None) -> str:
    return str((actor or {}).get("login") or "ghost")


def _merged_pull(node: Mapping[str, Any], branch: str) -> Pull | None:
    for pr in (node.get("associatedPullRequests") or {}).get("nodes") or []:
        if pr and pr.get("mergedAt") and pr.get("baseRefName") == branch:
            reviews = tuple(
                Review(_login(r.get("author")), str(r.get("state")), r.get("submittedAt"))
                for r in (pr.get("reviews") or {}).get("nodes") or []
            )
            return Pull(
                int(pr["number"]), str(pr.get("url") or ""), _login(pr.get("author")),
                str(pr["mergedAt"]), branch, reviews, _checks(pr),
            )  # fmt: skip
    return None


def _checks(pr: Mapping[str, Any]) -> tuple[tuple[str, str | None], ...]:
    heads = (pr.get("commits") or {}).get("nodes") or []
    commit = (heads[-1] or {}).get("commit") or {} if heads else {}
    rollup = commit.get("statusCheckRollup") or {}
    found: list[tuple[str, str | None]] = []
    for context in (rollup.get("contexts") or {}).get("nodes") or []:
        if context.get("__typename") == "StatusContext":
            found.append((str(context.get("context")), context.get("state")))
        else:
            found.append((str(context.get("name")), context.get("conclusion")))
    return tuple(found)


# ---- repository and org facts ------------------------------------------------------------


async def _repo_facts(
    gh: Gateway,
    statuses: Sequence[RepoStatus],
    units: Sequence[Unit],
    org_policy: Policy,
    since: str,
    until: str,
    cost: Cost,
) -> list[RepoFacts]:
    by_repo: dict[str, list[Unit]] = {}
    for unit in units:
        by_repo.setdefault(unit.repo, []).append(unit)
    gate = asyncio.Semaphore(REST_CONCURRENCY)

    async def one(status: RepoStatus) -> RepoFacts:
        async with gate:
            return await _one_repo(
                gh, status, by_repo.get(status.repo, []), org_policy, since, until, cost
            )

    return list(await asyncio.gather(*(one(s) for s in statuses)))


async def _one_repo(
    gh: Gateway,
    status: RepoStatus,
    units: Sequence[Unit],
    org_policy: Policy,
    since: str,
    until: str,
    cost: Cost,
) -> RepoFacts:
    node = next((u.node for u in units if u.node is not None), None) or {}
    failed = next((u.error for u in units if u.error), None)
    history: tuple[BranchHistory, ...] | Unknown = (
        Unknown(failed) if failed else tuple(branch_history(u, since, until) for u in units)
    )
    private = bool(node.get("isPrivate"))
    owner, name = status.repo.split("/", 1)
    workflow = any(node.get(f"codeql{i}") for i in range(len(CODEQL_WORKFLOWS)))
    return RepoFacts(
        repo=status.repo,
        url=str(node.get("url") or f"https://github.com/{status.repo}"),
        private=private,
        test_check=_test_check(org_policy, node, status.repo),
        history=history,
        protection=_protection(status, _test_check(org_policy, node, status.repo)),
        codeql_configured=True if workflow else await _default_setup(gh, owner, name, cost),
        security_policy=any(node.get(f"security{i}") for i in range(len(SECURITY_FILES))),
        private_reporting=None if private else await _private_reporting(gh, owner, name, cost),
        admins=_admins(node) if node else Unknown(failed or "not read"),
    )


def _test_check(org_policy: Policy, node: Mapping[str, Any], full: str) -> str:
    text = (node.get("policyFile") or {}).get("text")
    policy = org_policy
    if isinstance(text, str) and not full.lower().endswith(f"/{ORG_POLICY_REPO}"):
        doc, errors = load_policy_file(text, f"{full}:{POLICY_PATH}")
        if doc is not None and not errors:
            policy, _ = repo_policy(org_policy, doc, f"{full}:{POLICY_PATH}")
    return policy.test_check or TEST_CHECK


def _protection(status: RepoStatus, test_check: str) -> tuple[str, ...]:
    """Name what protection lacks now: admins_not_enforced, check_missing:<check>, …"""
    found: list[str] = []
    for finding in status.findings:
        if finding.kind is FindingKind.UNPROTECTED:
            found += ["admins_not_enforced", f"check_missing:{test_check}"]
        elif finding.kind is FindingKind.ADMINS_NOT_ENFORCED:
            found.append("admins_not_enforced")
        elif finding.kind is FindingKind.CHECK_MISSING and finding.detail:
            found.append(f"check_missing:{finding.detail}")
        elif finding.kind is FindingKind.CHECK_NOT_REPORTING and finding.detail:
            # Held back until it reports: not required now, so it blocks no failing merge.
            found.append(f"check_not_reporting:{finding.detail}")
    return tuple(dict.fromkeys(found))


def _admins(node: Mapping[str, Any]) -> tuple[str, ...]:
    edges = (node.get("collaborators") or {}).get("edges") or []
    return tuple(_login(e.get("node")) for e in edges if e and e.get("permission") == "ADMIN")


async def _default_setup(gh: Gateway, owner: str, name: str, cost: Cost) -> bool | Unknown:
    cost.rest_requests += 1
    try:
        found = await gh.default_setup(owner, name)
    except Forbidden as exc:
        if "not accessible" in str(exc).lower():
            return Unknown(f"code scanning default setup: {NEEDS_ADMINISTRATION}")
        return False  # code scanning cannot run here (no Advanced Security on a private repo)
    except GitHubError as exc:
        return Unknown(f"code scanning default setup could not be read: {exc}")
    return bool(found and found.get("state") == "configured")


async def _private_reporting(gh: Gateway, owner: str, name: str, cost: Cost) -> bool | Unknown:
    cost.rest_requests += 1
    try:
        return await gh.private_vulnerability_reporting(owner, name)
    except Forbidden:
        return Unknown(f"private vulnerability reporting: {NEEDS_ADMINISTRATION}")
    except GitHubError as exc:
        return Unknown(f"private vulnerability reporting could not be read: {exc}")


async def _org_facts(gh: Gateway, org: str, cost: Cost, max_owners: int) -> OrgFacts:
    cost.rest_requests += 2 + len(SECURITY_FILES[:2])
    two_factor: bool | Unknown
    try:
        found = await gh.org(org)
        value = (found or {}).get("two_factor_requirement_enabled")
        two_factor = Unknown(NEEDS_ORG_ADMINISTRATION) if value is None else bool(value)
    except GitHubError as exc:
        two_factor = Unknown(f"the org could not be read: {exc}")
    owners: tuple[str, ...] | Unknown
    try:
        owners = tuple(str(m["login"]) for m in await gh.org_owners(org))
    except GitHubError as exc:
        owners = Unknown(f"the org's owners could not be read: {exc}")
    policy = await _org_security_policy(gh, org)
    return OrgFacts(org, two_factor, owners, security_policy=policy, max_owners=max_owners)


async def _org_security_policy(gh: Gateway, org: str) -> bool:
    """Tell whether the org's `.github` repository holds a default SECURITY.md."""
    for path in SECURITY_FILES[:2]:
        try:
            if await gh.file_text(org, ORG_POLICY_REPO, path) is not None:
                return True
        except (NotFound, Forbidden):
            return False
    return False


def report_of(evidence: Evidence, computed_at: str) -> EvidenceReport:
    """Return what the renderers show of an evidence run."""
    return EvidenceReport(
        org=evidence.org,
        since=evidence.since,
        until=evidence.until,
        computed_at=computed_at,
        results=tuple(evidence.results),
        in_scope=tuple(r.repo for r in evidence.repos),
        excluded=tuple(evidence.excluded),
        unsupported=tuple(evidence.unsupported),
        weeks=tuple(weekly(evidence.repos, evidence.since, evidence.until, evidence.results)),
    )
