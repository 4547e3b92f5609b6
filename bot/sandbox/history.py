"""The sandbox's history: commits over time, merged pull requests, reviews, checks, org settings.

Seeding helpers write into `State`; the GraphQL nodes below read it back the way
GitHub's schema shapes it (`Ref.target` → `Commit.history`, `associatedPullRequests`,
`PullRequest.reviews`, `statusCheckRollup`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.clock import isoformat
from bot.sandbox.state import ACTIONS_APP, CODEQL_APP, CODEQL_CHECK, JSON, Account, Repo, State

WEB = "https://github.com"


# ---- seeding ---------------------------------------------------------------------------


def commit_at(
    state: State, owner: str, repo: str, branch: str, *, author: str, at: float, message: str
) -> str:
    """Push one commit on top of a branch at time `at` (a direct push); return its sha."""
    sha = state.add_commit(owner, repo, branch, message=message, author=author)
    state.repo(owner, repo).commits[sha]["date"] = isoformat(at)
    return sha


def open_pull(
    state: State, owner: str, repo: str, *, author: str, at: float, base: str = "main", title: str
) -> int:
    """Open a pull request whose one commit branches off `base`'s head at time `at`."""
    r = state.repo(owner, repo)
    head = state.new_sha()
    number = state.add_pull(
        owner, repo, head_sha=head, base=base, author=author, title=title, head_ref=f"pr-{head[:7]}"
    )
    r.commits[head]["date"] = isoformat(at)
    r.pulls[number]["created_at"] = isoformat(at)
    return number


def review_at(
    state: State, owner: str, repo: str, number: int, *, user: str, at: float, review: str
) -> JSON:
    """Submit a review (APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED) at time `at`."""
    found = state.add_review(owner, repo, number, user=user, state=review)
    found["submitted_at"] = isoformat(at)
    return found


def check_at(
    state: State, owner: str, repo: str, sha: str, *, name: str, conclusion: str, at: float
) -> JSON:
    """Complete a check run on a commit at time `at` (CodeQL by its app, others by Actions)."""
    # github-advanced-security reports the `CodeQL` results check, Actions the jobs.
    app_id = state.app_id_of(CODEQL_APP if name == CODEQL_CHECK else ACTIONS_APP)
    body = {"name": name, "head_sha": sha, "conclusion": conclusion, "status": "completed"}
    run = state.add_check_run(owner, repo, body, app_id=app_id)
    run["started_at"] = run["completed_at"] = isoformat(at)
    return run


def merge_pull(
    state: State,
    owner: str,
    repo: str,
    number: int,
    *,
    by: str,
    at: float,
    method: str = "squash",
) -> str:
    """Merge a pull request at time `at` (squash: one new commit; merge: a merge commit)."""
    r = state.repo(owner, repo)
    pull = r.pulls[number]
    base_head = r.branches[pull["base"]]
    message = f"{pull['title']} (#{number})"
    sha = state.add_commit(owner, repo, pull["base"], message=message, author=pull["author"])
    if method == "merge":
        r.commits[sha]["parents"] = [base_head, pull["head_sha"]]
        r.commits[sha]["message"] = f"Merge pull request #{number}"
    r.commits[sha]["date"] = isoformat(at)
    pull.update(merged=True, state="closed", merge_commit_sha=sha)
    pull.update(merged_at=isoformat(at), merged_by=by)
    return sha


def set_org_settings(
    state: State, org: str, *, two_factor: bool, owners: Iterable[str] = ()
) -> Account:
    """Set whether an org requires two-factor authentication, and add owners."""
    account = state.account(org)
    account.two_factor_requirement_enabled = two_factor
    for login in owners:
        state.add_org_owner(org, login)
    return account


# ---- reading -----------------------------------------------------------------------------


def _when(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def history(repo: Repo, head: str, since: str | None, until: str | None) -> list[str]:
    """Return the commits reachable from `head` in [since, until], newest first, like git log."""
    low = _when(since) if since else float("-inf")
    high = _when(until) if until else float("inf")
    seen: set[str] = set()
    pending = [head]
    while pending:
        sha = pending.pop()
        if sha in seen or sha not in repo.commits:
            continue
        seen.add(sha)
        pending.extend(repo.commits[sha]["parents"])
    found = [s for s in seen if low <= _when(repo.commits[s]["date"]) <= high]
    return sorted(found, key=lambda s: (_when(repo.commits[s]["date"]), s), reverse=True)


def associated_pulls(repo: Repo, sha: str) -> list[JSON]:
    """Return the merged pull requests that brought a commit in, else open ones holding it.

    "The merged Pull Request that introduced the commit to the repository. If the
    commit is not present in the default branch, additionally returns open Pull
    Requests associated with the commit" (GitHub's GraphQL schema, Commit.associatedPullRequests;
    https://docs.github.com/graphql/reference/objects#commit).
    """
    holding = [
        p
        for p in repo.pulls.values()
        if sha in (p["head_sha"], p.get("merge_commit_sha"), *p.get("commits", ()))
    ]
    merged = [p for p in holding if p.get("merged")]
    return merged or [p for p in holding if p["state"] == "open"]


def check_runs_on(repo: Repo, sha: str) -> list[JSON]:
    """Return the check runs reported on a commit, oldest first."""
    return [run for run in repo.check_runs.values() if run.get("head_sha") == sha]


# ---- whole histories ----------------------------------------------------------------------

DAY = 86400.0
AUTHORS = ("bob", "dave", "frank")
REVIEWERS = ("carol", "erin")
COMPLIANT_PROTECTION: JSON = {
    "required_status_checks": {
        "strict": False,
        "checks": [{"context": "CodeQL"}, {"context": "test"}],
    },
    "enforce_admins": True,
    "required_pull_request_reviews": {"required_approving_review_count": 1},
    "restrictions": None,
    "allow_force_pushes": False,
    "allow_deletions": False,
}
# Ruleset rules meeting the default policy, as GitHub's REST API returns them.
COMPLIANT_RULES: list[JSON] = [
    {
        "type": "pull_request",
        "parameters": {
            "required_approving_review_count": 1,
            "dismiss_stale_reviews_on_push": False,
            "require_code_owner_review": False,
            "require_last_push_approval": False,
            "required_review_thread_resolution": False,
        },
    },
    {
        "type": "required_status_checks",
        "parameters": {
            "strict_required_status_checks_policy": False,
            "required_status_checks": [{"context": "CodeQL"}, {"context": "test"}],
        },
    },
    {"type": "non_fast_forward"},
    {"type": "deletion"},
]
SECURITY_MD = (
    "# Security\n\nReport vulnerabilities privately through GitHub's security advisories.\n"
)


def backdate(state: State, owner: str, repo: str, at: float) -> None:
    """Date every commit a repository has so far at `at` (seeding happens 'now')."""
    for commit in state.repo(owner, repo).commits.values():
        commit["date"] = isoformat(at)


def reviewed_change(
    state: State,
    owner: str,
    repo: str,
    *,
    at: float,
    index: int = 0,
    approver: str | None = None,
    test: str = "success",
    codeql: bool = True,
) -> int:
    """Open, check, approve and squash-merge a pull request at time `at`; return its number."""
    author = AUTHORS[index % len(AUTHORS)]
    number = open_pull(state, owner, repo, author=author, at=at - 3600, title=f"Change {index}")
    head = state.repo(owner, repo).pulls[number]["head_sha"]
    check_at(state, owner, repo, head, name="test", conclusion=test, at=at - 3000)
    if codeql:
        check_at(state, owner, repo, head, name="CodeQL", conclusion="success", at=at - 3000)
    reviewer = approver or REVIEWERS[index % len(REVIEWERS)]
    review_at(state, owner, repo, number, user=reviewer, at=at - 600, review="APPROVED")
    merge_pull(state, owner, repo, number, by=reviewer, at=at)
    return number


def compliant_repo(
    state: State,
    owner: str,
    name: str,
    *,
    created: float,
    codeql: bool = True,
    private: bool = False,
) -> Repo:
    """Create a repository protected as the policy asks, with CodeQL and private reporting."""
    repo = state.add_repo(owner, name, private=private)
    backdate(state, owner, name, created)
    state.set_protection(owner, name, "main", COMPLIANT_PROTECTION)
    configure_codeql(repo, codeql)
    repo.private_vulnerability_reporting = True
    return repo


def configure_codeql(repo: Repo, configured: bool) -> None:
    """Give a repository CodeQL's default setup, analysed already (or none)."""
    scanning = repo.code_scanning
    scanning.state = "configured" if configured else "not-configured"
    scanning.languages = ("python",) if configured else ()
    scanning.analysed = configured


def seed_history(
    state: State,
    org: str,
    *,
    now: float,
    busy: Iterable[str],
    direct_push: str,
    self_approved: str,
    failing_test: str,
    no_codeql: str,
    days: int = 90,
    without_codeql: Iterable[str] = (),
) -> JSON:
    """Give an org's existing repositories `days` of history that keeps every promise but four.

    Every public repository gets CodeQL default setup (but `no_codeql`) and private
    vulnerability reporting; the org requires two-factor authentication and its
    `.github` holds a SECURITY.md. Each `busy` repository receives one reviewed,
    checked pull request a week. Planted: a direct push on `direct_push`, a merge
    approved only by its author on `self_approved`, a merge with a failing test on
    `failing_test`, and on `no_codeql` a merge without CodeQL. `without_codeql` names
    repositories left without default setup (and no history of it). Return what was planted.
    """
    start = now - days * DAY
    account = set_org_settings(state, org, two_factor=True)
    for login in (*AUTHORS, *REVIEWERS):
        state.add_org_member(org, login)
    for repo in account.repos.values():
        backdate(state, org, repo.name, start - 30 * DAY)
        repo.private_vulnerability_reporting = not repo.private
        unscanned = {no_codeql.lower(), *(n.lower() for n in without_codeql)}
        configured = repo.name.lower() not in unscanned and not repo.private
        configure_codeql(repo, configured)
    if state.find_repo(org, ".github") is not None:
        state.add_file(org, ".github", "SECURITY.md", SECURITY_MD)
    for i, name in enumerate(busy):
        for week in range(days // 7):
            reviewed_change(state, org, name, at=start + (week * 7 + 1 + i % 6) * DAY, index=week)
    return {
        "direct_push": commit_at(
            state, org, direct_push, "main", author="dave", at=now - 20 * DAY,
            message="Hotfix straight to main",
        ),
        "self_approved": reviewed_change(
            state, org, self_approved, at=now - 15 * DAY, index=1, approver="dave"
        ),
        "failing_test": reviewed_change(
            state, org, failing_test, at=now - 10 * DAY, index=2, test="failure"
        ),
        "no_codeql": reviewed_change(
            state, org, no_codeql, at=now - 5 * DAY, index=3, codeql=False
        ),
    }  # fmt: skip


def seed_evidence_org(state: State, org: str, *, now: float, days: int = 90) -> JSON:
    """Seed an org whose history over `days` keeps every promise but four planted exceptions.

    web: a direct push; api: a self-approved merge; docs: a merge with a failing test;
    lib: no CodeQL (not configured, and its one pull request merged without an analysis).
    Return what was planted, for assertions.
    """
    if org.lower() not in state.accounts:
        state.add_org(org)
    set_org_settings(state, org, two_factor=True, owners=["alice"])
    if state.find_repo(org, ".github") is None:
        state.add_repo(org, ".github")
    for name in (".github", "web", "api", "docs", "lib"):
        if state.find_repo(org, name) is None:
            state.add_repo(org, name)
        state.set_protection(org, name, "main", COMPLIANT_PROTECTION)
    return seed_history(
        state, org, now=now, days=days, busy=("web", "api", "docs"),
        direct_push="web", self_approved="api", failing_test="docs", no_codeql="lib",
    )  # fmt: skip
