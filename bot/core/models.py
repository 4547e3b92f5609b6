"""Plain data shared by the pure core, the engine and the renderers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.policy import Mode


class FindingKind(StrEnum):
    """The drift vocabulary (DESIGN.md section 2)."""

    UNPROTECTED = "unprotected"
    REVIEWS_MISSING = "reviews_missing"
    REVIEWS_TOO_FEW = "reviews_too_few"
    CHECK_MISSING = "check_missing"
    ADMINS_NOT_ENFORCED = "admins_not_enforced"
    FORCE_PUSH_ALLOWED = "force_push_allowed"
    DELETION_ALLOWED = "deletion_allowed"
    DIRECT_PUSH = "direct_push"
    POLICY_INVALID = "policy_invalid"
    NOT_SUPPORTED = "not_supported"
    NO_PERMISSION = "no_permission"
    EMPTY_REPOSITORY = "empty_repository"
    BYPASS_UNKNOWN = "bypass_unknown"
    CHECK_NOT_REPORTING = "check_not_reporting"  # required as soon as it reports
    CODEQL_UNAVAILABLE = "codeql_unavailable"  # default setup cannot run here
    UNREADABLE = "unreadable"


# Checks Bulwark does not require yet because requiring them would block every merge.
WAITING = frozenset({FindingKind.CHECK_NOT_REPORTING, FindingKind.CODEQL_UNAVAILABLE})

# Findings a protection write can repair; the rest are facts to report.
REPAIRABLE = frozenset(
    {
        FindingKind.UNPROTECTED,
        FindingKind.REVIEWS_MISSING,
        FindingKind.REVIEWS_TOO_FEW,
        FindingKind.CHECK_MISSING,
        FindingKind.ADMINS_NOT_ENFORCED,
        FindingKind.FORCE_PUSH_ALLOWED,
        FindingKind.DELETION_ALLOWED,
        # Classic protection with enforce_admins binds admins whatever a hidden list says.
        FindingKind.BYPASS_UNKNOWN,
    }
)


@dataclass(frozen=True)
class Finding:
    """One way a repository falls short of the policy, with a sentence a person can act on.

    `message` says what is wrong and which promise it breaks; `remedy` says what
    to do (or, once Bulwark acted, what it did). `branch` is None for findings
    about the whole repository. `detail` names the check for `check_missing`,
    the commit for `direct_push`, the file and line for `policy_invalid`, the
    rulesets (ids, comma-separated) for `bypass_unknown`.
    `actor` is the login that caused it (a protection change's sender, a pusher).
    """

    kind: FindingKind
    message: str
    remedy: str = ""
    branch: str | None = None
    detail: str | None = None
    actor: str | None = None


class Outcome(StrEnum):
    """What became of one repository in one reconciliation."""

    COMPLIANT = "compliant"  # met the policy, nothing written
    FIXED = "fixed"  # drifted; Bulwark wrote protection and it now complies
    DRIFTED = "drifted"  # drifted and left so (report mode, or the write failed)
    EXCLUDED = "excluded"  # archived, fork, or named in `exclude.repositories`
    UNSUPPORTED = "unsupported"  # not_supported / no_permission / empty_repository
    ERROR = "error"  # could not be read at all (GitHub failure, bug)


@dataclass(frozen=True)
class RepoStatus:
    """The result of reconciling one repository, as reports and comments show it."""

    repo: str  # "owner/name"
    outcome: Outcome
    findings: tuple[Finding, ...] = ()
    mode: Mode = Mode.ENFORCE
    fixed_at: str | None = None  # ISO 8601 UTC, when Bulwark's write succeeded
    reason: str | None = None  # why excluded / unsupported / error
    branches: tuple[str, ...] = field(default=())  # branches the policy covered
    # Unknown visibility counts as private: never named where the public can read.
    private: bool = True
    codeql: str | None = None  # a `CodeQLState` when the policy requires CodeQL


@dataclass(frozen=True)
class DirectPush:
    """A commit that reached a protected branch without a reviewed pull request."""

    repo: str  # "owner/name"
    branch: str
    sha: str
    pusher: str  # login
    at: str  # ISO 8601 UTC
    forced: bool = False
