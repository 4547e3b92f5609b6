"""Judge each SDLC promise over a period from plain facts read from GitHub's record.

No I/O and no clock: the engine gathers `OrgFacts` and one `RepoFacts` per repository
in scope; `judge` turns them into one `PromiseResult` per promise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from bot.core.markdown import counted

T = TypeVar("T")

CODEQL_CHECK = "CodeQL"
DEFAULT_MAX_ORG_OWNERS = 5
PASSING = frozenset({"SUCCESS", "NEUTRAL", "SKIPPED"})
FAILING = frozenset({"FAILURE", "TIMED_OUT", "CANCELLED", "STARTUP_FAILURE", "ERROR"})


class Status(StrEnum):
    """How a promise stands over the period."""

    MET = "met"
    NOT_MET = "not_met"
    PARTIAL = "partial"  # met wherever it could be read; some repositories could not be
    UNKNOWN = "unknown"  # could not be read at all


ICONS = {Status.MET: "✅", Status.NOT_MET: "❌", Status.PARTIAL: "🟡", Status.UNKNOWN: "❔"}


class PromiseId(StrEnum):
    """The promises, in the order they are shown."""

    CHANGES_VIA_PULL_REQUEST = "changes_via_pull_request"
    INDEPENDENT_REVIEW = "independent_review"
    CODEQL_EVERY_CHANGE = "codeql_every_change"
    TESTS_EVERY_PR = "tests_every_pr"
    FAILING_TESTS_BLOCK_MERGE = "failing_tests_block_merge"
    NO_ADMIN_BYPASS = "no_admin_bypass"
    MFA_REQUIRED = "mfa_required"
    FEW_ADMINS = "few_admins"
    VULNERABILITY_DISCLOSURE = "vulnerability_disclosure"


TITLES = {
    PromiseId.CHANGES_VIA_PULL_REQUEST: (
        "Every change to a protected branch came through a pull request"
    ),
    PromiseId.INDEPENDENT_REVIEW: "At least one other person approved before merge",
    PromiseId.CODEQL_EVERY_CHANGE: "CodeQL analyses every change",
    PromiseId.TESTS_EVERY_PR: "The test suite ran on every pull request",
    PromiseId.FAILING_TESTS_BLOCK_MERGE: "No merge with failing tests",
    PromiseId.NO_ADMIN_BYPASS: "Nobody, administrators included, bypasses the rules",
    PromiseId.MFA_REQUIRED: "Two-factor authentication is required",
    PromiseId.FEW_ADMINS: "Only a few people administer",
    PromiseId.VULNERABILITY_DISCLOSURE: "Vulnerabilities can be reported privately",
}


@dataclass(frozen=True)
class Review:
    """One review of a pull request."""

    author: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
    submitted_at: str | None


@dataclass(frozen=True)
class Pull:
    """A pull request merged into a protected branch, with its head's checks."""

    number: int
    url: str
    author: str
    merged_at: str
    base: str
    reviews: tuple[Review, ...] = ()
    checks: tuple[tuple[str, str | None], ...] = ()  # (name, conclusion) on the head commit


@dataclass(frozen=True)
class Commit:
    """A commit on a protected branch in the period, and the merged pull request it came from."""

    sha: str
    url: str
    author: str
    date: str
    pull: int | None  # number of the merged PR into this branch, None for a direct push


@dataclass(frozen=True)
class BranchHistory:
    """A protected branch's commits and merged pull requests in the period."""

    branch: str
    commits: tuple[Commit, ...] = ()
    pulls: tuple[Pull, ...] = ()


@dataclass(frozen=True)
class Unknown:
    """A fact that could not be read, and what would make it readable."""

    reason: str


@dataclass(frozen=True)
class RepoFacts:
    """What GitHub's record says about one repository in scope."""

    repo: str  # owner/name
    url: str
    private: bool
    test_check: str = "test"
    history: tuple[BranchHistory, ...] | Unknown = ()
    # Protection now, as findings of the scan: admins_not_enforced, check_missing:<name>.
    protection: tuple[str, ...] | Unknown = ()
    codeql_configured: bool | Unknown = False
    security_policy: bool = False  # SECURITY.md in the repository
    private_reporting: bool | Unknown | None = None  # None: not asked (private repository)
    admins: tuple[str, ...] | Unknown = ()  # direct repository admins


@dataclass(frozen=True)
class OrgFacts:
    """The org's settings."""

    org: str
    two_factor: bool | Unknown
    owners: tuple[str, ...] | Unknown
    security_policy: bool = False  # SECURITY.md in the org's .github repository
    max_owners: int = DEFAULT_MAX_ORG_OWNERS


@dataclass(frozen=True)
class Exception_:
    """One exception to a promise, with a link to it on GitHub."""

    repo: str
    kind: str
    detail: str
    url: str
    sha: str | None = None
    author: str | None = None
    date: str | None = None


@dataclass(frozen=True)
class PromiseResult:
    """One promise judged: status, one line, figures, exceptions and what could not be read."""

    id: PromiseId
    status: Status
    summary: str
    figures: dict[str, int | str | list[str]] = field(default_factory=dict)
    exceptions: tuple[Exception_, ...] = ()
    unknown: tuple[tuple[str, str], ...] = ()  # (repository or org, reason)

    @property
    def title(self) -> str:
        """Return the promise as a customer reads it."""
        return TITLES[self.id]


def judge(org: OrgFacts, repos: Sequence[RepoFacts]) -> list[PromiseResult]:
    """Judge every promise, in their order."""
    return [
        changes_via_pull_request(repos),
        independent_review(repos),
        codeql_every_change(repos),
        tests_every_pr(repos),
        failing_tests_block_merge(repos),
        no_admin_bypass(repos),
        mfa_required(org),
        few_admins(org, repos),
        vulnerability_disclosure(org, repos),
    ]


def status_of(exceptions: Sequence[object], unknown: Sequence[object], judged: int) -> Status:
    """Exceptions fail a promise; unread repositories make it partial, or unknown if all were."""
    if exceptions:
        return Status.NOT_MET
    if unknown and not judged:
        return Status.UNKNOWN
    return Status.PARTIAL if unknown else Status.MET


def _histories(
    repos: Iterable[RepoFacts],
) -> tuple[list[tuple[RepoFacts, BranchHistory]], list[tuple[str, str]]]:
    found: list[tuple[RepoFacts, BranchHistory]] = []
    unknown: list[tuple[str, str]] = []
    for repo in repos:
        if isinstance(repo.history, Unknown):
            unknown.append((repo.repo, repo.history.reason))
        else:
            found.extend((repo, branch) for branch in repo.history)
    return found, unknown


def _pulls(
    repos: Iterable[RepoFacts],
) -> tuple[list[tuple[RepoFacts, Pull]], list[tuple[str, str]]]:
    histories, unknown = _histories(repos)
    return [(repo, pull) for repo, branch in histories for pull in branch.pulls], unknown


def _judged(repos: Sequence[RepoFacts], unknown: Sequence[tuple[str, str]]) -> int:
    return len({r.repo for r in repos} - {name for name, _ in unknown})


Figures = dict[str, int | str | list[str]]


def _result(
    promise: PromiseId,
    summary: str,
    figures: Figures,
    exceptions: Sequence[Exception_],
    unknown: Sequence[tuple[str, str]],
    judged: int,
) -> PromiseResult:
    """Return a promise's result, its status read from what fell short and what is unknown."""
    status = status_of(exceptions, unknown, judged)
    return PromiseResult(promise, status, summary, figures, tuple(exceptions), tuple(unknown))


def _repos_short(
    repos: Iterable[RepoFacts],
    fact: Callable[[RepoFacts], T | Unknown],
    short: Callable[[RepoFacts, T], bool],
    kind: str,
    detail: Callable[[RepoFacts], str],
    url: Callable[[RepoFacts], str] = lambda repo: repo.url,
) -> tuple[list[Exception_], list[tuple[str, str]]]:
    """Name the repositories whose `fact` falls `short`, and those where it is unknown."""
    exceptions: list[Exception_] = []
    unknown: list[tuple[str, str]] = []
    for repo in repos:
        known = fact(repo)
        if isinstance(known, Unknown):
            unknown.append((repo.repo, known.reason))
        elif short(repo, known):
            exceptions.append(Exception_(repo.repo, kind, detail(repo), url(repo)))
    return exceptions, unknown


def direct_pushes(repos: Iterable[RepoFacts]) -> list[Exception_]:
    """Return every commit on a protected branch that no merged pull request brought."""
    histories, _ = _histories(repos)
    return [
        Exception_(
            repo.repo,
            "direct_push",
            f"{commit.sha[:7]} pushed to {branch.branch}",
            commit.url,
            commit.sha,
            commit.author,
            commit.date,
        )
        for repo, branch in histories
        for commit in branch.commits
        if commit.pull is None
    ]


def changes_via_pull_request(repos: Sequence[RepoFacts]) -> PromiseResult:
    """Judge: every commit on a protected branch came from a merged pull request."""
    histories, unknown = _histories(repos)
    commits = sum(len(b.commits) for _, b in histories)
    exceptions = direct_pushes(repos)
    summary = f"{commits - len(exceptions)} of {commits} commits came through a pull request"
    figures: Figures = {
        "commits": commits,
        "via_pull_request": commits - len(exceptions),
        "direct_pushes": len(exceptions),
    }
    return _result(
        PromiseId.CHANGES_VIA_PULL_REQUEST,
        summary,
        figures,
        exceptions,
        unknown,
        _judged(repos, unknown),
    )


def _before(a: str | None, b: str) -> bool:
    return a is not None and _time(a) <= _time(b)


def approvals(pull: Pull) -> list[str]:
    """Return who approved a pull request before its merge, its author excluded."""
    return [
        r.author
        for r in pull.reviews
        if r.state == "APPROVED"
        and r.author.lower() != pull.author.lower()
        and _before(r.submitted_at, pull.merged_at)
    ]


def unreviewed_merges(repos: Iterable[RepoFacts]) -> list[Exception_]:
    """Return every merged pull request without an approval by someone else."""
    pulls, _ = _pulls(repos)
    found = []
    for repo, pull in pulls:
        if approvals(pull):
            continue
        own = any(
            r.state == "APPROVED" and r.author.lower() == pull.author.lower() for r in pull.reviews
        )
        kind = "self_approved" if own else "no_approval"
        what = "approved only by its author" if own else "merged without an approval"
        found.append(
            Exception_(
                repo.repo,
                kind,
                f"#{pull.number} {what}",
                pull.url,
                author=pull.author,
                date=pull.merged_at,
            )
        )
    return found


def independent_review(repos: Sequence[RepoFacts]) -> PromiseResult:
    """Judge: each merged pull request was approved by someone else before it merged."""
    pulls, unknown = _pulls(repos)
    exceptions = unreviewed_merges(repos)
    reviewed = len(pulls) - len(exceptions)
    summary = f"{reviewed} of {len(pulls)} merged pull requests approved by another person"
    figures: Figures = {"merged_pull_requests": len(pulls), "independently_approved": reviewed}
    judged = _judged(repos, unknown)
    return _result(PromiseId.INDEPENDENT_REVIEW, summary, figures, exceptions, unknown, judged)


def _conclusion(pull: Pull, name: str) -> str | bool | None:
    """Return a check's conclusion on the head (None: pending), or False when absent."""
    found = [c for n, c in pull.checks if n == name]
    if not found:
        return False
    if any(c in FAILING for c in found if c):
        return next(c for c in found if c in FAILING)
    return found[-1]


def _pull_exception(repo: RepoFacts, pull: Pull, kind: str, detail: str) -> Exception_:
    return Exception_(
        repo.repo,
        kind,
        f"#{pull.number} {detail}",
        pull.url,
        author=pull.author,
        date=pull.merged_at,
    )


def codeql_every_change(repos: Sequence[RepoFacts]) -> PromiseResult:
    """Judge: CodeQL is configured everywhere and concluded successfully on each merged head."""
    exceptions, unknown = _repos_short(
        repos,
        lambda repo: repo.codeql_configured,
        lambda repo, configured: not configured,
        "codeql_not_configured",
        lambda repo: "no CodeQL default setup or workflow",
    )
    pulls, history_unknown = _pulls(repos)
    for repo, pull in pulls:
        conclusion = _conclusion(pull, CODEQL_CHECK)
        if conclusion is False:
            exceptions.append(
                _pull_exception(repo, pull, "codeql_missing", "merged without a CodeQL result")
            )
        elif conclusion not in PASSING:
            exceptions.append(
                _pull_exception(
                    repo,
                    pull,
                    "codeql_not_passing",
                    f"merged with CodeQL {str(conclusion or 'pending').lower()}",
                )
            )
    unknown = _merge_unknown(unknown, history_unknown)
    analysed = len(pulls) - sum(1 for e in exceptions if e.kind != "codeql_not_configured")
    configured = sum(1 for r in repos if r.codeql_configured is True)
    summary = (
        f"CodeQL configured on {configured} of {len(repos)} repositories; "
        f"passed on {analysed} of {len(pulls)} merged pull requests"
    )
    figures: Figures = {
        "repositories": len(repos),
        "configured": configured,
        "merged_pull_requests": len(pulls),
        "analysed": analysed,
    }
    judged = _judged(repos, unknown)
    return _result(PromiseId.CODEQL_EVERY_CHANGE, summary, figures, exceptions, unknown, judged)


def _merge_unknown(*groups: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for group in groups:
        for item in group:
            seen.setdefault(item, None)
    return list(seen)


def tests_every_pr(repos: Sequence[RepoFacts]) -> PromiseResult:
    """Judge: the repository's test check reported on each merged pull request's head."""
    pulls, unknown = _pulls(repos)
    exceptions = [
        _pull_exception(
            repo, pull, "tests_missing", f"merged without the {repo.test_check!r} check"
        )
        for repo, pull in pulls
        if _conclusion(pull, repo.test_check) is False
    ]
    ran = len(pulls) - len(exceptions)
    summary = f"the test check ran on {ran} of {len(pulls)} merged pull requests"
    figures: Figures = {"merged_pull_requests": len(pulls), "tested": ran}
    judged = _judged(repos, unknown)
    return _result(PromiseId.TESTS_EVERY_PR, summary, figures, exceptions, unknown, judged)


def failing_tests_block_merge(repos: Sequence[RepoFacts]) -> PromiseResult:
    """Judge: the test check is required now, and no pull request merged with it failing."""
    exceptions, unknown = _repos_short(
        repos,
        lambda repo: repo.protection,
        lambda repo, _: _test_not_required(repo),
        "tests_not_required",
        lambda repo: f"the {repo.test_check!r} check is not required",
    )
    pulls, history_unknown = _pulls(repos)
    failing = [
        _pull_exception(
            repo, pull, "merged_with_failing_tests", f"merged while {repo.test_check!r} had failed"
        )
        for repo, pull in pulls
        if _conclusion(pull, repo.test_check) in FAILING
    ]
    exceptions.extend(failing)
    unknown = _merge_unknown(unknown, history_unknown)
    required = sum(
        1 for r in repos if not isinstance(r.protection, Unknown) and not _test_not_required(r)
    )
    summary = (
        f"tests required on {required} of {len(repos)} repositories; "
        f"{counted(len(failing), 'merge')} with failing tests"
    )
    figures: Figures = {
        "repositories": len(repos),
        "tests_required": required,
        "merged_pull_requests": len(pulls),
        "merged_with_failing_tests": len(failing),
    }
    return _result(
        PromiseId.FAILING_TESTS_BLOCK_MERGE,
        summary,
        figures,
        exceptions,
        unknown,
        _judged(repos, unknown),
    )


def no_admin_bypass(repos: Sequence[RepoFacts]) -> PromiseResult:
    """Judge: admins are bound now, and nothing bypassed the rules in the period."""
    exceptions, unknown = _repos_short(
        repos,
        lambda repo: repo.protection,
        lambda repo, protection: "admins_not_enforced" in protection,
        "admins_not_enforced",
        lambda repo: "administrators are not bound by the rules",
    )
    bound = len(repos) - len(unknown) - len(exceptions)
    bypasses = [*direct_pushes(repos), *unreviewed_merges(repos)]
    exceptions.extend(bypasses)
    _, history_unknown = _histories(repos)
    unknown = _merge_unknown(unknown, history_unknown)
    summary = (
        f"administrators bound on {bound} of {len(repos)} repositories; "
        f"{len(bypasses)} bypasses seen"
    )
    figures: Figures = {
        "repositories": len(repos),
        "admins_bound": bound,
        "bypasses": len(bypasses),
    }
    judged = _judged(repos, unknown)
    return _result(PromiseId.NO_ADMIN_BYPASS, summary, figures, exceptions, unknown, judged)


def mfa_required(org: OrgFacts) -> PromiseResult:
    """Judge: the org requires two-factor authentication."""
    if isinstance(org.two_factor, Unknown):
        return PromiseResult(
            PromiseId.MFA_REQUIRED,
            Status.UNKNOWN,
            org.two_factor.reason,
            unknown=((org.org, org.two_factor.reason),),
        )
    url = f"https://github.com/organizations/{org.org}/settings/security"
    figures: dict[str, int | str | list[str]] = {
        "two_factor_requirement_enabled": "true" if org.two_factor else "false"
    }
    if org.two_factor:
        return PromiseResult(
            PromiseId.MFA_REQUIRED,
            Status.MET,
            "the org requires two-factor authentication",
            figures,
        )
    missing = Exception_(
        org.org, "two_factor_not_required", "two-factor authentication is not required", url
    )
    return PromiseResult(
        PromiseId.MFA_REQUIRED,
        Status.NOT_MET,
        "the org does not require two-factor authentication",
        figures,
        (missing,),
    )


def few_admins(org: OrgFacts, repos: Sequence[RepoFacts]) -> PromiseResult:
    """Judge: the org has at most `max_owners` owners; repository admins outside them are named."""
    if isinstance(org.owners, Unknown):
        return PromiseResult(
            PromiseId.FEW_ADMINS,
            Status.UNKNOWN,
            org.owners.reason,
            unknown=((org.org, org.owners.reason),),
        )
    owners = {o.lower() for o in org.owners}
    outside = sorted(
        f"{repo.repo}:{login}"
        for repo in repos
        if not isinstance(repo.admins, Unknown)
        for login in repo.admins
        if login.lower() not in owners
    )
    unknown = [(r.repo, r.admins.reason) for r in repos if isinstance(r.admins, Unknown)]
    exceptions: list[Exception_] = []
    if len(org.owners) > org.max_owners:
        url = f"https://github.com/orgs/{org.org}/people?query=role%3Aowner"
        exceptions.append(
            Exception_(
                org.org,
                "too_many_owners",
                f"{len(org.owners)} owners, more than {org.max_owners}",
                url,
            )
        )
    figures: dict[str, int | str | list[str]] = {
        "org_owners": len(org.owners),
        "owners": sorted(org.owners, key=str.lower),
        "max_org_owners": org.max_owners,
        "repository_admins_outside_owners": outside,
    }
    summary = (
        f"{counted(len(org.owners), 'org owner')} (limit {org.max_owners}); "
        f"{counted(len(outside), 'repository admin')} outside them"
    )
    status = Status.NOT_MET if exceptions else (Status.PARTIAL if unknown else Status.MET)
    return PromiseResult(
        PromiseId.FEW_ADMINS, status, summary, figures, tuple(exceptions), tuple(unknown)
    )


def vulnerability_disclosure(org: OrgFacts, repos: Sequence[RepoFacts]) -> PromiseResult:
    """Judge: each public repository has a SECURITY.md and private vulnerability reporting on."""
    public = [r for r in repos if not r.private]
    exceptions: list[Exception_] = []
    unknown: list[tuple[str, str]] = []
    for repo in public:
        if not (repo.security_policy or org.security_policy):
            exceptions.append(
                Exception_(
                    repo.repo,
                    "no_security_policy",
                    "no SECURITY.md (repository or org .github)",
                    repo.url,
                )
            )
        if isinstance(repo.private_reporting, Unknown):
            unknown.append((repo.repo, repo.private_reporting.reason))
        elif not repo.private_reporting:
            exceptions.append(
                Exception_(
                    repo.repo,
                    "private_reporting_disabled",
                    "private vulnerability reporting is off",
                    f"{repo.url}/security",
                )
            )
    covered = len(public) - len({e.repo for e in exceptions} | {u for u, _ in unknown})
    summary = f"{covered} of {len(public)} public repositories take private vulnerability reports"
    figures: dict[str, int | str | list[str]] = {
        "public_repositories": len(public),
        "covered": covered,
    }
    status = status_of(exceptions, unknown, len(public) - len(unknown))
    return PromiseResult(
        PromiseId.VULNERABILITY_DISCLOSURE,
        status,
        summary,
        figures,
        tuple(exceptions),
        tuple(unknown),
    )


# ---- the weekly chart's data -------------------------------------------------------------


@dataclass(frozen=True)
class Week:
    """Changes to protected branches in one week, and how many were exceptions."""

    start: str  # YYYY-MM-DD, a Monday
    changes: int
    exceptions: int


def weekly(
    repos: Sequence[RepoFacts], since: str, until: str, results: Sequence[PromiseResult]
) -> list[Week]:
    """Count commits per week of the period, and the commits or merges that were exceptions."""
    first = _monday(_time(since))
    last = _time(until)
    weeks: dict[str, list[int]] = {}
    day = first
    while day <= last:
        weeks[day.date().isoformat()] = [0, 0]
        day += timedelta(days=7)
    histories, _ = _histories(repos)
    for _, branch in histories:
        for commit in branch.commits:
            _bump(weeks, commit.date, 0)
    flagged = {(e.repo, e.date, e.detail) for r in results for e in r.exceptions if e.date}
    for _repo, date, _detail in flagged:
        _bump(weeks, date, 1)
    return [Week(start, n[0], n[1]) for start, n in weeks.items()]


def _bump(weeks: dict[str, list[int]], date: str, index: int) -> None:
    key = _monday(_time(date)).date().isoformat()
    if key in weeks:
        weeks[key][index] += 1


def _monday(moment: datetime) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def overall(results: Sequence[PromiseResult]) -> Status:
    """Return the worst status: not_met, then unknown, then partial, else met."""
    order: list[Status] = [Status.NOT_MET, Status.UNKNOWN, Status.PARTIAL, Status.MET]
    present = {r.status for r in results}
    return next((s for s in order if s in present), Status.MET)


def _test_not_required(repo: RepoFacts) -> bool:
    """Tell whether the test check is not required now: missing, or held back (not reporting)."""
    assert not isinstance(repo.protection, Unknown)
    return any(
        f"{kind}:{repo.test_check}" in repo.protection
        for kind in ("check_missing", "check_not_reporting")
    )
