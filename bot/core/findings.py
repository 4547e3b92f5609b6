"""Every finding's sentences: what is wrong, which promise it breaks, and what to do.

A finding's `message` says what is wrong and why it matters; its `remedy` what
Bulwark will do or what a person can do. Both are plain text (the renderers
escape them). This is the one place that says what the report, the check run
and the comment tell about each kind of drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from bot.core.models import Finding, FindingKind, Outcome, RepoStatus
from bot.core.policy import POLICY_PATH, TEST_CHECK, Mode, Policy, PolicyError
from bot.core.reporting import CODEQL_CHECK, CodeQLState, Unavailable

# Short reasons, grouped and counted in the report; the findings hold the full sentences.
UNSUPPORTED_REASONS = {
    FindingKind.NOT_SUPPORTED: "GitHub offers no branch protection for it (plan or visibility)",
    FindingKind.NO_PERMISSION: "Bulwark may not change its protection",
}

# Why a pushed commit counts as a direct push (the end of the finding's message).
PUSH_COMMIT_UNKNOWN = "GitHub no longer knows the commit, so its review cannot be shown"
PUSH_UNREVIEWED = "its pull request was merged without an approving review by someone else"
PUSH_FORCED = "the branch was force-pushed"


# --- drift of a branch's protection ---------------------------------------------


def drift(
    policy: Policy,
    branch: str,
    kind: FindingKind,
    detail: str | None,
    actor: str | None,
    *,
    writes: bool,
    enforce_with: str = "classic",
) -> Finding:
    """Return the finding for one gap; `writes` says whether Bulwark repairs it now."""
    if kind is FindingKind.BYPASS_UNKNOWN:
        message, action = _bypass_unknown(branch, detail, enforce_with)
    else:
        message, action = _what(policy, branch, kind, detail)
    if writes:
        remedy = f"Bulwark will {action}."
    else:
        remedy = f"Ask an admin to {action}, or run /protection fix."
    return Finding(kind, message, remedy, branch=branch, detail=detail, actor=actor)


def _plural(n: int) -> str:
    return f"{n} approving review" + ("" if n == 1 else "s")


def _what(policy: Policy, branch: str, kind: FindingKind, detail: str | None) -> tuple[str, str]:
    """Return (what is wrong and which promise it breaks, the action that repairs it)."""
    n = _plural(policy.required_approving_review_count)
    if kind is FindingKind.UNPROTECTED:
        return (
            f"{branch} has no branch protection, so anyone with write access can push to it "
            "directly, rewrite its history or delete it.",
            f"protect {branch} as the policy says ({n}, the required checks, "
            "for administrators too)",
        )
    if kind is FindingKind.REVIEWS_MISSING:
        return (
            f"{branch} does not require a pull request review, so code can reach it without "
            "anyone else approving it.",
            f"require {n} on {branch}",
        )
    if kind is FindingKind.REVIEWS_TOO_FEW:
        return _reviews_sentence(branch, n, detail)
    if kind is FindingKind.CHECK_MISSING:
        return _check_sentence(policy, branch, detail)
    return _SENTENCES[kind](branch)


def _bypass_unknown(branch: str, detail: str | None, enforce_with: str) -> tuple[str, str]:
    which = f"org ruleset {detail}" if detail else "an org ruleset"
    # GitHub shows a ruleset's bypass_actors only to callers with write access to it.
    message = (
        f"Who may bypass {which} on {branch} is hidden from Bulwark (GitHub shows it only "
        "with organization_administration: write), so it cannot prove admins are bound."
    )
    if enforce_with == "ruleset":
        return message, (
            f"require the policy on {branch} in Bulwark's own ruleset, which nobody may "
            "bypass, so admins are bound whatever that list says"
        )
    return message, (
        f"add classic protection including administrators on {branch}, which binds them "
        "whatever that list says"
    )


def _reviews_sentence(branch: str, n: str, detail: str | None) -> tuple[str, str]:
    if detail == "dismiss_stale_reviews":
        return (
            f"{branch} keeps approvals after new commits are pushed, so changes made after the "
            "review can merge unreviewed.",
            f"dismiss stale approvals on {branch} when new commits are pushed",
        )
    if detail == "require_code_owner_reviews":
        return (
            f"{branch} does not require a code owner's review, so changes to owned files can "
            "merge without their owners approving.",
            f"require code owner review on {branch}",
        )
    return (
        f"{branch} requires fewer approving reviews than the policy's {n}, so fewer people than "
        "promised check each change.",
        f"require {n} on {branch}",
    )


def _check_sentence(policy: Policy, branch: str, detail: str | None) -> tuple[str, str]:
    if detail is None:
        return (
            f"{branch} does not require branches to be up to date before merging, so a change "
            "can merge without being tested against the latest code.",
            f"require branches to be up to date before merging into {branch}",
        )
    pins = {c.context: c.app_id for c in policy.checks}
    source = f" from app {pins[detail]}" if pins.get(detail) is not None else ""
    return (
        f"{branch} does not require the check {detail!r}{source}, so a change can merge "
        "without it passing.",
        f"require the check {detail!r}{source} on {branch}",
    )


_SENTENCES: dict[FindingKind, Callable[[str], tuple[str, str]]] = {
    FindingKind.ADMINS_NOT_ENFORCED: lambda b: (
        f"Administrators can bypass the protection of {b}, so the rules can be skipped "
        "without it being seen.",
        f"enforce the protection of {b} for administrators too",
    ),
    FindingKind.FORCE_PUSH_ALLOWED: lambda b: (
        f"{b} allows force pushes, so its history can be rewritten and reviewed commits replaced.",
        f"block force pushes to {b}",
    ),
    FindingKind.DELETION_ALLOWED: lambda b: (
        f"{b} can be deleted, so its history and protection can be lost.",
        f"block deletion of {b}",
    ),
}


# --- checks nothing reports yet ----------------------------------------------------


def not_reporting(policy: Policy, branch: str, check: str, reporting: tuple[str, ...]) -> Finding:
    """Return the finding for a policy check Bulwark does not require because nothing reports it."""
    others = (
        f"Checks that do report here: {', '.join(repr(n) for n in reporting)}."
        if reporting
        else "No check reports on this repository at all."
    )
    message = (
        f"Nothing on this repository has reported the check {check!r}, so requiring it on "
        f"{branch} now would block every merge. {others}"
    )
    if check == (policy.test_check or TEST_CHECK):
        remedy = (
            f"Name the CI job that runs the tests {check!r}, or set "
            f"required_status_checks.test_check in {POLICY_PATH} to the name it reports; "
            "Bulwark requires it as soon as it reports."
        )
    else:
        remedy = f"Add a CI job that reports {check!r}; Bulwark requires it as soon as it reports."
    return Finding(FindingKind.CHECK_NOT_REPORTING, message, remedy, branch=branch, detail=check)


_CODEQL_NEXT = {
    CodeQLState.ENABLED: "Bulwark turned on CodeQL's default setup; it requires CodeQL once "
    "the first analysis has reported.",
    CodeQLState.PENDING: "CodeQL's default setup is on and its first analysis has not reported "
    "yet; Bulwark requires CodeQL once it has.",
    CodeQLState.AVAILABLE: "Turn on CodeQL's default setup (Settings, Code security) or run "
    "/protection fix; Bulwark requires CodeQL once it reports.",
}

_UNAVAILABLE_REMEDY = {
    Unavailable.NO_LANGUAGE: "Nothing to analyse yet; Bulwark looks again when the code changes.",
    Unavailable.ADVANCED_SETUP: "Make the CodeQL workflow report a check named 'CodeQL' on "
    "pull requests, or switch the repository to default setup.",
    Unavailable.NO_CODE_SECURITY: "Enable GitHub Code Security for the repository, or make it "
    "public; Bulwark then turns on default setup.",
    Unavailable.ARCHIVED: "Unarchive the repository to scan it.",
    Unavailable.NO_PERMISSION: "Grant the App administration write permission on this "
    "repository; Bulwark then turns on default setup.",
}


def codeql_finding(
    finding: Finding, state: CodeQLState, reason: Unavailable | None = None
) -> Finding:
    """Say what CodeQL's default setup does about a `check_not_reporting` finding for CodeQL."""
    if finding.detail != CODEQL_CHECK or finding.kind is not FindingKind.CHECK_NOT_REPORTING:
        return finding
    if state is CodeQLState.UNAVAILABLE and reason is not None:
        message = (
            f"CodeQL's default setup cannot run on this repository: {reason.value}. Nothing "
            f"reports CodeQL, so requiring it on {finding.branch} would block every merge."
        )
        return Finding(
            FindingKind.CODEQL_UNAVAILABLE,
            message,
            _UNAVAILABLE_REMEDY[reason],
            branch=finding.branch,
            detail=CODEQL_CHECK,
        )
    remedy = _CODEQL_NEXT.get(state)
    return (
        finding
        if remedy is None
        else Finding(
            finding.kind, finding.message, remedy, branch=finding.branch, detail=finding.detail
        )
    )


# --- facts about the repository ---------------------------------------------------


def policy_invalid(error: PolicyError) -> Finding:
    """Turn a refused policy file's error into a `policy_invalid` finding."""
    return Finding(
        FindingKind.POLICY_INVALID,
        str(error),
        "Fix the file; the org policy applies.",
        detail=error.file,
    )


def empty_repository(mode: Mode, repo: str) -> RepoStatus:
    """Return the status of a repository with no branches yet (nothing to protect)."""
    empty = Finding(
        FindingKind.EMPTY_REPOSITORY,
        "The repository has no branches yet, so there is nothing to protect.",
        "Bulwark protects it after the first push.",
    )
    return RepoStatus(repo, Outcome.UNSUPPORTED, (empty,), mode, reason=empty.message)


def unreadable(repo: str, mode: Mode, reason: str) -> RepoStatus:
    """Return the status of a repository GitHub would not answer for (the reason is given)."""
    finding = Finding(
        FindingKind.UNREADABLE,
        f"GitHub would not answer for this repository ({reason}), so Bulwark cannot tell "
        "whether it keeps the promises.",
        "Bulwark reads it again at the next resync; if this persists, check the App's "
        "permissions (a change awaiting the owner's approval) and the org's IP allow list.",
    )
    return RepoStatus(repo, Outcome.ERROR, (finding,), mode, reason=f"unreadable: {reason}")


def not_supported(branch: str, answer: str) -> Finding:
    """Return the finding for a repository GitHub offers no branch protection for."""
    return Finding(
        FindingKind.NOT_SUPPORTED,
        f"GitHub does not offer branch protection for this repository ({answer}), "
        "so none of the promises can be enforced on it.",
        "Make the repository public or move the org to a plan with branch protection; "
        "Bulwark tries again when the repository changes.",
        branch=branch,
    )


def no_permission(branch: str, answer: str, *, archived: bool) -> Finding:
    """Return the finding for a protection write GitHub refused (403)."""
    if archived:
        message = "The repository is archived and read-only, so its protection cannot change."
    else:
        message = (
            f"Bulwark may not change this repository's protection (GitHub answered: {answer})."
        )
    return Finding(
        FindingKind.NO_PERMISSION,
        message,
        "Grant the App administration permission on this repository; "
        "Bulwark tries again when the repository changes.",
        branch=branch,
    )


def held_back(finding: Finding, settings: tuple[str, ...]) -> Finding:
    """Say why Bulwark left a gap open: the only write that repairs it would drop settings."""
    which = "; ".join(settings)
    return replace(
        finding,
        remedy=(
            f"Bulwark did not write: the protection of {finding.branch} has {which}, which "
            "GitHub's REST API cannot carry, so rewriting it would drop them. Repair this in "
            "the branch protection settings, or move the rule to a ruleset."
        ),
    )


def unsupported_reason(finding: Finding) -> str:
    """Return the short reason the report groups an unsupported repository under."""
    return UNSUPPORTED_REASONS.get(finding.kind, finding.message)


# --- direct pushes ----------------------------------------------------------------


def push_not_merged(branch: str) -> str:
    """Say why a pushed commit counts as direct: no merged pull request into `branch`."""
    return f"it is not part of any pull request merged into {branch}"


def direct_push(branch: str, sha: str, pusher: str, why: str) -> Finding:
    """Return the finding for a commit that reached `branch` without a reviewed pull request."""
    return Finding(
        FindingKind.DIRECT_PUSH,
        f"Commit {sha[:7]} reached {branch} without a reviewed pull request: {why}.",
        "Review the change after the fact, and check who may push to this branch.",
        branch=branch,
        detail=sha,
        actor=pusher,
    )
